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
"""

from __future__ import annotations

import json
import logging

from lakehouse import faults, lake
from lakehouse.ingest import runlog
from lakehouse.ingest.staging import utc_now

log = logging.getLogger(__name__)

BATCHES = ("ops", "ingest_batches")
BATCHES_SCHEMA = ("ingest_run_id string, batch int, status string, files int, table_versions string, "
                  "recorded_at timestamp")
LEDGER = "ops/file_ledger"


def begin(spark, run_id: str, batch_no: int, tables: list[str], files: int) -> None:
    """Record where each of `tables` ("layer/name") stands before the batch writes."""
    lake.ensure_table(spark, lake.table_path("ops", "file_ledger"),
                      spark.createDataFrame([], runlog.LEDGER_SCHEMA).schema)
    versions = {t: lake.latest_version(spark, lake.table_path(*t.split("/", 1)))
                for t in sorted(set(tables) | {LEDGER})}
    _append(spark, run_id, batch_no, "started", files, versions)


def undo_unfinished(spark) -> str | None:
    """Roll back the latest batch if it did not finish; a note saying so, or None."""
    path = lake.table_path(*BATCHES)
    if not lake.exists(spark, path):
        return None
    last = spark.read.format("delta").load(path).orderBy("recorded_at", ascending=False).limit(1).collect()
    if not last or last[0]["status"] != "started":
        return None
    row = last[0]
    versions: dict[str, int | None] = json.loads(row["table_versions"])
    if lake.latest_version(spark, lake.table_path(*LEDGER.split("/", 1))) != versions[LEDGER]:
        return None     # the ledger commit, the batch's last, happened: it finished
    undone = []
    for table, version in sorted(versions.items()):
        target = lake.table_path(*table.split("/", 1))
        now = lake.latest_version(spark, target)
        if now is None or now == version:
            continue
        if version is None:
            spark.sql(f"DELETE FROM delta.`{target}`")
        else:
            spark.sql(f"RESTORE TABLE delta.`{target}` TO VERSION AS OF {version}")
        faults.after_commit(target)
        undone.append(table)
    _append(spark, row["ingest_run_id"], row["batch"], "rolled_back", row["files"], versions)
    note = (f"run {row['ingest_run_id']} batch {row['batch']} did not finish: undid its writes to "
            f"{len(undone)} table(s) ({', '.join(undone) or 'none'}); its files are ingested again now")
    log.warning(note)
    return note


def _append(spark, run_id: str, batch_no: int, status: str, files: int, versions: dict) -> None:
    row = [{"ingest_run_id": run_id, "batch": batch_no, "status": status, "files": files,
            "table_versions": json.dumps(versions, sort_keys=True), "recorded_at": utc_now()}]
    path = lake.table_path(*BATCHES)
    spark.createDataFrame(row, BATCHES_SCHEMA).write.format("delta").mode("append").save(path)
    faults.after_commit(path)
