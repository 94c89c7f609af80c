"""A quiet console by default: the project's own progress lines (logger
"lakehouse") at INFO, every library (py4j, Great Expectations, Airflow, dbt,
SQLAlchemy...) at WARNING. LAKEHOUSE_LOG_LEVEL=DEBUG brings the libraries'
INFO lines back (and the project's DEBUG lines).

The project's logger has its own console handler, so its progress lines still
show when Airflow (dag.test in `make demo`) reconfigures logging at WARNING."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

from lakehouse.config import settings

# loggers that talk at INFO about things a user never acts on
NOISY_LIBRARIES = ("py4j", "great_expectations", "airflow", "dbt", "sqlalchemy", "alembic", "urllib3",
                   "botocore", "fsspec", "pyspark", "filelock")
_HANDLER_NAME = "lakehouse-console"


def verbose() -> bool:
    return settings().log_level == "DEBUG"


def library_level() -> str:
    """Level of every library's logger: INFO when debugging, else WARNING."""
    return "INFO" if verbose() else "WARNING"


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time of the record, not the
    stream of when the handler was made: a command run twice in one process
    (tests, notebooks) may have had its stderr swapped and closed since."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure() -> None:
    """Set up logging for a `lakehouse` command."""
    logging.basicConfig(level=library_level(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level())
    ours = logging.getLogger("lakehouse")
    ours.setLevel(settings().log_level)
    if not any(h.get_name() == _HANDLER_NAME for h in ours.handlers):
        handler = _CurrentStderr()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        ours.addHandler(handler)
    ours.propagate = False    # printed once, by our handler, whatever Airflow does to the root logger
    if not verbose():
        # the libraries' deprecation notices concern their own next versions, not the user
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning, message=r".*\bdeprecated\b")


def quiet_airflow() -> None:
    """Before Airflow is imported in this process (dag.test): its logging at WARNING
    unless debugging. A level the user set (AIRFLOW__LOGGING__LOGGING_LEVEL) wins."""
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", library_level())   # set for Airflow, which reads it


@contextmanager
def console_to_file(path: Path):
    """For the block, send this process's stdout and stderr (file descriptors 1
    and 2: Airflow's task output and its tracebacks, a JVM started meanwhile,
    the libraries' warnings) to `path`; yields a text stream to the console for
    the lines meant for the user. With LAKEHOUSE_LOG_LEVEL=DEBUG nothing is
    redirected: everything stays on the console."""
    if verbose():
        yield sys.stdout
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8", errors="replace")
    with open(path, "ab") as target:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
    try:
        yield console
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        console.close()
