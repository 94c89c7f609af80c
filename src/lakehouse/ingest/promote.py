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

import logging
from datetime import datetime
from functools import reduce

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import Catalog, Table
from lakehouse.ingest import restage, silver
from lakehouse.ingest.normalise import name_key
from lakehouse.ingest.prepare import References, prepare_table
from lakehouse.ingest.staging import ROW_ID, StagedBatch, StagedFile, arrow_schema
from lakehouse.lake import delta
from lakehouse.lake.spark import map_output_schema

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
            promoted = promote_quarantined(spark, catalog, run_id, report, changed, older)
        try:
            refresh_silver(spark, catalog, changed, _known_departments(spark, merged_references), older)
        finally:
            if changed is not None:
                changed.unpersist()
    return promoted


def _changed_entities(spark, run_id: str) -> DataFrame | None:
    """Registry rows this run merged (new entities and new versions), cached; None if none."""
    path = delta.table_path("silver", "entities")
    if not delta.exists(spark, path):
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
    path = delta.table_path("silver", "departments")
    if "departments" not in merged_references or not delta.exists(spark, path):
        return None
    return [r[0] for r in spark.read.format("delta").load(path).select("department_code").distinct().collect()]


# --------------------------------------------------------------------------- promotion

def promote_quarantined(spark, catalog: Catalog, run_id: str, report, changed: DataFrame,
                        older=None) -> dict[str, int]:
    """Promote what the registry's `changed` entities now resolve, table by
    table; the rows are re-staged in the executors, none reaches the driver."""
    qpath = delta.table_path("quarantine", "rows")
    tables = {n: t for n, t in catalog.tables.items() if t.entity_ref}
    if not delta.exists(spark, qpath) or not delta.exists(spark, delta.table_path("silver", "entities")):
        return {}
    candidates = (spark.read.format("delta").load(qpath)
                  .where(F.col("_table").isin(sorted(tables)))
                  .where(F.array_sort("rule_ids") == F.array(*[F.lit(r) for r in PROMOTABLE_RULES]))
                  .where(older if older is not None else F.lit(True)))
    names = restage.tables_with_hits(catalog, candidates, run_id, changed)
    if not names:
        return {}
    refs = References(spark, catalog.rules)
    done: dict[str, int] = {}
    try:
        for name in names:
            n = _promote_table(spark, catalog, tables[name], candidates.where(F.col("_table") == name), run_id,
                               report, refs, changed)
            if n:
                done[name] = n
    finally:
        refs.invalidate()
    if done:
        log.info("promoted from the quarantine: %s", done)
    return done


def _promote_table(spark, catalog: Catalog, table: Table, candidates: DataFrame, run_id: str, report, refs,
                   changed: DataFrame) -> int:
    """Re-stage `candidates` (quarantine rows of `table`), resolve those the
    registry's change may resolve as fresh rows and write those that now do.
    Returns how many left the quarantine."""
    batch = _restaged_batch(spark, catalog, table, candidates, run_id, changed)
    if batch is None:
        return 0
    plan = prepare_table(spark, table, batch, run_id, report, refs, fresh_files=False)
    try:
        blocked = set(plan.gate.blocked_sources)
        if blocked:
            log.warning("%s: promotion held back for %s: %s", table.name, sorted(blocked), plan.gate.failures)
        moved = {f: c for f, c in plan.counts.items()
                 if delta.source_of(f) not in blocked and (c["accepted"] or c["duplicate"])}
        if not moved:
            return 0
        keep = ~F.col("_source").isin(sorted(blocked)) if blocked else F.lit(True)
        accepted, winners = plan.accepted.where(keep), plan.winners.where(keep)
        # rows that now resolve: accepted or duplicate (_rules empty), of moved files
        key = ["_file", "_file_sha256", "_row_number"]
        promoted = (batch.rows[table.name].select(*key)
                    .join(plan.quarantine.select(*key), key, "left_anti")
                    .where(delta.file_id_col().isin(sorted(moved))).cache())
        n, digest = promoted.agg(F.count(F.lit(1)), F.sha1(F.concat_ws("\n", F.array_sort(F.collect_list(
            F.concat("_file", F.lit("@"), "_file_sha256", F.lit("#"), F.col("_row_number").cast("string"))))))
        ).first()
        current_path = delta.table_path("silver", table.name)
        if sum(c["accepted"] for c in moved.values()):
            # one history append per set of promoted rows: a retry of the same promotion adds nothing
            delta.append_once(accepted, delta.table_path("silver", f"{table.name}_history"), ["promoted:" + digest])
            silver.merge_current(spark, current_path, winners, table.key, silver.columns(table))
        _record_promotion(spark, table.name, moved, run_id)
        _drop_from_quarantine(spark, table.name, promoted)
        promoted.unpersist()
        return n
    finally:
        plan.release()
        batch.release()


def _restaged_batch(spark, catalog: Catalog, table: Table, candidates: DataFrame, run_id: str,
                    changed: DataFrame) -> StagedBatch | None:
    """The candidates normalised again in the executors, kept if one of their
    identifiers is among what the registry learnt in this run (the rest of the
    registry is what they were resolved against before), as a batch of their
    files (already ingested) for prepare_table; None if none is kept."""
    # persisted: each look-up below (and the row ids they agree on) must see one re-staging
    restaged = (candidates.select(*restage.RESTAGED_FROM, F.monotonically_increasing_id().alias(ROW_ID))
                .mapInArrow(restage.restage_task(catalog, table.name, run_id),
                            map_output_schema(candidates.sparkSession, arrow_schema(table)))
                .persist())
    learnt = restage.learnt_keys(changed)
    hits = reduce(DataFrame.union, [restaged.join(keys.where(F.col("_k").isNotNull()).distinct(),
                                                  F.col(column) == F.col("_k"), "left_semi").select(ROW_ID)
                                    for column, keys in learnt.items()])
    kept = restaged.join(hits.distinct(), ROW_ID, "left_semi").persist()
    files = kept.select("_source", "_delivery_date", "_file", "_file_sha256").distinct().collect()
    rows = kept.count()      # kept is whole in the cache before the re-staging it came from leaves it
    restaged.unpersist()
    if not files:
        kept.unpersist()
        return None
    batch = StagedBatch(files=[StagedFile(f["_source"], f["_delivery_date"], table.feed, f["_file"],
                                          f["_file_sha256"], 0) for f in files],
                        persisted=[kept])
    batch.rows[table.name] = kept
    batch.row_counts[table.name] = rows
    return batch


def _record_promotion(spark, table: str, moved: dict[str, dict], run_id: str) -> None:
    """Move the promoted rows on their own file's run-log row: quarantined ->
    accepted / duplicate, counted in rows_promoted (see runlog.record_promotion)."""
    from lakehouse.ingest import runlog

    runlog.record_promotion(spark, moved, PROMOTABLE_RULES[0], run_id)


def _drop_from_quarantine(spark, table: str, promoted: DataFrame) -> None:
    delta.merge(spark, delta.table_path("quarantine", "rows"), promoted.withColumn("_table", F.lit(table)),
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
    touched, name_keys = {}, None
    for table in catalog.tables.values():
        for path in (delta.table_path("silver", table.name), delta.table_path("silver", f"{table.name}_history")):
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
        if name_keys is not None:
            name_keys.unpersist()


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
    if not (by_registry or by_departments) or not delta.exists(spark, path):
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
    entities, as a small checkpointed DataFrame: the key is the normaliser's
    own (NFKC) form, computed in the executors once per distinct name, not by
    a Python UDF per row."""
    names = [rows.where(F.col("_r_uscc").isNotNull()).select(F.col(_name_col(table)).alias("_n_name"))
             for table, rows in touched if table.entity_ref and _name_col(table)]
    schema = "_n_name string, _n_key string"
    if not names:
        return spark.createDataFrame([], schema)
    distinct = reduce(DataFrame.unionByName, names).where(F.col("_n_name").isNotNull()).distinct()
    # Checkpointed (filled once, here), not cached: with the Python step still
    # in their plans, the markers' job and every MERGE that broadcast the keys
    # took 9 s more in all on a later day of the 40-day city slice (heal 34 s
    # against 21 s).
    return distinct.mapInArrow(_name_key_task, schema).localCheckpoint()


def _name_key_task(batches):
    for batch in batches:
        names = batch.column("_n_name").to_pylist()
        yield pa.RecordBatch.from_pydict({"_n_name": names, "_n_key": [name_key(n) for n in names]},
                                         schema=pa.schema([("_n_name", pa.string()), ("_n_key", pa.string())]))


def _recomputed(table: Table, rows: DataFrame, name_keys: DataFrame | None,
                known_departments: list[str] | None) -> DataFrame:
    """Of the touched rows, those whose registry- or department-derived values
    differ from what they hold, recomputed (key columns, derived columns,
    _new_hash)."""
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
    rows = rows.withColumn("_new_hash", silver.content_hash(silver.content_columns(table)))
    return (rows.where(F.col("_new_hash") != F.col("_row_hash"))
            .select("_file", "_file_sha256", "_row_number", *derived, "_new_hash"))


def _apply(spark, table: Table, path: str, new: DataFrame) -> None:
    """MERGE the recomputed rows (with their fresh _row_hash) into `path`."""
    derived = [c for c in new.columns if c not in ("_file", "_file_sha256", "_row_number", "_new_hash")]
    delta.merge(spark, path, new.withColumnRenamed("_new_hash", "_row_hash"),
               "t._file = s._file AND t._file_sha256 = s._file_sha256 AND t._row_number = s._row_number",
               update_only=[*derived, "_row_hash"])
