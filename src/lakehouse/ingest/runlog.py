"""The file ledger (which delivered files were processed, by sha256) and the
run log (per file and run: rows in = accepted + duplicates + quarantined).

`rows_promoted` counts the file's rows that were quarantined when it was
ingested and left the quarantine later, when the registry learnt their entity
(ingest/promote.py): they are counted in rows_accepted or rows_duplicate, no
longer in rows_quarantined, so the file still reconciles."""

from __future__ import annotations

from pyspark.sql import functions as F

from lakehouse import lake

LEDGER_SCHEMA = ("_file string, source string, delivery_date date, feed string, file_sha256 string, "
                 "status string, reason string, ingest_run_id string, recorded_at timestamp")

RUNLOG_SCHEMA = ("ingest_run_id string, source string, delivery_date date, feed string, _file string, "
                 "file_sha256 string, status string, reason string, manifest_rows bigint, rows_in bigint, "
                 "rows_accepted bigint, rows_duplicate bigint, rows_quarantined bigint, rows_late bigint, "
                 "rows_promoted bigint, "
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
    if lake.exists(spark, lake.table_path("ops", "ingest_runs")):     # a run log from before rows_promoted
        lake.add_missing_columns(spark, lake.table_path("ops", "ingest_runs"), log.schema)
    lake.append_once(log, lake.table_path("ops", "ingest_runs"), keys, change_feed=True)
    ledger = log.select("_file", "source", "delivery_date", "feed", "file_sha256", "status", "reason",
                        "ingest_run_id", F.col("finished_at").alias("recorded_at"))
    lpath = lake.table_path("ops", "file_ledger")
    lake.ensure_table(spark, lpath, spark.createDataFrame([], LEDGER_SCHEMA).schema)
    lake.merge(spark, lpath, ledger, "t._file = s._file AND t.file_sha256 = s.file_sha256")


def record_promotion(spark, moved: dict[str, dict], rule: str, run_id: str) -> None:
    """On each file's accepted run-log row (the run that ingested it): move
    the promoted rows (per file: accepted / duplicate / flags, as classified
    by the promoting run) out of rows_quarantined and its `rule` count."""
    path = lake.table_path("ops", "ingest_runs")
    rows = (spark.read.format("delta").load(path).where("status = 'accepted'")
            .where(F.concat("_file", F.lit("@"), "file_sha256").isin(sorted(moved))).collect())
    updated = []
    for r in rows:
        c = moved[lake.file_id(r["_file"], r["file_sha256"])]
        n = c["accepted"] + c["duplicate"]
        by_rule = dict(r["quarantined_by_rule"] or {})
        by_rule[rule] = by_rule.get(rule, 0) - n
        flags = dict(r["flagged_by_rule"] or {})
        for f, k in c["flags"].items():
            flags[f] = flags.get(f, 0) + k
        updated.append({**r.asDict(), "rows_accepted": r["rows_accepted"] + c["accepted"],
                        "rows_duplicate": r["rows_duplicate"] + c["duplicate"],
                        "rows_quarantined": r["rows_quarantined"] - n,
                        "rows_promoted": (r["rows_promoted"] or 0) + n, "rows_late": r["rows_late"] + c["late"],
                        "quarantined_by_rule": {k: v for k, v in by_rule.items() if v}, "flagged_by_rule": flags})
    if not updated:
        return
    src = spark.createDataFrame(updated, RUNLOG_SCHEMA)
    changed = ["rows_accepted", "rows_duplicate", "rows_quarantined", "rows_promoted", "rows_late",
               "quarantined_by_rule", "flagged_by_rule"]
    lake.merge(spark, path, src.select("ingest_run_id", "_file", "file_sha256", "status", *changed),
               "t.ingest_run_id = s.ingest_run_id AND t._file = s._file "
               "AND t.file_sha256 = s.file_sha256 AND t.status = s.status", update_only=changed)

