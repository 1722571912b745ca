-- Nothing to undo: the check stays, as the audio tokens migration added it.
SELECT 1;
