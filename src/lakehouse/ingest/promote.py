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
silver and quarantine tables (see README, "The registry catching up").
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse import lake
from lakehouse.catalog import Catalog, Table
from lakehouse.ingest import silver
from lakehouse.ingest.staging import StagedBatch, StagedFile, _silver_row, arrow_schema, to_arrow
from lakehouse.normalise import make_row_normaliser, name_key
from lakehouse.readers.base import RawRow

log = logging.getLogger(__name__)

# Quarantined rows that a registry entry could heal: nothing else was wrong with them.
PROMOTABLE_RULES = ["uscc_unresolved"]


def heal(spark, catalog: Catalog, run_id: str, report, merged_references: set[str]) -> dict[str, int]:
    """Promote and refresh after a batch merged `merged_references`
    (a subset of {"entities", "departments"}). Returns rows promoted per table."""
    if not merged_references:
        return {}
    promoted: dict[str, int] = {}
    with report.timed("heal"):
        if "entities" in merged_references:
            promoted = promote_quarantined(spark, catalog, run_id, report)
        refresh_silver(spark, catalog, run_id, merged_references)
    return promoted


# --------------------------------------------------------------------------- promotion


def promote_quarantined(spark, catalog: Catalog, run_id: str, report) -> dict[str, int]:
    from lakehouse.ingest import pipeline

    qpath = lake.table_path("quarantine", "rows")
    tables = {n: t for n, t in catalog.tables.items() if t.entity_ref}
    if not lake.exists(spark, qpath) or not lake.exists(spark, lake.table_path("silver", "entities")):
        return {}
    candidates = (spark.read.format("delta").load(qpath)
                  .where(F.col("_table").isin(sorted(tables)))
                  .where(F.array_sort("rule_ids") == F.array(*[F.lit(r) for r in PROMOTABLE_RULES]))
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
            n = _promote_table(spark, catalog, tables[name], rows, run_id, report, refs)
            if n:
                done[name] = n
    finally:
        refs.invalidate()
    if done:
        log.info("promoted from the quarantine: %s", done)
    return done


def _promote_table(spark, catalog: Catalog, table: Table, rows: list, run_id: str, report, refs) -> int:
    """Re-stage `rows` (quarantine rows of `table`), resolve them as fresh rows
    and write those that now resolve. Returns how many left the quarantine."""
    from lakehouse.ingest import pipeline

    batch = _restage(catalog, table, rows, run_id)
    plan = pipeline._prepare_table(spark, table, batch, run_id, report, refs)
    try:
        blocked = set(plan.gate.blocked_sources)
        if blocked:
            log.warning("%s: promotion held back for %s: %s", table.name, sorted(blocked), plan.gate.failures)
        moved = {f: c for f, c in plan.counts.items()
                 if f.split("/", 1)[0] not in blocked and (c["accepted"] or c["duplicate"])}
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


def _restage(catalog: Catalog, table: Table, rows: list, run_id: str) -> StagedBatch:
    """Quarantine rows -> the staged silver rows their files gave, normalised
    again from the raw values with the header map of their delivery day."""
    batch = StagedBatch()
    files: dict[str, StagedFile] = {}
    staged_rows = []
    for row_id, q in enumerate(sorted(rows, key=lambda r: (r["_delivery_date"], r["_file"], r["_row_number"]))):
        source = catalog.sources[q["_source"]]
        raw = dict(q["raw"] or {})
        normalise = make_row_normaliser(table, source, catalog, q["_delivery_date"], list(raw))
        lineage = {"_source": q["_source"], "_delivery_date": q["_delivery_date"], "_file": q["_file"],
                   "_file_sha256": q["_file_sha256"], "_ingest_run_id": q["_ingest_run_id"],
                   "_ingested_at": q["_ingested_at"], "_promoted_by_run_id": run_id}
        row = _silver_row(normalise(RawRow(q["_row_number"], raw)), table, lineage, raw, row_id)
        row["_holding_district"] = source.division_code
        staged_rows.append(row)
        fid = lake.file_id(q["_file"], q["_file_sha256"])
        if fid not in files:
            files[fid] = StagedFile(q["_source"], q["_delivery_date"], table.feed, q["_file"], q["_file_sha256"], 0)
    batch.files = list(files.values())
    batch.silver[table.name].append(to_arrow(staged_rows, arrow_schema(table)))
    return batch


def _record_promotion(spark, table: str, moved: dict[str, dict], run_id: str) -> None:
    """Move the promoted rows on their own file's run-log row: quarantined ->
    accepted / duplicate, counted in rows_promoted (see runlog.record_promotion)."""
    from lakehouse.ingest import runlog

    runlog.record_promotion(spark, moved, PROMOTABLE_RULES[0], run_id)


def _drop_from_quarantine(spark, table: str, promoted: DataFrame) -> None:
    from delta.tables import DeltaTable

    (DeltaTable.forPath(spark, lake.table_path("quarantine", "rows")).alias("t")
     .merge(promoted.withColumn("_table", F.lit(table)).alias("s"),
            "t._table = s._table AND t._file = s._file AND t._file_sha256 = s._file_sha256 "
            "AND t._row_number = s._row_number")
     .whenMatchedDelete().execute())


# --------------------------------------------------------------------------- refresh


def refresh_silver(spark, catalog: Catalog, run_id: str, merged_references: set[str]) -> None:
    """Registry-derived columns of silver rows follow the registry as it is now."""
    entities_path = lake.table_path("silver", "entities")
    changed = None
    if "entities" in merged_references and lake.exists(spark, entities_path):
        changed = (spark.read.format("delta").load(entities_path).where(F.col("_ingest_run_id") == run_id)
                   .select(F.col("uscc").alias("_r_uscc"), F.col("registered_district").alias("_r_district"),
                           F.element_at("name_keys", 1).alias("_r_name")).cache())
        if changed.limit(1).count() == 0:
            changed.unpersist()
            changed = None
    departments = None
    dpath = lake.table_path("silver", "departments")
    if "departments" in merged_references and lake.exists(spark, dpath):
        departments = (spark.read.format("delta").load(dpath)
                       .select(F.col("department_code").alias("_known")).distinct().cache())
    try:
        for table in catalog.tables.values():
            dept_cols = [c.name for c in table.columns if getattr(c, "references", None) == "departments"]
            for path in (lake.table_path("silver", table.name), lake.table_path("silver", f"{table.name}_history")):
                if not lake.exists(spark, path):
                    continue
                if table.entity_ref and changed is not None:
                    _refresh_registry(spark, table, path, changed)
                if dept_cols and departments is not None:
                    _refresh_departments(spark, table, path, dept_cols, departments)
    finally:
        for df in (changed, departments):
            if df is not None:
                df.unpersist()


def _refresh_registry(spark, table: Table, path: str, changed: DataFrame) -> None:
    rows = spark.read.format("delta").load(path)
    name_col = "entity_name" if table.has_column("entity_name") else "name"
    joined = rows.join(F.broadcast(changed), rows["uscc"] == changed["_r_uscc"], "inner")
    derived = ["entity_not_in_registry", "name_differs"]
    sent_key = F.udf(name_key, "string")(F.col(name_col))   # the normaliser's own name form
    flags = F.array_except("flags", F.array(*[F.lit(f) for f in derived]))
    flags = F.when(sent_key.isNotNull() & F.col("_r_name").isNotNull() & (sent_key != F.col("_r_name")),
                   F.array_union(flags, F.array(F.lit("name_differs")))).otherwise(flags)
    new = joined.withColumns({"registered_district": F.col("_r_district"),
                              "flags": F.array_sort(F.array_distinct(flags))})
    _apply(spark, table, path, new)


def _refresh_departments(spark, table: Table, path: str, dept_cols: list[str], departments: DataFrame) -> None:
    rows = spark.read.format("delta").load(path).where(F.array_contains("flags", "unknown_department"))
    known = [r["_known"] for r in departments.collect()]
    unknown = F.lit(False)
    for c in dept_cols:
        unknown = unknown | (F.col(c).isNotNull() & ~F.col(c).isin(known))
    flags = F.when(unknown, F.col("flags")).otherwise(F.array_remove("flags", "unknown_department"))
    _apply(spark, table, path, rows.withColumn("flags", flags))


def _apply(spark, table: Table, path: str, new: DataFrame) -> None:
    """MERGE the recomputed rows (with a fresh _row_hash) where anything changed."""
    from delta.tables import DeltaTable

    from lakehouse.ingest import pipeline

    derived = (["registered_district"] if table.entity_ref else []) + ["flags"]
    new = new.withColumn("_new_hash", silver.content_hash(pipeline._content_columns(table)))
    new = (new.where(F.col("_new_hash") != F.col("_row_hash"))
           .select("_file", "_file_sha256", "_row_number", *derived, "_new_hash"))
    if new.limit(1).count() == 0:
        return
    sets = {**{c: f"s.{c}" for c in derived}, "_row_hash": "s._new_hash"}
    (DeltaTable.forPath(spark, path).alias("t")
     .merge(new.alias("s"), "t._file = s._file AND t._file_sha256 = s._file_sha256 AND t._row_number = s._row_number")
     .whenMatchedUpdate(set=sets).execute())
