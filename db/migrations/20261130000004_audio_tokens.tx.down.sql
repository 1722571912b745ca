ALTER TABLE ai_runs DROP COLUMN audio_input_tokens;
