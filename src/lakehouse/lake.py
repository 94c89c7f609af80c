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
import uuid

from lakehouse.config import settings


def table_path(layer: str, name: str) -> str:
    return settings().lake_path(layer, name)


def _is_connect(spark) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _sql_path(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def exists(spark, path: str) -> bool:
    if not _is_connect(spark):
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(spark, path)
    # Spark Connect: no DeltaTable; asking for the table's detail fails when it is none
    from pyspark.errors import PySparkException

    try:
        return spark.sql(f"DESCRIBE DETAIL {_sql_path(path)}").collect()[0]["format"] == "delta"
    except PySparkException:
        return False


def arrow_frame(spark, table):
    """spark.createDataFrame(an Arrow table), also when it has no rows: Spark
    Connect cannot infer a schema from no rows, so it is given the table's."""
    if table.num_rows == 0:
        from pyspark.sql.pandas.types import from_arrow_schema

        return spark.createDataFrame([], from_arrow_schema(table.schema))
    return spark.createDataFrame(table)


def latest_version(spark, path: str) -> int:
    """The table's newest commit version."""
    return spark.sql(f"DESCRIBE HISTORY {_sql_path(path)} LIMIT 1").collect()[0]["version"]


def merge(spark, path: str, source, condition: str, columns: list[str] | None = None) -> None:
    """MERGE source into the Delta table at path on `condition` (t = target,
    s = source): matched rows are updated, others inserted, with `columns`
    (all columns when None). SQL over a temporary view, so that it runs the
    same on a classic session and on Spark Connect."""
    view = f"_merge_source_{uuid.uuid4().hex}"   # unique: tables merge from several threads at once
    source.createOrReplaceTempView(view)
    if columns is None:
        actions = "UPDATE SET *", "INSERT *"
    else:
        cols = [f"`{c}`" for c in columns]
        actions = ("UPDATE SET " + ", ".join(f"t.{c} = s.{c}" for c in cols),
                   f"INSERT ({', '.join(cols)}) VALUES ({', '.join('s.' + c for c in cols)})")
    try:
        spark.sql(f"MERGE INTO {_sql_path(path)} AS t USING {view} AS s ON {condition} "
                  f"WHEN MATCHED THEN {actions[0]} WHEN NOT MATCHED THEN {actions[1]}").collect()
    finally:
        spark.catalog.dropTempView(view)


def ensure_table(spark, path: str, schema, change_feed: bool = False, deletion_vectors: bool = False) -> None:
    """Create an empty Delta table with `schema` (a StructType) if absent.

    Deletion vectors let a MERGE mark replaced rows instead of rewriting every
    file that holds one, so a day's updates cost what they touch, not what
    the table holds."""
    if exists(spark, path):
        return
    writer = spark.createDataFrame([], schema).write.format("delta").mode("append")
    if change_feed:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    if deletion_vectors:
        writer = writer.option("delta.enableDeletionVectors", "true")
    writer.save(path)


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
