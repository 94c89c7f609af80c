"""Spark job: publish what changed in silver since the last publish into PostgreSQL lake.*.

    PYTHONPATH=src python jobs/publish.py
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.spark) jobs/publish.py

Output, error lines and exit codes are those of `lakehouse publish`.
"""

from __future__ import annotations

import argparse
import sys

from lakehouse import cli


def parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="jobs/publish.py", description=cli.PUBLISH_DESCRIPTION)


def run(argv: list[str]):
    """The job in this process (build_marts' publish task): returns the Published tables; a failure raises."""
    return cli.cmd_publish(parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    return cli.run_job("publish", cli.cmd_publish, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
