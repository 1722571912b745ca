-- Gemini charges audio input at its own rate: a model call records how
-- many of its input tokens were audio, so the owner's cost view prices them
-- apart.
ALTER TABLE ai_runs ADD COLUMN audio_input_tokens integer NOT NULL DEFAULT 0
    CHECK (audio_input_tokens >= 0 AND audio_input_tokens <= input_tokens);
