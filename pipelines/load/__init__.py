"""Loading with dlt: the `@dlt.source` over the archive, the pipeline that extracts, normalizes
and loads into DuckDB `raw`, and what keeps it honest (known events, the warehouse as source of
truth for dlt's working folder, reconciliation, repair and housekeeping)."""
