"""One table's part of a batch made ready to write: its staged rows
resolved against the registry and the department list, classified (new
version / duplicate / quarantined), counted per file and validated by the
Great Expectations gate. Nothing is written here: the pipeline writes fresh
batches, promote.py the rows the registry's catch-up promotes, both through
`prepare_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import Rule, Table
from lakehouse.ingest import resolve, silver
from lakehouse.ingest.quality.gate import GateResult, validate_batch
from lakehouse.ingest.staging import RAW, ROW_ID, RULES, StagedBatch
from lakehouse.lake import delta

log = logging.getLogger(__name__)

BROADCAST_ROWS = 50_000   # a batch this small is joined to the registry and to silver by broadcast, not by shuffle


def read_current(spark, name: str):
    path = delta.table_path("silver", name)
    return spark.read.format("delta").load(path) if delta.exists(spark, path) else None


class References:
    """The registry index and the department list, read once and reused by
    every table of the batch until a reference table is merged again."""

    def __init__(self, spark, rules: Mapping[str, Rule]):
        self.spark = spark
        self.rules = rules      # schemas/rules.yaml: the reasons resolution gives
        self._registry: resolve.RegistryIndex | None = None
        self._departments = None

    def registry(self) -> resolve.RegistryIndex:
        if self._registry is None:
            self._registry = resolve.RegistryIndex(self.spark, read_current(self.spark, "entities"))
        return self._registry

    def departments(self):
        if self._departments is None:
            current = read_current(self.spark, "departments")
            if current is not None:
                self._departments = current.select("department_code").distinct().cache()
        return self._departments

    def prepare(self) -> None:
        """Build both before tables share them across threads."""
        self.registry()
        self.departments()

    def invalidate(self) -> None:
        if self._registry is not None:
            self._registry.unpersist()
        if self._departments is not None:
            self._departments.unpersist()
        self._registry = self._departments = None


@dataclass
class TablePlan:
    """One table's part of the batch, resolved, classified and validated,
    waiting to be written."""
    table: Table
    file_ids: list[str]
    accepted: DataFrame
    winners: DataFrame
    quarantine: DataFrame
    counts: dict[str, dict]
    gate: GateResult
    cached: list[DataFrame]

    def release(self) -> None:
        for df in self.cached:
            df.unpersist()


def prepare_table(spark, table: Table, batch: StagedBatch, run_id: str, report,
                   refs: References, fresh_files: bool = True, narrow: bool = False) -> TablePlan:
    """Resolve, classify (new version / duplicate / quarantined), count per
    file and validate one table's rows; nothing is written yet. `fresh_files`:
    the batch's files were never ingested (False: rows promoted out of the
    quarantine, whose files are in silver already). `narrow`: classify a
    batch of at most BROADCAST_ROWS against silver's rows of its keys only."""
    log.info("  %s: %d files", table.name, len(batch.file_ids(table.feed)))
    with report.timed("resolve_classify"):
        staged = batch.rows[table.name]
        # The raw values are only needed by quarantined rows: kept out of the
        # joins and windows below, where they would double every row's width.
        raw = staged.select(ROW_ID, RAW)
        df = staged.drop(RAW)
        small_batch = batch.row_counts[table.name] <= BROADCAST_ROWS
        if table.entity_ref:
            df = resolve.resolve_entities(df, refs.registry(), refs.rules, small_batch=small_batch)
        dept_cols = table.columns_referencing("departments")
        if dept_cols:
            df = resolve.flag_unknown_departments(df, refs.departments(), dept_cols)
        df = df.withColumns({"flags": F.array_sort(F.array_distinct("flags")),
                             "_row_hash": silver.content_hash(silver.content_columns(table))}).cache()
        bad = df.where(F.size(RULES) > 0)
        good = df.where(F.size(RULES) == 0).select(*silver.columns(table))
        file_ids = batch.file_ids(table.feed)
        history_path = delta.table_path("silver", f"{table.name}_history")
        history = spark.read.format("delta").load(history_path) if delta.exists(spark, history_path) else None
        classified = silver.classify(good, read_current(spark, table.name), history, table.key,
                                     table.version_column, file_ids, files_in_current=not fresh_files,
                                     narrow=narrow and small_batch).cache()
        counts = silver.per_file_counts(classified.withColumn("_file", delta.file_id_col()),
                                        bad.withColumn("_file", delta.file_id_col()))
    accepted = classified.where("_outcome = 'accepted'")
    winners = silver.latest_per_key(accepted, table.key).select(*silver.columns(table)).cache()
    n_accepted = sum(c["accepted"] for c in counts.values())
    with report.timed("expectations"):
        gate = validate_batch(table.name, winners, run_id, n_accepted) if n_accepted else GateResult(True)
    return TablePlan(table, file_ids, accepted.select(*silver.columns(table)), winners,
                      silver.quarantine_rows(bad.join(raw, ROW_ID), table.name, table.key), counts, gate,
                      [df, classified, winners])
