"""The file ledger (which delivered files were processed, by sha256) and the
run log (per file and run: rows in = accepted + duplicates + quarantined)."""

from __future__ import annotations

from pyspark.sql import functions as F

from lakehouse import lake

LEDGER_SCHEMA = ("_file string, source string, delivery_date date, feed string, file_sha256 string, "
                 "status string, reason string, ingest_run_id string, recorded_at timestamp")

RUNLOG_SCHEMA = ("ingest_run_id string, source string, delivery_date date, feed string, _file string, "
                 "file_sha256 string, status string, reason string, manifest_rows bigint, rows_in bigint, "
                 "rows_accepted bigint, rows_duplicate bigint, rows_quarantined bigint, rows_late bigint, "
                 "quarantined_by_rule map<string,bigint>, flagged_by_rule map<string,bigint>, "
                 "unknown_columns array<string>, expectations_passed boolean, "
                 "expectation_failures array<string>, started_at timestamp, finished_at timestamp, _file_sha256 string")


def processed_files(spark) -> set[tuple[str, str]]:
    """(file, sha256) pairs already ingested or rejected: re-delivering the
    same bytes is a no-op. Files blocked by an expectation are retried."""
    path = lake.table_path("ops", "file_ledger")
    if not lake.exists(spark, path):
        return set()
    rows = (spark.read.format("delta").load(path).where("status IN ('accepted', 'rejected')")
            .select("_file", "file_sha256").collect())
    return {(r["_file"], r["file_sha256"]) for r in rows}


def record(spark, entries: list[dict]) -> None:
    """Write the run-log rows and the ledger for this run's files (replacing
    any rows a failed attempt at the same files left)."""
    if not entries:
        return
    # one run-log append per (file, outcome) set: a retried task is a no-op, a
    # blocked file retried later is a new outcome and is logged again
    keys = [f'{lake.file_id(e["_file"], e["file_sha256"])}:{e["status"]}' for e in entries]
    log = spark.createDataFrame([{**e, "_file_sha256": e["file_sha256"]} for e in entries], RUNLOG_SCHEMA)
    lake.append_once(log, lake.table_path("ops", "ingest_runs"), keys, change_feed=True)
    ledger = log.select("_file", "source", "delivery_date", "feed", "file_sha256", "status", "reason",
                        "ingest_run_id", F.col("finished_at").alias("recorded_at"))
    lpath = lake.table_path("ops", "file_ledger")
    lake.ensure_table(spark, lpath, spark.createDataFrame([], LEDGER_SCHEMA).schema)
    lake.merge(spark, lpath, ledger, "t._file = s._file AND t.file_sha256 = s.file_sha256")
