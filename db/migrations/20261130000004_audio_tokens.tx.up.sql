-- Gemini charges audio input at its own rate: a model call records how
-- many of its input tokens were audio, so the owner's cost view prices them
-- apart. The check is added NOT VALID (no scan of every run while the table
-- is locked) and validated by the next migration, outside a transaction,
-- while runs keep being written.
ALTER TABLE ai_runs ADD COLUMN audio_input_tokens integer NOT NULL DEFAULT 0;
ALTER TABLE ai_runs ADD CONSTRAINT ai_runs_audio_input_tokens_check
    CHECK (audio_input_tokens >= 0 AND audio_input_tokens <= input_tokens) NOT VALID;
