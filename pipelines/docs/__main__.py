"""`python -m pipelines.docs` (`make docs`): write the model catalog to `data/docs/`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlt.common.configuration.exceptions import ConfigurationException

from pipelines.common.errors import ExpectedFailure
from pipelines.config import warehouse_location
from pipelines.docs.catalog import build_catalog
from pipelines.docs.site import write_site

DEFAULT_OUT = Path("data/docs")


def main(argv: list[str] | None = None) -> int:
    """Write the catalog; row counts and types come from the warehouse when it is built."""
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.docs",
        description="Write the model catalog (a static site) from transforms/ and the warehouse.",
    )
    parser.add_argument("--database", help="the warehouse (default: warehouse.database)")
    parser.add_argument("--data-path", help="a lake's data path (default: warehouse.data_path)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    args = parser.parse_args(argv)
    try:
        warehouse = warehouse_location(args.database, args.data_path)
        index = write_site(build_catalog(warehouse), args.out)
    except ConfigurationException as exc:
        print(f"error: configuration: {exc}", file=sys.stderr)
        return 2
    except ExpectedFailure as failure:
        print(f"error: {failure.message}", file=sys.stderr)
        return failure.exit_code
    print(f"docs: {index} ({len(list((args.out / 'models').glob('*.html')))} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
