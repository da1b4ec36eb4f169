"""ELT job: archived Pexip Engage webhook deliveries -> dlt -> DuckDB raw -> staging -> marts."""
