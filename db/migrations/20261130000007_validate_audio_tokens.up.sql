-- Validates the check the audio tokens migration added NOT VALID: it reads
-- every run under a lock that lets runs keep being written.
ALTER TABLE ai_runs VALIDATE CONSTRAINT ai_runs_audio_input_tokens_check;
