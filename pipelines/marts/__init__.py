"""Building the marts: the runner of the SQL files in `transforms/` (staging, intermediate,
marts), their settings, the data checks, and the pseudonymization key's verifier."""
