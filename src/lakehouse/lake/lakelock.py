"""One writer per lake: a lock file beside a local lake, taken by every
ingest (and, separately, every publish), so that a second run waits for the
first instead of racing it on the same Delta tables.

The lock is an flock(2) on `<lake>.ingest.lock` / `<lake>.publish.lock`: the
kernel drops it when its holder dies, even by kill -9, so a crash never
leaves a stale lock. The file also says who holds it (pid, host, since), for
the message the waiting run prints. A lake on s3a:// has no local file to
lock: there the Airflow pool `lake_writers` (one slot) serialises the DAGs,
and a run started outside Airflow at the same time fails on Delta's conflict
check with a clear message (see faults.explain) and is undone by the next run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from lakehouse.config import settings

log = logging.getLogger(__name__)


class LakeBusy(RuntimeError):
    """Another run holds the lake's lock; str() names it."""


def lock_path(purpose: str) -> Path | None:
    lake = settings().lake.rstrip("/")
    if "://" in lake and not lake.startswith("file:"):
        return None
    return Path(lake.removeprefix("file://").removeprefix("file:") + f".{purpose}.lock")


@contextmanager
def lake_lock(purpose: str):
    """Hold the lake's `purpose` lock ("ingest" or "publish") for the block;
    wait up to LAKEHOUSE_LOCK_WAIT_SECONDS for another holder, then fail."""
    path = lock_path(purpose)
    if path is None:
        log.info("lake %s is not a local folder: no %s lock (the lake_writers pool serialises the DAGs)",
                 settings().lake, purpose)
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, purpose)
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds"), "purpose": purpose}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, purpose: str) -> None:
    wait = settings().lock_wait_seconds
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        holder = describe_holder(path)
        if time.monotonic() >= deadline:
            raise LakeBusy(f"the lake {settings().lake} is locked by another {purpose} ({holder}); "
                           f"waited {wait:.0f}s: let it finish and rerun (LAKEHOUSE_LOCK_WAIT_SECONDS "
                           f"sets how long to wait; the lock file is {path})")
        if not told:
            log.warning("waiting up to %.0fs for the lake's %s lock, held by %s", wait, purpose, holder)
            told = True
        time.sleep(0.5)


def describe_holder(path: Path) -> str:
    try:
        h = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        h = {}
    if not h:
        return "a process that is just starting"
    return f"pid {h.get('pid')} on {h.get('host')} since {h.get('since')}"
