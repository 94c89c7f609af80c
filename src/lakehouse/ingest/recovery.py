"""Undo a batch that did not finish, so that every delivered file ends up in
every table exactly once whatever the crash and however the retry is cut.

Before its first write, a batch records the latest version of every table it
may write (ops/ingest_batches, status `started`). The batch's last commit is
the file ledger's; so a `started` batch whose ledger is still at the recorded
version did not finish (killed, disk full, an error). The next ingest, under
the lake lock and before reading anything, RESTOREs each of those tables to
the recorded version (a table the batch created is emptied) and marks the
batch `rolled_back`. The batch's files are not in the ledger, so they are
staged again, in whatever batches the retry cuts, as if the crash never
happened. RESTORE is a Delta commit like any other: the change data feed
shows it as deletes and re-inserts, so a publish made in between catches up.

Only the latest batch can be unfinished: runs take the lake lock, and a run
stops at its first failed batch.

On a Spark Connect server a killed client does not stop its operations: the
server runs them on and they could commit after the undo. So a batch records
its server session (engine_session, engine_user), and the undo first
interrupts every operation of that session and waits until the server reports
none of them running (GetStatus), then releases the session; if they do not
stop, nothing is undone and the run fails with a clear error. A batch is
marked `undoing` before its first RESTORE, so an undo cut short by a crash is
finished by the next run (the RESTOREs move the ledger's version).
"""

from __future__ import annotations

import json
import logging
import time

from lakehouse.ingest import runlog
from lakehouse.ingest.staging import utc_now
from lakehouse.lake import delta, faults

log = logging.getLogger(__name__)

BATCHES = ("ops", "ingest_batches")
BATCHES_SCHEMA = ("ingest_run_id string, batch int, status string, files int, table_versions string, "
                  "recorded_at timestamp, engine_session string, engine_user string")
LEDGER = "ops/file_ledger"


def begin(spark, run_id: str, batch_no: int, tables: list[str], files: int) -> None:
    """Record where each of `tables` ("layer/name") stands before the batch writes."""
    delta.ensure_table(spark, delta.table_path("ops", "file_ledger"),
                      spark.createDataFrame([], runlog.LEDGER_SCHEMA).schema)
    versions = {t: delta.latest_version(spark, delta.table_path(*t.split("/", 1)))
                for t in sorted(set(tables) | {LEDGER})}
    _append(spark, run_id, batch_no, "started", files, versions, engine_session(spark))


def engine_session(spark) -> tuple[str | None, str | None]:
    """(session id, user id) of the Spark Connect session the batch runs in;
    (None, None) on a local JVM, whose work dies with its process."""
    if not delta.is_connect(spark):
        return None, None
    return spark.session_id, spark.client._user_id


def undo_unfinished(spark) -> str | None:
    """Roll back the latest batch if it did not finish; a note saying so, or None."""
    path = delta.table_path(*BATCHES)
    if not delta.exists(spark, path):
        return None
    last = spark.read.format("delta").load(path).orderBy("recorded_at", ascending=False).limit(1).collect()
    if not last or last[0]["status"] not in ("started", "undoing"):
        return None
    row = last[0].asDict()
    versions: dict[str, int | None] = json.loads(row["table_versions"])
    session = (row.get("engine_session"), row.get("engine_user"))
    if row["status"] == "started" and \
            delta.latest_version(spark, delta.table_path(*LEDGER.split("/", 1))) != versions[LEDGER]:
        return None     # the ledger commit, the batch's last, happened: it finished
    # (again when resuming an undo: cheap, and the crash may have come before it)
    stopped = stop_session(spark, *session) if session[0] else []
    if row["status"] == "started":
        _append(spark, row["ingest_run_id"], row["batch"], "undoing", row["files"], versions, session)
    undone = _restore(spark, versions)
    _append(spark, row["ingest_run_id"], row["batch"], "rolled_back", row["files"], versions, session)
    note = (f"run {row['ingest_run_id']} batch {row['batch']} did not finish: "
            + (f"stopped {len(stopped)} of its operation(s) still running on the Spark Connect server, "
               if stopped else "")
            + f"undid its writes to {len(undone)} table(s) ({', '.join(undone) or 'none'}); "
            "its files are ingested again now")
    log.warning(note)
    return note


def _restore(spark, versions: dict[str, int | None]) -> list[str]:
    undone = []
    for table, version in sorted(versions.items()):
        target = delta.table_path(*table.split("/", 1))
        now = delta.latest_version(spark, target)
        if now is None or now == version:
            continue
        if version is None:
            spark.sql(f"DELETE FROM delta.`{target}`")
        else:
            spark.sql(f"RESTORE TABLE delta.`{target}` TO VERSION AS OF {version}")
        faults.after_commit(target)
        undone.append(table)
    return undone


STILL_RUNNING = ("OPERATION_STATE_RUNNING", "OPERATION_STATE_UNSPECIFIED")


def stop_session(spark, session_id: str, user_id: str | None, timeout: float | None = None) -> list[str]:
    """Interrupt every operation of the killed batch's Spark Connect session,
    wait until the server reports none of them running (so none can commit
    any more), then release the session. The operations it interrupted."""
    from pyspark.sql.connect.client import ChannelBuilder, SparkConnectClient

    from lakehouse.config import settings
    from lakehouse.lake.connect import remote_url
    from lakehouse.lake.spark import connect_channel

    remote = remote_url()
    if delta.is_connect(spark) and spark.session_id == session_id:
        return []       # this process's own session: its calls returned, nothing of it runs
    if not remote:
        raise RecoveryError(f"the unfinished batch ran on a Spark Connect server (session {session_id}) but "
                            "neither SPARK_REMOTE nor the warm engine (`lakehouse connect up`) points at a server: "
                            "start the warm engine or set SPARK_REMOTE to that server, so that its operations are "
                            "stopped before the batch is undone")
    channel = connect_channel(remote, session_id)
    if user_id:
        channel.set(ChannelBuilder.PARAM_USER_ID, user_id)
    client = SparkConnectClient(connection=channel)
    try:
        try:
            interrupted = client.interrupt_all() or []
        except Exception as exc:   # the server no longer knows the session (released, or restarted)
            if "SESSION_CLOSED" in str(exc) or "SESSION_NOT_FOUND" in str(exc):
                return []
            raise
        _wait_stopped(client, session_id, interrupted, timeout or settings().connect_stop_timeout)
        client.release_session()
        if interrupted:
            log.warning("interrupted %d operation(s) of the killed batch's Spark Connect session %s",
                        len(interrupted), session_id)
        return interrupted
    finally:
        client.close()


def _wait_stopped(client, session_id: str, operations: list[str], timeout: float) -> None:
    from pyspark.sql.connect.proto import base_pb2 as pb2

    if not operations:
        return
    state = pb2.GetStatusResponse.OperationStatus.OperationState.Name
    deadline = time.monotonic() + timeout
    while True:
        statuses = client._get_operation_statuses(operations).operation_statuses
        running = [s.operation_id for s in statuses if state(s.state) in STILL_RUNNING]
        if not running:
            return
        if time.monotonic() > deadline:
            raise RecoveryError(
                f"{len(running)} operation(s) of the killed batch still run on the Spark Connect server "
                f"(session {session_id}) {timeout:.0f} s after they were interrupted; nothing was undone. "
                "Rerun later, or restart the server (`lakehouse connect down`, `up`)")
        time.sleep(0.5)


class RecoveryError(RuntimeError):
    """An unfinished batch cannot be undone safely yet; the message says why."""


def _append(spark, run_id: str, batch_no: int, status: str, files: int, versions: dict,
            session: tuple[str | None, str | None] = (None, None)) -> None:
    row = [{"ingest_run_id": run_id, "batch": batch_no, "status": status, "files": files,
            "table_versions": json.dumps(versions, sort_keys=True), "recorded_at": utc_now(),
            "engine_session": session[0], "engine_user": session[1]}]
    path = delta.table_path(*BATCHES)
    # mergeSchema: a lake made before the engine_* columns gains them
    (spark.createDataFrame(row, BATCHES_SCHEMA).write.format("delta").mode("append")
     .option("mergeSchema", "true").save(path))
    faults.after_commit(path)
