"""Spark job: ingest deliveries, landing -> bronze -> silver (+ quarantine).

    PYTHONPATH=src python jobs/ingest.py --source huangpu --day 2017-04-14
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.spark) jobs/ingest.py \
        --start 2017-04-10 --end 2017-04-12

Output, error lines and exit codes are those of `lakehouse ingest`.
"""

from __future__ import annotations

import argparse
import sys

from lakehouse import cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jobs/ingest.py", description=cli.INGEST_DESCRIPTION)
    cli.add_ingest_arguments(p)
    return p


def run(argv: list[str]):
    """The job in this process (the ingest DAG tasks): returns the IngestReport; a failure raises."""
    return cli.cmd_ingest(parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    return cli.run_job("ingest", cli.cmd_ingest, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
