"""The warehouse itself: opening it (the one place that connects to DuckDB), the run lock, and
the files the job keeps beside it (`make clean`)."""
