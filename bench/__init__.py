"""Benchmarks of the ELT job against dlt's defaults and DuckDB's own JSON reader."""
