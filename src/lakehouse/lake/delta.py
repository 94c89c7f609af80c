"""Where the Delta tables live and the few write patterns every layer uses.

Layout under the lake root (local folder or s3a://):
  bronze/<feed>            every delivered row as strings + lineage
  silver/<table>           current version per natural key (change data feed on)
  silver/<table>_history   every accepted version, append-only
  quarantine/rows          rejected rows with rule ids, reasons, raw values
  ops/file_ledger          one row per delivered file ever processed
  ops/ingest_runs          per file and run: counts that reconcile
  ops/ingest_batches       every batch a run started, with the table versions it
                           started from (how a crashed batch is undone, see
                           ingest/recovery.py)
"""

from __future__ import annotations

import uuid
from pathlib import Path

from lakehouse.config import settings
from lakehouse.lake import faults


def table_path(layer: str, name: str) -> str:
    return settings().lake_path(layer, name)


def is_connect(spark) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def _sql_path(path: str) -> str:
    return "delta.`" + path.replace("`", "``") + "`"


def exists(spark, path: str) -> bool:
    if not is_connect(spark):
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(spark, path)
    if _local_folder(path) is not None:   # the warm engine: its files are on this disk
        return latest_version(spark, path) is not None
    # a remote Spark Connect server: no DeltaTable; asking for the table's detail fails when it is none
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


def merge(spark, path: str, source, condition: str, columns: list[str] | None = None,
          update_only: list[str] | None = None, delete: bool = False) -> None:
    """MERGE source into the Delta table at path on `condition` (t = target,
    s = source): matched rows are updated, others inserted, with `columns`
    (all columns when None). With `update_only`, matched rows get just those
    columns and nothing is inserted; with `delete`, matched rows are deleted.
    SQL over a temporary view, so that it runs the same on a classic session
    and on Spark Connect (which has no DeltaTable API for this Delta)."""
    view = f"_merge_source_{uuid.uuid4().hex}"   # unique: tables merge from several threads at once
    source.createOrReplaceTempView(view)
    if columns is None:
        actions = "UPDATE SET *", "INSERT *"
    else:
        cols = [f"`{c}`" for c in columns]
        actions = ("UPDATE SET " + ", ".join(f"t.{c} = s.{c}" for c in cols),
                   f"INSERT ({', '.join(cols)}) VALUES ({', '.join('s.' + c for c in cols)})")
    clauses = f"WHEN MATCHED THEN {actions[0]} WHEN NOT MATCHED THEN {actions[1]}"
    if update_only is not None:
        clauses = "WHEN MATCHED THEN UPDATE SET " + ", ".join(f"t.`{c}` = s.`{c}`" for c in update_only)
    if delete:
        clauses = "WHEN MATCHED THEN DELETE"
    try:
        spark.sql(f"MERGE INTO {_sql_path(path)} AS t USING {view} AS s ON {condition} {clauses}").collect()
    finally:
        spark.catalog.dropTempView(view)
    faults.after_commit(path)


def ensure_table(spark, path: str, schema, change_feed: bool = False, deletion_vectors: bool = False) -> bool:
    """Create an empty Delta table with `schema` (a StructType) if absent;
    True when it did (the table is then empty).

    Deletion vectors let a MERGE mark replaced rows instead of rewriting every
    file that holds one, so a day's updates cost what they touch, not what
    the table holds."""
    if exists(spark, path):
        add_missing_columns(spark, path, schema)
        return False
    writer = spark.createDataFrame([], schema).write.format("delta").mode("append")
    if change_feed:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    if deletion_vectors:
        writer = writer.option("delta.enableDeletionVectors", "true")
    writer.save(path)
    faults.after_commit(path)
    return True


def _hadoop_path(spark, path: str):
    """(Hadoop Path, its FileSystem) through this process's JVM; None through
    Spark Connect, which has no JVM here."""
    try:
        jvm, conf = spark._jvm, spark._jsc.hadoopConfiguration()
    except Exception:   # Spark Connect
        return None
    if jvm is None:
        return None
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath, hpath.getFileSystem(conf)


def _local_folder(path: str) -> Path | None:
    """The folder as this process sees it, when the files are on this machine's
    disk and a Spark Connect server here writes them (the warm engine): a
    listing then costs milliseconds instead of a Spark job on the server."""
    from lakehouse.lake.connect import engine_on_this_machine

    if ("://" in path and not path.startswith("file:")) or not engine_on_this_machine():
        return None
    return Path(path.removeprefix("file://").removeprefix("file:"))


def latest_version(spark, path: str) -> int | None:
    """The table's latest commit version, None if there is no table: from a
    listing of its _delta_log (milliseconds, where asking Delta for its
    history costs a job), through a local JVM or, for the warm engine, this
    machine's disk; else (a remote Connect server) from its history."""
    log_dir = path.rstrip("/") + "/_delta_log"
    hadoop = _hadoop_path(spark, log_dir)
    if hadoop is not None:
        folder, fs = hadoop
        names = [s.getPath().getName() for s in fs.listStatus(folder)] if fs.exists(folder) else None
    elif (local := _local_folder(log_dir)) is not None:
        names = [p.name for p in local.iterdir()] if local.is_dir() else None
    else:
        if not exists(spark, path):
            return None
        return spark.sql(f"DESCRIBE HISTORY {_sql_path(path)} LIMIT 1").collect()[0]["version"]
    versions = [int(name[:-5]) for name in names or [] if name.endswith(".json") and name[:-5].isdigit()]
    return max(versions) if versions else None


def stored_bytes(spark, layer: str) -> int | None:
    """Bytes stored under the lake's `layer` folder (every version of every
    table), from one listing (Hadoop's, or this machine's disk under the warm
    engine); None through a remote Spark Connect server."""
    hadoop = _hadoop_path(spark, table_path(layer, ""))
    if hadoop is not None:
        folder, fs = hadoop
        return fs.getContentSummary(folder).getLength() if fs.exists(folder) else 0
    local = _local_folder(table_path(layer, ""))
    if local is None:
        return None
    return sum(f.stat().st_size for f in local.rglob("*") if f.is_file()) if local.is_dir() else 0


def add_missing_columns(spark, path: str, schema) -> None:
    """A table written before a column existed (e.g. _promoted_by_run_id) gets it, null in old rows."""
    have = set(spark.read.format("delta").load(path).columns)
    missing = [f for f in schema.fields if f.name not in have]
    if missing:
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in missing)
        spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({cols})")


def file_id(relative_path: str, sha256: str) -> str:
    """A delivered file is its path and its bytes: the same path re-sent with
    other bytes is another file (both kept), the same bytes again are not."""
    return f"{relative_path}@{sha256}"


def source_of(file_id: str) -> str:
    """The source that delivered a file, from its id (landing paths are <source>/<day>/<file>)."""
    return file_id.split("/", 1)[0]


def file_id_col():
    from pyspark.sql import functions as F

    return F.concat(F.col("_file"), F.lit("@"), F.col("_file_sha256"))


def append_once(df, path: str, batch_key: list[str], change_feed: bool = False) -> None:
    """Append df as one Delta commit (nothing when batch_key, the batch's
    file ids, is empty).

    Exactly once per delivered file does not come from here: a batch that
    did not finish is undone, table by table, before the next run ingests
    anything (ingest/recovery.py), and files the ledger holds are never
    staged again. (Delta's txnAppId keyed by the batch's files did not
    survive a retry cut into other batches, and it outlives a RESTORE.)"""
    if not batch_key:
        return
    writer = df.write.format("delta").mode("append")
    if change_feed:
        writer = writer.option("delta.enableChangeDataFeed", "true")
    writer.save(path)
    faults.after_commit(path)
