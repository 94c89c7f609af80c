"""Ingest a set of deliveries: landing -> bronze -> silver (+ quarantine),
gated by Great Expectations, reconciled in the run log.

The same function serves one source's day (the Airflow DAG) and a whole
backfill (the CLI, the benchmark): batching many days into one Delta write
per table is what makes a backfill fast.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial, reduce
from pathlib import Path

from pyspark.sql import functions as F

from lakehouse.catalog import Catalog, load_catalog
from lakehouse.config import batch_rows, settings, table_workers
from lakehouse.ingest import promote, recovery, runlog, silver
from lakehouse.ingest.landing import Delivery, RejectedFolder, find_deliveries
from lakehouse.ingest.prepare import References, TablePlan, prepare_table
from lakehouse.ingest.quality.gate import build_data_docs
from lakehouse.ingest.staging import StagedBatch, arrow_schema, plan_files, stage, utc_now
from lakehouse.lake import delta, faults, lakelock
from lakehouse.lake.spark import in_parallel, small_batch_tuning, small_lake

log = logging.getLogger(__name__)

# Reference tables first: later tables are resolved against them.
REFERENCE_FIRST = ("departments", "entities")


@dataclass
class IngestReport:
    run_id: str
    files: list[runlog.RunLogEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocked_sources: set[str] = field(default_factory=set)
    tables_written: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)   # stage -> seconds (for the benchmark)
    promoted: dict[str, int] = field(default_factory=dict)    # table -> rows promoted from the quarantine

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def timed(self, stage: str):
        """Add the block's time to `stage` (summed over tables, which overlap)."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def totals(self) -> dict[str, int]:
        keys = ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined")
        out = {k: sum(getattr(f, k) or 0 for f in self.files) for k in keys}
        out["files"] = len(self.files)
        out["rows_promoted"] = sum(self.promoted.values())   # earlier files' rows, out of the quarantine
        out["files_rejected"] = sum(f.status == "rejected" for f in self.files)
        out["files_blocked"] = sum(f.status == "blocked" for f in self.files)
        return out

    def problem_lines(self) -> list[str]:
        """One line per file not accepted (rejected or blocked), with its reason."""
        return [line for f in self.files if (line := f.problem_line())]


def ingest(sources: list[str] | None = None, start: date | None = None, end: date | None = None,
           landing: str | Path | None = None, catalog: Catalog | None = None, run_id: str | None = None,
           spark=None) -> IngestReport:
    catalog = catalog or load_catalog(settings().schemas_dir)
    landing = str(landing or settings().landing)   # a local folder or a URI Spark reads (s3a://...)
    sources = sources or sorted(catalog.sources)
    unknown = sorted(set(sources) - set(catalog.sources))
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}: add schemas/sources/<code>.yaml or fix the name "
                         f"(known: {', '.join(sorted(catalog.sources))})")
    run_id = run_id or f"run-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    # one ingest per lake at a time; failures with a known remedy become one line
    with lakelock.lake_lock("ingest"), faults.clear_errors():
        if spark is None:
            from lakehouse.lake.spark import get_spark
            spark = get_spark()
        return _ingest_locked(spark, catalog, sources, start, end, landing, run_id)


def _ingest_locked(spark, catalog: Catalog, sources: list[str], start: date | None, end: date | None,
                   landing: str, run_id: str) -> IngestReport:
    report = IngestReport(run_id)
    undone = recovery.undo_unfinished(spark)      # a crashed batch first, before reading the ledger
    rejected_folders: list[RejectedFolder] = []
    deliveries, report.notes = find_deliveries(landing, sources, start, end, rejected_folders)
    if undone:
        report.notes.insert(0, undone)
    with report.timed("ledger"):
        processed = runlog.processed_files(spark)
    _log_rejected_folders(spark, rejected_folders, processed, run_id, report)
    chunks = list(_chunks(deliveries, batch_rows()))
    for i, chunk in enumerate(chunks, 1):
        log.info("batch %d/%d: %d deliveries, %s..%s", i, len(chunks), len(chunk), chunk[0].day, chunk[-1].day)
        _ingest_chunk(spark, catalog, chunk, run_id, report, processed, i)
    if not report.files:
        report.notes.append("nothing new to ingest")
    return report


def _log_rejected_folders(spark, rejected: list[RejectedFolder], processed: runlog.Ledger, run_id: str,
                          report: IngestReport) -> None:
    """One run-log row per folder refused for its manifest (once per manifest's
    bytes: a fixed manifest is read again), as its own small batch."""
    new = [r for r in rejected if (r.manifest, r.sha256) not in processed.verdicts]
    if not new:
        return
    now = utc_now()
    entries = [runlog.RunLogEntry(
        ingest_run_id=run_id, source=r.source, delivery_date=r.day, feed=None, _file=r.manifest,
        file_sha256=r.sha256, status="rejected", reason=f"{r.reason}: {r.message}", manifest_rows=None,
        rows_in=0, started_at=now, finished_at=now,
    ) for r in new]
    recovery.begin(spark, run_id, 0, ["ops/ingest_runs"], len(entries))
    runlog.record(spark, entries)
    report.files.extend(entries)


def _chunks(deliveries: list[Delivery], budget: int):
    """Consecutive deliveries (oldest first) whose manifests announce at most
    `budget` rows together: days stay in order across batches."""
    chunk, rows = [], 0
    for d in deliveries:
        size = sum(f.rows for f in d.files)
        if chunk and rows + size > budget:
            yield chunk
            chunk, rows = [], 0
        chunk.append(d)
        rows += size
    if chunk:
        yield chunk


def _ingest_chunk(spark, catalog: Catalog, deliveries: list[Delivery], run_id: str, report: IngestReport,
                  processed: runlog.Ledger, batch_no: int = 1) -> None:
    started = utc_now()
    planned, refused = plan_files(deliveries, catalog, processed.is_done)
    if not planned and not refused:
        return
    small = sum(p.manifest_rows for p in planned) <= PARALLEL_TABLES_MAX_ROWS
    silver_bytes = delta.stored_bytes(spark, "silver")      # one listing for both questions below
    lake_small = small and small_lake(spark, silver_bytes)
    # Nothing in silver or the quarantine yet (a backfill's first batch): no
    # older row can heal (None through Spark Connect: unknown, so heal).
    empty_lake = silver_bytes == 0 and delta.stored_bytes(spark, "quarantine") == 0
    # In a small lake whole tables are cheap to window with the batch; in a
    # large one a small batch narrows them to its keys first (silver.classify).
    with small_batch_tuning(spark, small, interpret=lake_small):
        with report.timed("read_normalise"):
            batch = stage(spark, planned, catalog, run_id, started, table_workers() if small else 1)
        batch.files = sorted(batch.files + refused, key=lambda f: (f.day, f.file))
        try:
            _write_chunk(spark, catalog, batch, run_id, report, started, batch_no, small,
                         narrow=small and not lake_small, heal=not empty_lake)
        finally:
            batch.release()


def _write_chunk(spark, catalog: Catalog, batch: StagedBatch, run_id: str, report: IngestReport, started,
                 batch_no: int, small: bool, narrow: bool = False, heal: bool = True) -> None:
    """Bronze, then the reference tables, then the others, the quarantine, the
    heal (unless `heal` is False: nothing older to heal) and the run log: the
    batch's writes, the ledger's commit last."""
    recovery.begin(spark, run_id, batch_no, _tables_written_by(batch, catalog), len(batch.files))

    with report.timed("bronze"):
        in_parallel([partial(_write_bronze, batch, feed) for feed in batch.rows], table_workers() if small else 1)
    refs = References(spark, catalog.rules)
    blocked: dict[str, list[str]] = {}      # source -> critical expectation failures
    plans = _write_tables(spark, catalog, batch, run_id, report, refs, blocked, narrow)
    _write_quarantine(spark, batch, plans, blocked, report)
    for plan in plans:
        plan.release()
    refs.invalidate()
    spark.catalog.clearCache()

    # The registry may have learnt entities that quarantined rows (or flagged ones)
    # were waiting for. Healed before the ledger commit, the batch's last, so a
    # crash while healing is undone with the rest of the batch (recovery.py).
    merged = {p.table.name for p in plans if p.table.name in REFERENCE_FIRST
              and any(c["accepted"] for f, c in p.counts.items() if delta.source_of(f) not in blocked)}
    for table, n in (promote.heal(spark, catalog, run_id, report, merged, started) if heal else {}).items():
        report.promoted[table] = report.promoted.get(table, 0) + n

    counts: dict[str, dict] = {}
    for plan in plans:
        counts.update(plan.counts)
    entries = _run_log_entries(batch, counts, blocked, run_id, started, utc_now(), report)
    with report.timed("run_log"):
        runlog.record(spark, entries)
    build_data_docs()
    report.files.extend(entries)
    report.blocked_sources |= set(blocked)


def _write_tables(spark, catalog: Catalog, batch: StagedBatch, run_id: str, report: IngestReport,
                  refs: References, blocked: dict[str, list[str]], narrow: bool) -> list[TablePlan]:
    """Prepare and write every silver table of the batch (current and history);
    the sources whose rows fail a critical expectation are added to `blocked`
    and held back from every table. Returns the tables' plans (to release)."""
    plans: list[TablePlan] = []
    # Reference tables first, one at a time: every later table is resolved
    # against what they merged, so a source they block is held back everywhere.
    for name in [t for t in REFERENCE_FIRST if t in batch.rows]:
        plan = prepare_table(spark, catalog.tables[name], batch, run_id, report, refs, narrow=narrow)
        _block(blocked, plan)
        _commit_table(plan, blocked, report)
        plans.append(plan)
        refs.invalidate()
    # The other tables are independent: validate them all, then write them all,
    # so that a source failing any table's expectations is held back from every
    # one of them. Both steps overlap tables: most of a small table's time is
    # Spark and Delta latency, not work.
    refs.prepare()
    others = [catalog.tables[t] for t in sorted(batch.rows) if t not in REFERENCE_FIRST]
    rows = sum(n for name, n in batch.row_counts.items() if name not in REFERENCE_FIRST)
    workers = table_workers() if rows <= PARALLEL_TABLES_MAX_ROWS else 1
    prepared = in_parallel([partial(prepare_table, spark, t, batch, run_id, report, refs, narrow=narrow)
                            for t in others], workers)
    for plan in prepared:
        _block(blocked, plan)
    in_parallel([partial(_commit_table, plan, blocked, report) for plan in prepared], workers)
    return plans + prepared


def _write_quarantine(spark, batch: StagedBatch, plans: list[TablePlan], blocked: dict[str, list[str]],
                      report: IngestReport) -> None:
    """Every table's broken rows into the quarantine, but a blocked source's."""
    with report.timed("quarantine_write"):
        written = [f.file_id for f in batch.files if f.status == "accepted" and f.source not in blocked]
        if plans:     # none when every file of the batch was rejected
            rows = reduce(lambda a, b: a.unionByName(b), [p.quarantine for p in plans])
            if blocked:
                rows = rows.where(~F.col("_source").isin(sorted(blocked)))
            silver.write_quarantine(spark, rows, written)


def _tables_written_by(batch: StagedBatch, catalog: Catalog) -> list[str]:
    """Every table ("layer/name") the batch may commit to, the ledger aside. A
    batch that merges a reference table may heal every silver table (promote.py)."""
    silver_tables = sorted(catalog.tables) if set(batch.rows) & set(REFERENCE_FIRST) else sorted(batch.rows)
    return ([f"bronze/{feed}" for feed in batch.rows] + [f"silver/{t}" for t in silver_tables]
            + [f"silver/{t}_history" for t in silver_tables] + ["quarantine/rows", "ops/ingest_runs"])


def _block(blocked: dict[str, list[str]], plan: TablePlan) -> None:
    for src in plan.gate.blocked_sources:
        log.warning("%s: expectations failed for %s: %s", plan.table.name, src, plan.gate.failures)
        blocked.setdefault(src, []).extend(plan.gate.failures)


# Overlapping tables hides Spark's and Delta's fixed latency in small batches;
# in large ones the two cores are busy anyway and threads only contend.
PARALLEL_TABLES_MAX_ROWS = 200_000


def _run_log_entries(batch: StagedBatch, counts: dict, blocked: dict[str, list[str]], run_id: str,
                     started, finished, report: IngestReport) -> list[runlog.RunLogEntry]:
    entries = []
    for f in batch.files:
        c = counts.get(f.file_id, {})
        status = "blocked" if f.status == "accepted" and f.source in blocked else f.status
        if f.status == "rejected":
            reason = f"{f.reason}: {f.message}"
        elif status == "blocked":
            reason = "; ".join(blocked[f.source]) or None
        else:
            reason = None
        entries.append(runlog.RunLogEntry(
            ingest_run_id=run_id, source=f.source, delivery_date=f.day, feed=f.feed, _file=f.file,
            file_sha256=f.sha256, status=status, reason=reason, manifest_rows=f.manifest_rows, rows_in=f.rows_in,
            started_at=started, finished_at=finished,
            rows_accepted=c.get("accepted", 0), rows_duplicate=c.get("duplicate", 0),
            rows_quarantined=c.get("quarantined", 0), rows_late=c.get("late", 0),
            quarantined_by_rule=c.get("quarantined_by_rule", {}), flagged_by_rule=c.get("flags", {}),
            unknown_columns=f.unknown_columns, expectations_passed=status != "blocked",
            expectation_failures=blocked.get(f.source, []) if status == "blocked" else [],
            file_size=f.size, file_modified_ms=f.modified_ms,
        ))
        if f.unknown_columns:
            report.notes.append(f"{f.file}: unknown column(s) {f.unknown_columns} kept in extra_columns; "
                                f"map them in schemas/sources/{f.source}.yaml if they are renames")
    return entries


def _write_bronze(batch: StagedBatch, feed: str) -> None:
    delta.append_once(batch.bronze(feed), delta.table_path("bronze", feed), batch.file_ids(feed))


def _commit_table(plan: TablePlan, blocked: dict[str, list[str]], report: IngestReport) -> None:
    """Append the new versions to history and MERGE the latest per key into
    silver, leaving out blocked sources."""
    spark = plan.accepted.sparkSession
    table = plan.table
    accepted, winners = plan.accepted, plan.winners
    if blocked:
        keep = ~F.col("_source").isin(sorted(blocked))
        accepted, winners = accepted.where(keep), winners.where(keep)
    written_ids = [f for f in plan.file_ids if delta.source_of(f) not in blocked]
    current_path = delta.table_path("silver", table.name)
    with report.timed("silver_write"):
        schema = delta.arrow_frame(spark, arrow_schema(table, with_helpers=False).empty_table()).schema \
            .add("_row_hash", "string")
        created = delta.ensure_table(spark, current_path, schema, change_feed=True, deletion_vectors=True)
        # History has no deletion vectors, so that delta-rs reads it (docs/other-engines.md):
        # with them the heal's refresh of a few rows was no faster (it is a scan, not a rewrite).
        history_path = delta.table_path("silver", f"{table.name}_history")
        if delta.exists(spark, history_path):      # written before a lineage column existed: add it
            delta.add_missing_columns(spark, history_path, schema)
        if written_ids and any(c["accepted"] for f, c in plan.counts.items() if f in set(written_ids)):
            delta.append_once(accepted, history_path, written_ids)
            if created:     # an empty table: every winner is an insert, and an append costs less than a MERGE
                delta.append_once(winners.select(*silver.columns(table)), current_path, written_ids)
            else:
                silver.merge_current(spark, current_path, winners, table.key, silver.columns(table))


__all__ = ["ingest", "IngestReport"]
