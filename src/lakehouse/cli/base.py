"""What every sub-command shares: the one-line error for what a user can
fix, the date option's type, the process set-up and how a command runs."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

from lakehouse.config import apply_file_mode


class UserError(RuntimeError):
    """Something the user can fix; printed without a traceback."""


def day(text: str) -> date:
    """argparse type of a YYYY-MM-DD option."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def command(sub, name: str, help: str, description: str, func, timed: bool = True) -> argparse.ArgumentParser:
    """One sub-command: `help` is its line in `lakehouse --help`, `description`
    heads its own --help; `timed`: its wall time is printed when it ends."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(func=func, timed=timed)
    return p


def prepare_process() -> None:
    from lakehouse import logs

    logs.configure()   # our own progress lines at INFO; libraries at WARNING unless LAKEHOUSE_LOG_LEVEL=DEBUG
    apply_file_mode()


def run_command(command: str, func, args) -> int:
    """Run one command; a failure the user can act on is one line on stderr and exit code 2."""
    from lakehouse.lake.faults import LakehouseFault
    from lakehouse.lake.lakelock import LakeBusy
    from lakehouse.lake.spark import SparkSetupError
    from lakehouse.services.airflow_ui import AirflowUIError
    from lakehouse.services.embedded_pg import SetupError
    from lakehouse.services.engines import ServiceError
    from lakehouse.services.superset import SupersetError

    t0 = time.monotonic()
    try:
        func(args)
    except (UserError, SetupError, SparkSetupError, AirflowUIError, LakehouseFault, LakeBusy, ServiceError,
            SupersetError, ValueError, FileNotFoundError) as exc:
        print(f"lakehouse {command}: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "timed", True):
        print(f"[{command}] {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0
