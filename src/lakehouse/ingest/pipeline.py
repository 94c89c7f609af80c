"""Ingest a set of deliveries: landing -> bronze -> silver (+ quarantine),
gated by Great Expectations, reconciled in the run log.

The same function serves one source's day (the Airflow DAG) and a whole
backfill (the CLI, the benchmark): batching many days into one Delta write
per table is what makes a backfill fast.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
from pyspark.sql import functions as F

from lakehouse import lake
from lakehouse.catalog import Catalog, Table, load_catalog
from lakehouse.config import settings
from lakehouse.ingest import resolve, runlog, silver
from lakehouse.ingest.landing import Delivery, find_deliveries
from lakehouse.ingest.staging import HELPER_COLUMNS, StagedBatch, arrow_schema, stage_deliveries, utc_now
from lakehouse.quality.gate import validate_batch

log = logging.getLogger(__name__)

# Reference tables first: later tables are resolved against them.
REFERENCE_FIRST = ("departments", "entities")


@dataclass
class IngestReport:
    run_id: str
    files: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocked_sources: set[str] = field(default_factory=set)
    tables_written: set[str] = field(default_factory=set)
    timings: dict[str, float] = field(default_factory=dict)   # stage -> seconds (for the benchmark)

    @contextmanager
    def timed(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - t0

    def totals(self) -> dict[str, int]:
        keys = ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined")
        out = {k: sum(f[k] or 0 for f in self.files) for k in keys}
        out["files"] = len(self.files)
        out["files_rejected"] = sum(f["status"] == "rejected" for f in self.files)
        out["files_blocked"] = sum(f["status"] == "blocked" for f in self.files)
        return out


def ingest(sources: list[str] | None = None, start: date | None = None, end: date | None = None,
           landing: Path | None = None, catalog: Catalog | None = None, run_id: str | None = None,
           spark=None) -> IngestReport:
    catalog = catalog or load_catalog(settings().schemas_dir)
    landing = Path(landing or settings().landing)
    sources = sources or sorted(catalog.sources)
    unknown = sorted(set(sources) - set(catalog.sources))
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}: add schemas/sources/<code>.yaml or fix the name "
                         f"(known: {', '.join(sorted(catalog.sources))})")
    if spark is None:
        from lakehouse.spark import get_spark
        spark = get_spark()
    run_id = run_id or f"run-{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    report = IngestReport(run_id)

    deliveries, report.notes = find_deliveries(landing, sources, start, end)
    with report.timed("ledger"):
        processed = runlog.processed_files(spark)
    chunks = list(_chunks(deliveries, batch_rows()))
    for i, chunk in enumerate(chunks, 1):
        log.info("batch %d/%d: %d deliveries, %s..%s", i, len(chunks), len(chunk), chunk[0].day, chunk[-1].day)
        _ingest_chunk(spark, catalog, chunk, run_id, report, processed)
    if not report.files:
        report.notes.append("nothing new to ingest")
    return report


def batch_rows() -> int:
    """Rows staged at most per batch (bounded memory); LAKEHOUSE_BATCH_ROWS."""
    return int(os.environ.get("LAKEHOUSE_BATCH_ROWS", "1500000"))


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
                  processed: set[tuple[str, str]]) -> None:
    started = utc_now()
    with report.timed("read_normalise"):
        batch = stage_deliveries(deliveries, catalog, run_id, started, processed)
    if not batch.files:
        return
    blocked: set[str] = set()     # sources whose batch failed a critical expectation

    with report.timed("bronze"):
        _write_bronze(spark, batch)
    counts: dict[str, dict] = {}
    failures: dict[str, list[str]] = {}
    quarantined = []
    refs = _References(spark)
    order = [t for t in REFERENCE_FIRST if t in batch.silver] + \
            sorted(t for t in batch.silver if t not in REFERENCE_FIRST)
    for table_name in order:
        table = catalog.tables[table_name]
        log.info("  %s: %d files", table_name, len(batch.file_ids(table.feed)))
        result = _write_table(spark, table, batch, run_id, report, refs, blocked)
        counts.update(result["counts"])
        quarantined.append(result["quarantine"])
        for src in result["blocked"]:
            blocked.add(src)
            failures.setdefault(src, []).extend(result["failures"])
        report.tables_written.add(table_name)
        if table_name in REFERENCE_FIRST:
            refs.invalidate()       # later tables resolve against what this batch just merged
    with report.timed("quarantine_write"):
        rows = quarantined[0]
        for more in quarantined[1:]:
            rows = rows.unionByName(more)
        written = [f.file_id for f in batch.files
                   if f.status == "accepted" and f.source not in blocked]
        if blocked:
            rows = rows.where(~F.col("_source").isin(sorted(blocked)))
        silver.write_quarantine(spark, rows, written)
    refs.invalidate()
    spark.catalog.clearCache()

    finished = utc_now()
    entries = []
    for f in batch.files:
        c = counts.get(f.file_id, {})
        status = f.status
        if status == "accepted" and f.source in blocked:
            status = "blocked"
        entries.append({
            "ingest_run_id": run_id, "source": f.source, "delivery_date": f.day, "feed": f.feed,
            "_file": f.file, "file_sha256": f.sha256, "status": status,
            "reason": f.message if f.status == "rejected" else
            ("; ".join(failures.get(f.source, [])) or None if status == "blocked" else None),
            "manifest_rows": f.manifest_rows, "rows_in": f.rows_in,
            "rows_accepted": c.get("accepted", 0), "rows_duplicate": c.get("duplicate", 0),
            "rows_quarantined": c.get("quarantined", 0), "rows_late": c.get("late", 0),
            "quarantined_by_rule": c.get("quarantined_by_rule", {}), "flagged_by_rule": c.get("flags", {}),
            "unknown_columns": f.unknown_columns, "expectations_passed": status != "blocked",
            "expectation_failures": failures.get(f.source, []) if status == "blocked" else [],
            "started_at": started, "finished_at": finished, "reject_code": f.reason,
        })
        if f.status == "rejected":
            entries[-1]["reason"] = f"{f.reason}: {f.message}"
        if f.unknown_columns:
            report.notes.append(f"{f.file}: unknown column(s) {f.unknown_columns} kept in extra_columns; "
                                f"map them in schemas/sources/{f.source}.yaml if they are renames")
    for e in entries:
        e.pop("reject_code")
    with report.timed("run_log"):
        runlog.record(spark, entries)
    report.files.extend(entries)
    report.blocked_sources |= blocked


def _write_bronze(spark, batch: StagedBatch) -> None:
    for feed, tables in batch.bronze.items():
        df = spark.createDataFrame(pa.concat_tables(tables))
        lake.append_once(df, lake.table_path("bronze", feed), batch.file_ids(feed))


def _read_current(spark, name: str):
    path = lake.table_path("silver", name)
    return spark.read.format("delta").load(path) if lake.exists(spark, path) else None


class _References:
    """The registry index and the department list, read once and reused by
    every table of the batch until a reference table is merged again."""

    def __init__(self, spark):
        self.spark = spark
        self._registry: resolve.RegistryIndex | None = None
        self._departments = None

    def registry(self) -> resolve.RegistryIndex:
        if self._registry is None:
            self._registry = resolve.RegistryIndex(self.spark, _read_current(self.spark, "entities"))
        return self._registry

    def departments(self):
        if self._departments is None:
            current = _read_current(self.spark, "departments")
            if current is not None:
                self._departments = current.select("department_code").distinct().cache()
        return self._departments

    def invalidate(self) -> None:
        if self._registry is not None:
            self._registry.unpersist()
        if self._departments is not None:
            self._departments.unpersist()
        self._registry = self._departments = None


def _write_table(spark, table: Table, batch: StagedBatch, run_id: str, report: IngestReport,
                 refs: _References, already_blocked: set[str]) -> dict:
    """Resolve, classify, gate and write one table's part of the batch. Sources
    blocked by an earlier table of the batch are held back here too."""
    with report.timed("to_spark"):
        df = spark.createDataFrame(pa.concat_tables(batch.silver[table.name]))
    file_ids = batch.file_ids(table.feed)

    if table.entity_ref:
        df = resolve.resolve_entities(df, refs.registry())
    dept_cols = [c.name for c in table.columns if getattr(c, "references", None) == "departments"]
    if dept_cols:
        df = resolve.flag_unknown_departments(df, refs.departments(), dept_cols)
    df = df.withColumn("flags", F.array_sort(F.array_distinct("flags")))
    df = df.withColumn("_row_hash", silver.content_hash(_content_columns(table))).cache()

    bad = df.where(F.size("_rules") > 0)
    good = df.where(F.size("_rules") == 0)
    current_path = lake.table_path("silver", table.name)
    history_path = lake.table_path("silver", f"{table.name}_history")
    current = _read_current(spark, table.name)
    history = spark.read.format("delta").load(history_path) if lake.exists(spark, history_path) else None
    classified = silver.classify(good, current, history, table.key, table.version_column, file_ids).cache()
    accepted = classified.where("_outcome = 'accepted'")
    winners = silver.latest_per_key(accepted, table.key)

    silver_cols = table.column_names + ["_row_hash"]
    with report.timed("resolve_classify"):
        winners = winners.cache()
        n_winners = winners.count()
    with report.timed("expectations"):
        gate = validate_batch(table.name, winners.select(*silver_cols), run_id, n_winners)
    blocked = gate.blocked_sources | already_blocked
    if blocked:
        log.warning("%s: expectations failed for %s: %s", table.name, sorted(blocked), gate.failures)
        keep = ~F.col("_source").isin(sorted(blocked))
        accepted, winners = accepted.where(keep), winners.where(keep)

    schema = spark.createDataFrame(arrow_schema(table, with_helpers=False).empty_table()).schema \
        .add("_row_hash", "string")
    written_ids = [f for f in file_ids if f.split("/", 1)[0] not in blocked]
    with report.timed("silver_write"):
        lake.ensure_table(spark, current_path, schema, change_feed=True)
        if n_winners and written_ids:
            lake.append_once(accepted.select(*silver_cols), history_path, written_ids)
            silver.merge_current(spark, current_path, winners, table.key, silver_cols)
    with report.timed("counts"):
        counts = silver.per_file_counts(classified.withColumn("_file", lake.file_id_col()),
                                        bad.withColumn("_file", lake.file_id_col()))
    quarantine = silver.quarantine_rows(bad, table.name, table.key)
    for cached in (classified, winners):
        cached.unpersist()
    return {"counts": counts, "blocked": blocked, "failures": gate.failures, "quarantine": quarantine}


def _content_columns(table: Table) -> list[str]:
    lineage = {c.name for c in table.common.get("lineage", [])}
    return [c for c in table.column_names if c not in lineage]


__all__ = ["ingest", "IngestReport", "HELPER_COLUMNS"]
