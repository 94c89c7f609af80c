"""The registry catching up: rows resolve against the LATEST registry and
department list, whatever day they arrived on.

After a batch merged entities or departments (`heal`):

1. Promotion. Quarantined rows whose only rule is `uscc_unresolved` are
   normalised again from their raw values and resolved against the registry
   as it is now. Those that resolve go through the same classify / validate /
   write path as fresh rows, into silver (current + history), keeping their
   original lineage (file, row, ingest run) plus `_promoted_by_run_id`. They
   are deleted from the quarantine, and their file's run-log row moves them
   from `rows_quarantined` to `rows_accepted` (or `rows_duplicate`) and counts
   them in `rows_promoted`, so rows_in = accepted + duplicate + quarantined
   still holds per file and nothing is counted twice.
2. Refresh. Silver rows (current and history) of the entities this batch
   merged get the registry's current registered district, and the flags that
   depend on the registry (`entity_not_in_registry`, `name_differs`) are
   recomputed; rows flagged `unknown_department` lose the flag once the
   department list holds their code.

With both, a landing ingested in one batch or day by day gives the same
silver and quarantine tables (see docs/registry-catch-up.md).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from datetime import datetime
from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse import lake
from lakehouse.catalog import Catalog, Table
from lakehouse.ingest import silver
from lakehouse.ingest.staging import StagedBatch, StagedFile, arrow_schema, silver_row, to_arrow
from lakehouse.normalise import make_row_normaliser, name_key
from lakehouse.readers.base import RawRow

log = logging.getLogger(__name__)

# Quarantined rows that a registry entry could heal: nothing else was wrong with them.
PROMOTABLE_RULES = ["uscc_unresolved"]


def heal(spark, catalog: Catalog, run_id: str, report, merged_references: set[str],
         batch_started: datetime | None = None) -> dict[str, int]:
    """Promote and refresh after a batch merged `merged_references`
    (a subset of {"entities", "departments"}). Returns rows promoted per table.

    The batch's own rows (run id and `_ingested_at` = `batch_started`) are
    left out: they were resolved after the batch merged its reference tables,
    against the registry and department list as they are now. So a backfill
    into an empty lake has nothing to heal, and a day heals only older rows."""
    if not merged_references:
        return {}
    promoted: dict[str, int] = {}
    older = (~((F.col("_ingest_run_id") == run_id) & (F.col("_ingested_at") == F.lit(batch_started)))
             if batch_started is not None else F.lit(True))
    with report.timed("heal"):
        changed = _changed_entities(spark, run_id) if "entities" in merged_references else None
        if changed is not None:
            promoted = promote_quarantined(spark, catalog, run_id, report, _Learnt.of(changed), older)
        try:
            refresh_silver(spark, catalog, changed, _known_departments(spark, merged_references), older)
        finally:
            if changed is not None:
                changed.unpersist()
    return promoted


def _changed_entities(spark, run_id: str) -> DataFrame | None:
    """Registry rows this run merged (new entities and new versions), cached; None if none."""
    path = lake.table_path("silver", "entities")
    if not lake.exists(spark, path):
        return None
    changed = (spark.read.format("delta").load(path).where(F.col("_ingest_run_id") == run_id)
               .select(F.col("uscc").alias("_r_uscc"), F.col("reg_no").alias("_r_reg_no"),
                       F.col("registered_district").alias("_r_district"), F.col("name_keys").alias("_r_names"),
                       F.element_at("name_keys", 1).alias("_r_name")).cache())
    if changed.limit(1).count() == 0:
        changed.unpersist()
        return None
    return changed


def _known_departments(spark, merged_references: set[str]) -> list[str] | None:
    path = lake.table_path("silver", "departments")
    if "departments" not in merged_references or not lake.exists(spark, path):
        return None
    return [r[0] for r in spark.read.format("delta").load(path).select("department_code").distinct().collect()]


class _Learnt:
    """What the registry learnt in this run, as Python sets: a quarantined row
    can only resolve now if one of its identifiers is among them (the rest of
    the registry is what it was resolved against before)."""

    def __init__(self, usccs: set, reg_nos: set, names: set):
        self.usccs, self.reg_nos, self.names = usccs, reg_nos, names

    @classmethod
    def of(cls, changed: DataFrame) -> _Learnt:
        rows = changed.select("_r_uscc", "_r_reg_no", "_r_names").collect()
        return cls({r[0] for r in rows if r[0]}, {r[1] for r in rows if r[1]},
                   {n for r in rows for n in (r[2] or [])})

    def may_resolve(self, row: dict) -> bool:
        return (row["_uscc_norm"] in self.usccs or row["_reg_no"] in self.reg_nos
                or row["_name_key"] in self.names)


# --------------------------------------------------------------------------- promotion


def promote_quarantined(spark, catalog: Catalog, run_id: str, report, learnt: _Learnt,
                        older=None) -> dict[str, int]:
    from lakehouse.ingest import pipeline

    qpath = lake.table_path("quarantine", "rows")
    tables = {n: t for n, t in catalog.tables.items() if t.entity_ref}
    if not lake.exists(spark, qpath) or not lake.exists(spark, lake.table_path("silver", "entities")):
        return {}
    candidates = (spark.read.format("delta").load(qpath)
                  .where(F.col("_table").isin(sorted(tables)))
                  .where(F.array_sort("rule_ids") == F.array(*[F.lit(r) for r in PROMOTABLE_RULES]))
                  .where(older if older is not None else F.lit(True))
                  .collect())
    if not candidates:
        return {}
    by_table: dict[str, list] = defaultdict(list)
    for r in candidates:
        by_table[r["_table"]].append(r)

    refs = pipeline._References(spark)
    done: dict[str, int] = {}
    try:
        for name, rows in sorted(by_table.items()):
            n = _promote_table(spark, catalog, tables[name], rows, run_id, report, refs, learnt)
            if n:
                done[name] = n
    finally:
        refs.invalidate()
    if done:
        log.info("promoted from the quarantine: %s", done)
    return done


def _promote_table(spark, catalog: Catalog, table: Table, rows: list, run_id: str, report, refs,
                   learnt: _Learnt) -> int:
    """Re-stage `rows` (quarantine rows of `table`), resolve them as fresh rows
    and write those that now resolve. Returns how many left the quarantine."""
    from lakehouse.ingest import pipeline

    staged = restage(catalog, table, rows, run_id, learnt.may_resolve)
    if staged is None:
        return 0
    kept = set(zip(*[staged[c].to_pylist() for c in ("_file", "_file_sha256", "_row_number")], strict=True))
    rows = [q for q in rows if (q["_file"], q["_file_sha256"], q["_row_number"]) in kept]
    batch = _as_batch(spark, table, staged, rows)
    plan = pipeline._prepare_table(spark, table, batch, run_id, report, refs, fresh_files=False)
    try:
        blocked = set(plan.gate.blocked_sources)
        if blocked:
            log.warning("%s: promotion held back for %s: %s", table.name, sorted(blocked), plan.gate.failures)
        moved = {f: c for f, c in plan.counts.items()
                 if lake.source_of(f) not in blocked and (c["accepted"] or c["duplicate"])}
        if not moved:
            return 0
        keep = ~F.col("_source").isin(sorted(blocked)) if blocked else F.lit(True)
        accepted, winners = plan.accepted.where(keep), plan.winners.where(keep)
        # rows that now resolve: accepted or duplicate (_rules empty), of unblocked sources
        promoted = (plan.accepted.sparkSession.createDataFrame(
            [(lake.file_id(r["_file"], r["_file_sha256"]), r["_file"], r["_file_sha256"], r["_row_number"])
             for r in rows], "_fid string, _file string, _file_sha256 string, _row_number bigint"))
        still = plan.quarantine.select("_file", "_file_sha256", "_row_number")
        promoted = (promoted.join(still, ["_file", "_file_sha256", "_row_number"], "left_anti")
                    .where(F.col("_fid").isin(sorted(moved))).drop("_fid").cache())
        keys = sorted(f"{r['_file']}@{r['_file_sha256']}#{r['_row_number']}" for r in promoted.collect())
        current_path = lake.table_path("silver", table.name)
        if sum(c["accepted"] for c in moved.values()):
            # one history append per set of promoted rows: a retry of the same promotion adds nothing
            lake.append_once(accepted, lake.table_path("silver", f"{table.name}_history"),
                             ["promoted:" + hashlib.sha1("\n".join(keys).encode()).hexdigest()])
            silver.merge_current(spark, current_path, winners, table.key, pipeline._silver_columns(table))
        _record_promotion(spark, table.name, moved, run_id)
        _drop_from_quarantine(spark, table.name, promoted)
        promoted.unpersist()
        return len(keys)
    finally:
        plan.release()


def _as_batch(spark, table: Table, staged, rows: list) -> StagedBatch:
    """Re-staged rows as a batch of their files (already ingested) for pipeline._prepare_table."""
    batch = StagedBatch()
    files: dict[str, StagedFile] = {}
    for q in rows:
        fid = lake.file_id(q["_file"], q["_file_sha256"])
        if fid not in files:
            files[fid] = StagedFile(q["_source"], q["_delivery_date"], table.feed, q["_file"], q["_file_sha256"], 0)
    batch.files = list(files.values())
    batch.rows[table.name] = lake.arrow_frame(spark, staged)
    batch.row_counts[table.name] = staged.num_rows
    return batch


def restage(catalog: Catalog, table: Table, rows: list, run_id: str, keep=None):
    """Quarantine rows -> the staged silver rows (an Arrow table, None if none)
    their files gave, normalised again from the raw values with the header map
    of their delivery day (only those `keep(row)` accepts, if given)."""
    staged_rows = []
    for row_id, q in enumerate(sorted(rows, key=lambda r: (r["_delivery_date"], r["_file"], r["_row_number"]))):
        source = catalog.sources[q["_source"]]
        raw = dict(q["raw"] or {})
        normalise = make_row_normaliser(table, source, catalog, q["_delivery_date"], list(raw))
        lineage = {"_source": q["_source"], "_delivery_date": q["_delivery_date"], "_file": q["_file"],
                   "_file_sha256": q["_file_sha256"], "_ingest_run_id": q["_ingest_run_id"],
                   "_ingested_at": q["_ingested_at"], "_promoted_by_run_id": run_id}
        row = silver_row(normalise(RawRow(q["_row_number"], raw)), table, lineage, raw, row_id)
        row["_holding_district"] = source.division_code
        if keep is not None and not keep(row):
            continue
        staged_rows.append(row)
    return to_arrow(staged_rows, arrow_schema(table)) if staged_rows else None


def _record_promotion(spark, table: str, moved: dict[str, dict], run_id: str) -> None:
    """Move the promoted rows on their own file's run-log row: quarantined ->
    accepted / duplicate, counted in rows_promoted (see runlog.record_promotion)."""
    from lakehouse.ingest import runlog

    runlog.record_promotion(spark, moved, PROMOTABLE_RULES[0], run_id)


def _drop_from_quarantine(spark, table: str, promoted: DataFrame) -> None:
    lake.merge(spark, lake.table_path("quarantine", "rows"), promoted.withColumn("_table", F.lit(table)),
               "t._table = s._table AND t._file = s._file AND t._file_sha256 = s._file_sha256 "
               "AND t._row_number = s._row_number", delete=True)


# --------------------------------------------------------------------------- refresh


def refresh_silver(spark, catalog: Catalog, changed: DataFrame | None, known_departments: list[str] | None,
                   older=None) -> None:
    """Registry-derived columns of silver rows (current and history) follow
    the registry and the department list as they are now. Each table is read
    once: the rows the change can touch are kept (cached) and everything else
    is computed from them; one Spark job finds the tables with anything to
    change, and only those are merged."""
    if changed is None and known_departments is None:
        return
    touched = {}
    for table in catalog.tables.values():
        for path in (lake.table_path("silver", table.name), lake.table_path("silver", f"{table.name}_history")):
            rows = _touched_rows(spark, table, path, changed, known_departments, older)
            if rows is not None:
                touched[path] = (table, rows)
    try:
        name_keys = _name_keys(spark, touched.values()) if changed is not None else None
        plans = {path: (table, _recomputed(table, rows, name_keys, known_departments))
                 for path, (table, rows) in touched.items()}
        if not plans:
            return
        markers = [new.select(F.lit(path).alias("path")).limit(1) for path, (_, new) in plans.items()]
        dirty = {r["path"] for r in reduce(DataFrame.unionByName, markers).collect()}
        for path in sorted(dirty):
            table, new = plans[path]
            _apply(spark, table, path, new)
    finally:
        for _, rows in touched.values():
            rows.unpersist()


def _name_col(table: Table) -> str | None:
    """The column holding the entity's name as sent (None: the table has none, e.g. website filings)."""
    return next((c for c in ("entity_name", "name") if table.has_column(c)), None)


def _touched_rows(spark, table: Table, path: str, changed: DataFrame | None,
                  known_departments: list[str] | None, older=None) -> DataFrame | None:
    """The rows of `path` the change may touch (cached), with the changed
    entity's registry values beside them (`_r_*`, null when not a changed
    entity's row); None when the change cannot touch the table."""
    by_registry = table.entity_ref and changed is not None
    by_departments = bool(table.columns_referencing("departments")) and known_departments is not None
    if not (by_registry or by_departments) or not lake.exists(spark, path):
        return None
    rows = spark.read.format("delta").load(path)
    if older is not None:     # rows an earlier batch wrote: this batch's own are current already
        rows = rows.where(older)
    touched = F.lit(False)
    if by_registry:
        rows = rows.join(F.broadcast(changed.select("_r_uscc", "_r_district", "_r_name")),
                         rows["uscc"] == F.col("_r_uscc"), "left")
        touched = touched | F.col("_r_uscc").isNotNull()
    if by_departments:
        touched = touched | F.array_contains("flags", "unknown_department")
    return rows.where(touched).cache()


def _name_keys(spark, touched) -> DataFrame:
    """{name as sent -> its name key} for the touched rows of the changed
    entities, as a small DataFrame: the key is the normaliser's own (NFKC)
    form, computed here in Python once per distinct name, not by a Python UDF
    on the workers."""
    names = [rows.where(F.col("_r_uscc").isNotNull()).select(F.col(_name_col(table)).alias("_n_name"))
             for table, rows in touched if table.entity_ref and _name_col(table)]
    distinct = [r[0] for r in reduce(DataFrame.unionByName, names).distinct().collect()] if names else []
    return spark.createDataFrame([(n, name_key(n)) for n in distinct if n is not None],
                                 "_n_name string, _n_key string")


def _recomputed(table: Table, rows: DataFrame, name_keys: DataFrame | None,
                known_departments: list[str] | None) -> DataFrame:
    """Of the touched rows, those whose registry- or department-derived values
    differ from what they hold, recomputed (key columns, derived columns,
    _new_hash)."""
    from lakehouse.ingest import pipeline

    derived = ["flags"]
    if "_r_uscc" in rows.columns:     # joined to the changed entities (_touched_rows)
        hit = F.col("_r_uscc").isNotNull()
        if _name_col(table):
            rows = rows.join(F.broadcast(name_keys), F.col(_name_col(table)) == F.col("_n_name"), "left")
            sent_key = F.col("_n_key")
        else:
            sent_key = F.lit(None).cast("string")
        flags = F.array_except("flags", F.array(F.lit("entity_not_in_registry"), F.lit("name_differs")))
        flags = F.when(sent_key.isNotNull() & F.col("_r_name").isNotNull() & (sent_key != F.col("_r_name")),
                       F.array_union(flags, F.array(F.lit("name_differs")))).otherwise(flags)
        rows = rows.withColumns({"registered_district": F.when(hit, F.col("_r_district"))
                                 .otherwise(F.col("registered_district")),
                                 "flags": F.when(hit, flags).otherwise(F.col("flags"))})
        derived = ["registered_district", "flags"]
    dept_cols = table.columns_referencing("departments")
    if known_departments is not None and dept_cols:
        flagged = F.array_contains("flags", "unknown_department")
        unknown = F.lit(False)
        for c in dept_cols:
            unknown = unknown | (F.col(c).isNotNull() & ~F.col(c).isin(known_departments))
        rows = rows.withColumn("flags", F.when(flagged & ~unknown, F.array_remove("flags", "unknown_department"))
                               .otherwise(F.col("flags")))
    rows = rows.withColumn("flags", F.array_sort(F.array_distinct("flags")))
    rows = rows.withColumn("_new_hash", silver.content_hash(pipeline._content_columns(table)))
    return (rows.where(F.col("_new_hash") != F.col("_row_hash"))
            .select("_file", "_file_sha256", "_row_number", *derived, "_new_hash"))


def _apply(spark, table: Table, path: str, new: DataFrame) -> None:
    """MERGE the recomputed rows (with their fresh _row_hash) into `path`."""
    derived = [c for c in new.columns if c not in ("_file", "_file_sha256", "_row_number", "_new_hash")]
    lake.merge(spark, path, new.withColumnRenamed("_new_hash", "_row_hash"),
               "t._file = s._file AND t._file_sha256 = s._file_sha256 AND t._row_number = s._row_number",
               update_only=[*derived, "_row_hash"])
