"""The file ledger (each delivered file's verdict under its manifest entry) and the
run log (per file and run: rows in = accepted + duplicates + quarantined).

`rows_promoted` counts the file's rows that were quarantined when it was
ingested and left the quarantine later, when the registry learnt their entity
(ingest/promote.py): they are counted in rows_accepted or rows_duplicate, no
longer in rows_quarantined, so the file still reconciles."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from pyspark.sql import functions as F

from lakehouse.catalog.ops_tables import FILE_LEDGER, RUN_LOG
from lakehouse.lake import delta

LEDGER_SCHEMA = FILE_LEDGER.spark_ddl()
RUNLOG_SCHEMA = RUN_LOG.spark_ddl()
LEDGER_ONLY = ("file_size", "file_modified_ms")     # RunLogEntry fields the run log does not keep


@dataclass
class RunLogEntry:
    """One run-log row: a file's outcome in a run (columns: ops_tables.RUN_LOG)."""
    ingest_run_id: str
    source: str
    delivery_date: date | None
    feed: str | None
    _file: str
    file_sha256: str
    status: str                       # accepted | rejected | blocked (| missing: schedule.record_missing)
    reason: str | None
    manifest_rows: int | None
    rows_in: int
    started_at: datetime
    finished_at: datetime
    rows_accepted: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    rows_late: int = 0
    rows_promoted: int = 0
    quarantined_by_rule: dict[str, int] = field(default_factory=dict)
    flagged_by_rule: dict[str, int] = field(default_factory=dict)
    unknown_columns: list[str] = field(default_factory=list)
    expectations_passed: bool = True
    expectation_failures: list[str] = field(default_factory=list)
    file_size: int | None = None          # as listed (LEDGER_ONLY: the ledger's, not run-log columns)
    file_modified_ms: int | None = None

    def row(self) -> dict:
        row = {**asdict(self), "_file_sha256": self.file_sha256}
        for name in LEDGER_ONLY:
            del row[name]
        return row

    def ledger_row(self) -> dict:
        return {**{c: getattr(self, c, None) for c in FILE_LEDGER.column_names if c != "recorded_at"},
                "recorded_at": self.finished_at}

    def problem_line(self) -> str | None:
        """How a file that was not accepted is printed (CLI, Airflow tasks); None if accepted."""
        return None if self.status == "accepted" else f"{self.status.upper()}: {self._file}: {self.reason}"


# Rejections for the bytes themselves: the same manifest entry with other bytes
# (a file re-sent after a cut transfer) deserves another look.
BYTES_REASONS = ("manifest_sha256_mismatch", "file_missing")


@dataclass
class Ledger:
    """Which manifest entries already have their verdict.

    A file's verdict depends on its bytes and on its manifest entry, so the
    ledger keys it on (path, declared sha256, declared rows): the same bytes
    under the same manifest change nothing, while a corrected manifest (say,
    its row count) makes a rejected file eligible again. The driver never
    hashes a file, so a file rejected for its bytes (sha256 mismatch, missing)
    is looked at again when the listing shows other bytes (size or time).
    Files blocked by an expectation are always retried."""
    verdicts: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def is_done(self, p) -> bool:
        for v in self.verdicts.get((p.file, p.sha256), []):
            if v["manifest_rows"] is not None and v["manifest_rows"] != p.manifest_rows:
                continue
            if (v["reason"] or "").split(":", 1)[0] in BYTES_REASONS:
                if (v["file_size"], v["file_modified_ms"]) != (p.size, p.modified_ms):
                    continue
            return True
        return False


def processed_files(spark) -> Ledger:
    """The ledger's final verdicts (accepted or rejected)."""
    path = delta.table_path("ops", "file_ledger")
    if not delta.exists(spark, path):
        return Ledger()
    cols = ["_file", "file_sha256", "reason", "manifest_rows", "file_size", "file_modified_ms"]
    table = spark.read.format("delta").load(path)
    rows = (table.where("status IN ('accepted', 'rejected')")
            .select(*[c if c in table.columns else F.lit(None).alias(c) for c in cols]).collect())
    ledger = Ledger()
    for r in rows:
        ledger.verdicts.setdefault((r["_file"], r["file_sha256"]), []).append(r.asDict())
    return ledger


def record(spark, entries: list[RunLogEntry]) -> None:
    """Append this batch's run-log rows and merge its files into the ledger
    (by file and sha256); the ledger's commit is the batch's last."""
    if not entries:
        return
    # appended once per (file, outcome): a batch that did not finish is undone
    # before it is retried (recovery.py), and files in the ledger are not staged
    # again; a blocked file retried later is a new outcome and is logged again
    keys = [f"{delta.file_id(e._file, e.file_sha256)}:{e.status}" for e in entries]
    log = spark.createDataFrame([e.row() for e in entries], RUNLOG_SCHEMA)
    if delta.exists(spark, delta.table_path("ops", "ingest_runs")):     # a run log from before rows_promoted
        delta.add_missing_columns(spark, delta.table_path("ops", "ingest_runs"), log.schema)
    delta.append_once(log, delta.table_path("ops", "ingest_runs"), keys, change_feed=True)
    ledger = spark.createDataFrame([e.ledger_row() for e in entries], LEDGER_SCHEMA)
    lpath = delta.table_path("ops", "file_ledger")
    delta.ensure_table(spark, lpath, ledger.schema)
    delta.merge(spark, lpath, ledger, "t._file = s._file AND t.file_sha256 = s.file_sha256 "
                                     "AND t.manifest_rows <=> s.manifest_rows")


def record_promotion(spark, moved: dict[str, dict], rule: str, run_id: str) -> None:
    """On each file's accepted run-log row (the run that ingested it): move
    the promoted rows (per file: accepted / duplicate / flags, as classified
    by the promoting run) out of rows_quarantined and its `rule` count."""
    path = delta.table_path("ops", "ingest_runs")
    rows = (spark.read.format("delta").load(path).where("status = 'accepted'")
            .where(F.concat("_file", F.lit("@"), "file_sha256").isin(sorted(moved))).collect())
    updated = []
    for r in rows:
        c = moved[delta.file_id(r["_file"], r["file_sha256"])]
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
    delta.merge(spark, path, src.select("ingest_run_id", "_file", "file_sha256", "status", *changed),
               "t.ingest_run_id = s.ingest_run_id AND t._file = s._file "
               "AND t.file_sha256 = s.file_sha256 AND t.status = s.status", update_only=changed)

