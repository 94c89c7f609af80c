"""`lakehouse` command line: set-up, generate, ingest, publish, marts, report, entity, demo.

Each sub-command is a thin wrapper over a module function, one module per
group (setup, jobs, serving, demo); errors a user can fix (a missing binary,
a taken port, a bad date) are printed as one clear line, not a stack trace.
"""

from __future__ import annotations

import argparse

from lakehouse.cli import demo, jobs, serving, setup
from lakehouse.cli.base import UserError, prepare_process, run_command
from lakehouse.cli.jobs import job_main

__all__ = ["UserError", "build_parser", "job_main", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakehouse", description=__doc__.splitlines()[0],
        epilog="LAKEHOUSE_LOG_LEVEL=DEBUG shows the libraries' INFO logs (py4j, Great Expectations, Airflow, "
               "dbt's per-node lines); by default only the project's progress and warnings are printed.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    setup.add(sub)
    try:
        from lakehouse.generator import cli as generator_cli
        generator_cli.add_parser(sub)
    except ImportError:   # the generator is optional for running the pipeline
        pass
    jobs.add(sub)
    serving.add(sub)
    demo.add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    prepare_process()
    args = build_parser().parse_args(argv)
    return run_command(args.command, args.func, args)
