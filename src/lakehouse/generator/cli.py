"""Command line: `lakehouse generate ...` (via add_parser/run) or `python -m lakehouse.generator ...`."""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

from .presets import PRESETS


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--preset", default="small", choices=list(PRESETS), help="world size (default: small)")
    p.add_argument("--start", type=date.fromisoformat, default=None, help="first day (default: the preset's)")
    p.add_argument("--days", type=int, default=None, help="business days to write (default: the preset's)")
    p.add_argument("--seed", type=int, default=7, help="random seed: the same seed writes the same files (default: 7)")
    p.add_argument("--out", type=Path, required=True, help="landing folder")
    p.add_argument("--truth", type=Path, default=None, help="answer file folder (default: <out>/../truth)")
    p.add_argument("--sources", default=None, help="comma-separated source codes (default: all 17)")
    p.add_argument("--no-truth-rows", action="store_true", help="write only summary.json and files.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "generate", help="write synthetic feeds and their answer file",
        description="Write a synthetic city's deliveries (every source, template and fault) into a landing "
                    "folder, and the answer file (what every file and row must become) beside it.")
    configure(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from .core import generate

    summary = generate(
        out=args.out,
        truth=args.truth,
        start=args.start,
        days=args.days,
        preset=args.preset,
        seed=args.seed,
        sources=args.sources.split(",") if args.sources else None,
        progress=not args.quiet,
        truth_rows=False if args.no_truth_rows else None,
    )
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "preset",
                    "seed",
                    "start",
                    "end",
                    "days",
                    "rows_written",
                    "bytes_written",
                    "seconds",
                )
            },
            ensure_ascii=False,
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="python -m lakehouse.generator", description=__doc__))
    return run(parser.parse_args(argv))
