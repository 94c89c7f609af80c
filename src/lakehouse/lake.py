"""Where the Delta tables live and the few write patterns every layer uses.

Layout under the lake root (local folder or s3a://):
  bronze/<feed>            every delivered row as strings + lineage
  silver/<table>           current version per natural key (change data feed on)
  silver/<table>_history   every accepted version, append-only
  quarantine/rows          rejected rows with rule ids, reasons, raw values
  ops/file_ledger          one row per delivered file ever processed
  ops/ingest_runs          per file and run: counts that reconcile
"""

from __future__ import annotations

import hashlib

from lakehouse.config import settings


def table_path(layer: str, name: str) -> str:
    return settings().lake_path(layer, name)


def exists(spark, path: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, path)


def ensure_table(spark, path: str, schema, change_feed: bool = False, deletion_vectors: bool = False) -> None:
    """Create an empty Delta table with `schema` (a StructType) if absent.

    Deletion vectors let a MERGE mark replaced rows instead of rewriting every
    file that holds one, so a day's updates cost what they touch, not what
    the table holds."""
    if exists(spark, path):
        add_missing_columns(spark, path, schema)
        return
    writer = spark.createDataFrame([], schema).write.format("delta").mode("append")
    if change_feed:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    if deletion_vectors:
        writer = writer.option("delta.enableDeletionVectors", "true")
    writer.save(path)


def add_missing_columns(spark, path: str, schema) -> None:
    """A table written before a column existed (e.g. _promoted_by_run_id) gets it, null in old rows."""
    have = set(spark.read.format("delta").load(path).columns)
    missing = [f for f in schema.fields if f.name not in have]
    if missing:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({cols})")


FILE_ID_SQL = "concat(_file, '@', _file_sha256)"


def file_id(relative_path: str, sha256: str) -> str:
    """A delivered file is its path and its bytes: the same path re-sent with
    other bytes is another file (both kept), the same bytes again are not."""
    return f"{relative_path}@{sha256}"


def file_id_col():
    from pyspark.sql import functions as F

    return F.concat(F.col("_file"), F.lit("@"), F.col("_file_sha256"))


def append_once(df, path: str, batch_key: list[str], change_feed: bool = False) -> None:
    """Append df as one Delta commit that happens at most once for this batch.

    Delta's idempotent writes (txnAppId/txnVersion) skip an append whose
    application id was already committed, so a retried task never writes the
    same delivered files twice, without scanning the table (a replaceWhere
    on file ids would read the whole table, growing with history)."""
    if not batch_key:
        return
    app_id = "lakehouse-" + hashlib.sha1("\n".join([path, *sorted(set(batch_key))]).encode()).hexdigest()
    writer = (df.write.format("delta").mode("append")
              .option("txnAppId", app_id).option("txnVersion", 1))
    if change_feed:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    writer.save(path)


def sql_in(values: list[str]) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(set(values))) + ")"
