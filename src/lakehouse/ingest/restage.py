"""Quarantined rows staged again from their raw values, in the executors:
what the registry's catch-up (promote.py) re-resolves. A quarantine row
keeps its lineage and the values as sent; re-staging runs the same
normaliser with the header map of its delivery day."""

from __future__ import annotations

from functools import reduce

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.catalog import Catalog, Table
from lakehouse.ingest.normalise import make_row_normaliser
from lakehouse.ingest.readers.base import RawRow
from lakehouse.ingest.staging import ROW_ID, arrow_schema, silver_row, to_arrow
from lakehouse.lake.spark import map_output_schema

# The quarantine's columns a row is re-staged from (its lineage and raw values).
RESTAGED_FROM = ["_source", "_delivery_date", "_file", "_file_sha256", "_row_number", "_ingest_run_id",
                  "_ingested_at", "raw"]


# What a re-staged row is looked up by: the same for every table.
_IDENTIFIERS = pa.schema([("_table", pa.string()), ("_uscc_norm", pa.string()), ("_reg_no", pa.string()),
                          ("_name_key", pa.string())])


def learnt_keys(changed: DataFrame) -> dict[str, DataFrame]:
    """A staged row's identifier column -> what the registry learnt of it in
    this run (`changed`: promote's changed entities), as a column `_k`."""
    return {"_uscc_norm": changed.select(F.col("_r_uscc").alias("_k")),
            "_reg_no": changed.select(F.col("_r_reg_no").alias("_k")),
            "_name_key": changed.select(F.explode("_r_names").alias("_k"))}


def tables_with_hits(catalog: Catalog, candidates: DataFrame, run_id: str, changed: DataFrame) -> list[str]:
    """The tables with a quarantined row that one of the registry's new
    identifiers may now resolve, in one Spark job over every table's
    candidates (re-staged for their identifiers only): most days none, and
    then no table is re-staged in full."""
    keys = [*RESTAGED_FROM, "_table"]
    # persisted: the three look-ups below would each re-stage the candidates again
    ids = (candidates.select(*keys)
           .mapInArrow(_identifiers_task(catalog, run_id), map_output_schema(candidates.sparkSession, _IDENTIFIERS))
           .persist())
    try:
        learnt = learnt_keys(changed)
        hits = reduce(DataFrame.union, [ids.join(F.broadcast(k.where(F.col("_k").isNotNull()).distinct()),
                                                 F.col(column) == F.col("_k"), "left_semi").select("_table")
                                        for column, k in learnt.items()])
        return sorted(r["_table"] for r in hits.distinct().collect())
    finally:
        ids.unpersist()


def _identifiers_task(catalog: Catalog, run_id: str):
    """The function Spark runs over batches of quarantine rows of any table."""
    def run(batches):
        for batch in batches:
            by_table: dict[str, list] = {}
            for row in batch.to_pylist():
                by_table.setdefault(row["_table"], []).append(row)
            for name, rows in by_table.items():
                staged = restage(catalog, catalog.tables[name], rows, run_id)
                if staged is not None:
                    cols = {c: staged.column(c) for c in ("_uscc_norm", "_reg_no", "_name_key")}
                    yield from pa.table({"_table": [name] * staged.num_rows, **cols}, schema=_IDENTIFIERS).to_batches()
    return run


def restage_task(catalog: Catalog, table_name: str, run_id: str):
    """The function Spark runs over batches of quarantine rows."""
    def run(batches):
        table = catalog.tables[table_name]
        for batch in batches:
            staged = restage(catalog, table, batch.to_pylist(), run_id)
            if staged is not None:
                yield from staged.to_batches()
    return run


def restage(catalog: Catalog, table: Table, rows: list, run_id: str):
    """Quarantine rows -> the staged silver rows (an Arrow table, None if none)
    their files gave, normalised again from the raw values with the header map
    of their delivery day. A row's `_row_id`, if it has one, is kept."""
    staged_rows = []
    for row_id, q in enumerate(sorted(rows, key=lambda r: (r["_delivery_date"], r["_file"], r["_row_number"]))):
        source = catalog.sources[q["_source"]]
        raw = dict(q["raw"] or {})
        normalise = make_row_normaliser(table, source, catalog, q["_delivery_date"], list(raw))
        lineage = {"_source": q["_source"], "_delivery_date": q["_delivery_date"], "_file": q["_file"],
                   "_file_sha256": q["_file_sha256"], "_ingest_run_id": q["_ingest_run_id"],
                   "_ingested_at": q["_ingested_at"], "_promoted_by_run_id": run_id}
        row = silver_row(normalise(RawRow(q["_row_number"], raw)), table, lineage, raw, q.get(ROW_ID, row_id))
        row["_holding_district"] = source.division_code
        staged_rows.append(row)
    return to_arrow(staged_rows, arrow_schema(table)) if staged_rows else None
