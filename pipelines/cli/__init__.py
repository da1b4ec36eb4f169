"""Command-line helpers of `python -m pipelines.run`: the progress line and the summary."""
