"""Generate a deterministic archive of Pexip Engage webhook deliveries, plus a manifest of truths.

    python -m devtools.generate --events 3000 --out data/archive --seed 42 [--corrupt] \
        [--layout firehose]

The archive mimics what a webhook receiver stores: callback-request create/update events
and appointment events, re-delivered duplicates, out-of-order deliveries, and files of
many shapes (.jsonl/.ndjson/.json arrays/single .json, gzip, CRLF, BOM, blank lines) in
`YYYY/MM/DD` folders. `--corrupt` adds corrupt records of every kind (with reason codes)
and one non-event file. The manifest (default `<out>.manifest.json`, beside the archive,
never inside it) holds exact counts of what was written. Same seed => identical bytes.
`--layout firehose` writes what an AWS Data Firehose stream writes instead: extensionless
objects of records back to back in `YYYY/MM/dd/HH` folders (see generator/firehose.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from devtools.generator.engine import GeneratorConfig, generate

log = logging.getLogger("devtools.generate")


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print a one-line error and exit 2."""
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text}")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = _Parser(
        prog="python -m devtools.generate",
        description="Generate a deterministic archive of Pexip Engage webhook deliveries.",
    )
    p.add_argument(
        "--events",
        type=_positive_int,
        required=True,
        help="deliveries to write (records incl. duplicates and corrupt ones)",
    )
    p.add_argument("--out", type=Path, required=True, help="archive folder to create")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--corrupt",
        action="store_true",
        help="add corrupt records of every kind and one non-event file",
    )
    p.add_argument(
        "--start",
        type=_date,
        default=date(2025, 1, 6),
        help="first day of request creation, YYYY-MM-DD (default 2025-01-06)",
    )
    p.add_argument(
        "--days",
        type=_positive_int,
        default=30,
        help="days over which requests are created (default 30)",
    )
    p.add_argument(
        "--gzip-share",
        type=_share,
        default=0.3,
        help="probability that a file is gzip-compressed (default 0.3)",
    )
    p.add_argument(
        "--layout",
        choices=("receiver", "firehose"),
        default="receiver",
        help="receiver: files of every shape in YYYY/MM/DD (default); firehose: AWS Data "
        "Firehose objects (extensionless, records back to back) in YYYY/MM/dd/HH",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="manifest path (default <out>.manifest.json, beside the archive)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="delete --out first if it exists and is not empty"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    return p  # fmt: skip


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_output(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Path:
    """Validate --out/--manifest; return the manifest path. Exits 2 on a problem."""
    out = args.out.resolve()
    manifest = (args.manifest or Path(str(args.out).rstrip("/\\") + ".manifest.json")).resolve()
    if _is_inside(manifest, out):
        parser.error(f"--manifest must not be inside the archive folder {args.out}")
    if out.exists() and not out.is_dir():
        parser.error(f"--out exists and is not a folder: {args.out}")
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            parser.error(f"--out is not empty: {args.out} (use --overwrite to replace it)")
        protected = {Path("/"), Path.home().resolve(), Path.cwd().resolve()}
        if out in protected or _is_inside(Path.cwd().resolve(), out):
            parser.error(f"refusing to delete {args.out}")
    corrupt_total = GeneratorConfig(
        args.events, out, corrupt=args.corrupt, layout=args.layout
    ).corrupt_total()
    if args.corrupt and args.events < 2 * corrupt_total:
        parser.error(f"--corrupt needs --events >= {2 * corrupt_total}")
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Run the generator; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    manifest_path = _check_output(parser, args)
    if args.out.is_dir() and any(args.out.iterdir()):
        log.info("deleting %s (--overwrite)", args.out)
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = GeneratorConfig(
        events=args.events,
        out=args.out,
        seed=args.seed,
        corrupt=args.corrupt,
        start=args.start,
        days=args.days,
        gzip_share=args.gzip_share,
        layout=args.layout,
    )
    began = time.perf_counter()
    manifest = generate(cfg)
    elapsed = time.perf_counter() - began
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = manifest_path.with_name(manifest_path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    log.info("manifest written to %s", manifest_path)
    print(
        f"wrote {manifest['deliveries_written']} deliveries ({manifest['distinct_events']} events,"
        f" {manifest['duplicate_deliveries']} duplicates, {manifest['rejected_total']} corrupt)"
        f" in {manifest['files_total']} files to {args.out} in {elapsed:.1f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
