"""Spark job: compact (OPTIMIZE), checkpoint and VACUUM every Delta table of the lake.

    PYTHONPATH=src python jobs/maintain.py --retain-days 30
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.spark) jobs/maintain.py

Output, error lines and exit codes are those of `lakehouse maintain`.
"""

from __future__ import annotations

import argparse
import sys

from lakehouse import cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="jobs/maintain.py", description=cli.MAINTAIN_DESCRIPTION)
    cli.add_maintain_arguments(p)
    return p


def run(argv: list[str]):
    """The job in this process (the maintain_lake task): returns the Maintained tables; a failure raises."""
    return cli.cmd_maintain(parser().parse_args(argv))


def main(argv: list[str] | None = None) -> int:
    return cli.run_job("maintain", cli.cmd_maintain, parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
