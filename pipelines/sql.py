"""`python -m pipelines.sql` (`make sql`): the venv's DuckDB CLI on the job's warehouse,
read-only (see `pipelines.cli.sql`)."""

from __future__ import annotations

import sys

from pipelines.cli.sql import main

if __name__ == "__main__":
    sys.exit(main())
