"""Failures a user can act on, told in one line; and the fault-injection hook
the crash tests use.

`explain(exc)` walks an exception's chain (Python causes and the Java causes
behind a Spark error) for the few failures that have a clear remedy: the
lake's disk is full, PostgreSQL cannot be reached, another process wrote the
same Delta table. `clear_errors()` re-raises those as `LakehouseFault` with
that line, keeping the original as the cause.

TEST HOOK, not a setting for production: LAKEHOUSE_FAULT_KILL_AFTER_COMMITS=N
makes the process SIGKILL itself (its JVM and every other child first, so
nothing finishes the write) right after its Nth commit, counting only
commits whose target ends with LAKEHOUSE_FAULT_KILL_TABLE when that is set
(e.g. `quarantine/rows`, `ops/ingest_runs`, `lake.licences`). A commit is a
Delta commit in ingest, or one table's transaction in publish.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path

from lakehouse.config import settings


class LakehouseFault(RuntimeError):
    """A failure with a known remedy; str() is the one line to show."""


_commits = 0
_commits_lock = threading.Lock()


def after_commit(target: str) -> None:
    """Count a commit to `target`; kill the process tree on the configured one."""
    global _commits
    kill_after, only = settings().fault_kill_after_commits, settings().fault_kill_table
    if kill_after is None or (only and not target.rstrip("/").endswith(only)):
        return
    with _commits_lock:
        _commits += 1
        if _commits < kill_after:
            return
    for pid in _descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _messages(exc: BaseException):
    """Every message in the chain: Python causes/contexts and Java causes."""
    seen: set[int] = set()
    todo: list = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield type(e).__name__ + ": " + str(e)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            yield "No space left on device"
        java = getattr(e, "java_exception", None) or getattr(e, "_origin", None)
        depth = 0
        while java is not None and depth < 20:
            try:
                yield str(java.toString())
                java = java.getCause()
            except Exception:   # the JVM is gone or not a Throwable: the Python text is all we have
                break
            depth += 1
        todo += [e.__cause__, e.__context__]


def explain(exc: BaseException) -> str | None:
    """One line saying what failed, where, and what to do; None if unknown."""
    text = "\n".join(_messages(exc))
    cfg = settings()
    if "No space left on device" in text or "ENOSPC" in text:
        return (f"the disk holding the lake at {cfg.lake} is full; free space and rerun (the unfinished "
                "batch is undone by the next run, nothing is duplicated)")
    if "OperationalError" in text and any(m in text for m in (
            "connection to server", "could not connect", "Connection refused", "could not translate host",
            "server closed the connection", "timeout expired")):
        return (f"PostgreSQL at {cfg.pg_host}:{cfg.pg_port} (database {cfg.pg_database}) is unreachable: start "
                "it (`lakehouse db start`) or fix PGHOST/PGPORT, then rerun `lakehouse publish`; it catches up "
                "from the last table it published")
    if "ConcurrentAppendException" in text or "ConcurrentTransactionException" in text \
            or "ConcurrentDeleteReadException" in text or "MetadataChangedException" in text:
        return (f"another process wrote the same Delta tables of {cfg.lake} at the same time (a writer that "
                "does not take the project's lake lock, e.g. on s3a); nothing of this batch is kept once the "
                "next ingest runs: rerun when the other one has finished")
    return None


@contextmanager
def clear_errors():
    try:
        yield
    except LakehouseFault:
        raise
    except Exception as exc:
        line = explain(exc)
        if line is None:
            raise
        raise LakehouseFault(line) from exc
