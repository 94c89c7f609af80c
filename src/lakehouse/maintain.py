"""Keep the lake's Delta tables in shape: a year of daily MERGEs and appends
leaves thousands of small files and a long log.

For every Delta table of the lake (bronze, silver, history, quarantine, ops):
  - OPTIMIZE (bin-packing compaction; also rewrites files carrying deletion
    vectors it picks, so silver's marked rows are purged too),
  - table properties that keep checkpoints regular and the log and deleted
    files long enough for time travel over the retention,
  - VACUUM of files no longer referenced and older than the retention.

Rows never change: compaction commits carry dataChange=false, so the change
data feed (what `lakehouse publish` reads) sees nothing new. VACUUM makes
versions older than the retention unreadable: publish at least once within
LAKEHOUSE_VACUUM_RETAIN_DAYS (the DAGs publish every round).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from lakehouse import lake
from lakehouse.config import settings

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "quarantine", "ops")
# Delta refuses a VACUUM retention under this unless its safety check is lifted
DELTA_MIN_RETAIN_HOURS = 168


@dataclass
class Maintained:
    path: str
    files_before: int
    files_after: int
    vacuumed: int          # files deleted from storage
    rows: int


def maintain(spark=None, retain_days: int | None = None, paths: list[str] | None = None) -> list[Maintained]:
    """Compact, checkpoint and vacuum every Delta table of the lake (or `paths`)."""
    if spark is None:
        from lakehouse.spark import get_spark
        spark = get_spark()
    if lake.is_connect(spark):
        from lakehouse.spark import SparkSetupError

        raise SparkSetupError(
            "lakehouse maintain lists the lake's storage and compacts through Delta's Python API, "
            "which a Spark Connect client lacks: run it without SPARK_REMOTE (it starts a local Spark, "
            "or uses LAKEHOUSE_SPARK_MASTER's cluster)")
    cfg = settings()
    retain_days = cfg.vacuum_retain_days if retain_days is None else retain_days
    if retain_days < 0:
        raise ValueError(f"LAKEHOUSE_VACUUM_RETAIN_DAYS={retain_days}: use 0 or more days")
    if retain_days * 24 < DELTA_MIN_RETAIN_HOURS:
        # the user chose less time travel than Delta's default guard; only the
        # lake_writers pool (one writer at a time) makes this safe
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    from lakehouse import lakelock
    from lakehouse.ingest import recovery

    # Under the ingest's lock: no batch writes meanwhile, and a batch a crash
    # left half done is undone first (VACUUM would delete the versions it needs).
    with lakelock.lake_lock("ingest"):
        recovery.undo_unfinished(spark)
        return _maintain_all(spark, paths, retain_days, cfg.checkpoint_interval)


def _maintain_all(spark, paths, retain_days: int, checkpoint_interval: int):
    from lakehouse.config import table_workers
    from lakehouse.spark import in_parallel

    # tables are independent and most of a small table's time is Spark and
    # Delta latency: a few at once, as the ingest writes them
    tasks = [partial(maintain_table, spark, p, retain_days, checkpoint_interval)
             for p in (paths if paths is not None else lake_tables(spark))]
    return in_parallel(tasks, table_workers())


def maintain_table(spark, path: str, retain_days: int, checkpoint_interval: int) -> Maintained:
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, path)
    before = _num_files(table)
    _set_properties(spark, table, path, retain_days, checkpoint_interval)
    if before > 1:
        table.optimize().executeCompaction()
    after = _num_files(table)
    on_disk = _files_on_disk(spark, path)
    vacuumed = 0
    if on_disk > after:     # files no version in force references: VACUUM (a few Spark jobs) has work
        table.vacuum(retain_days * 24.0)
        vacuumed = max(0, on_disk - _files_on_disk(spark, path))
    rows = spark.read.format("delta").load(path).count()
    log.info("maintain %s: %d -> %d files, %d vacuumed, %d rows", path, before, after, vacuumed, rows)
    return Maintained(path, before, after, vacuumed, rows)


def _num_files(table) -> int:
    return int(table.detail().collect()[0]["numFiles"])


def _set_properties(spark, table, path: str, retain_days: int, checkpoint_interval: int) -> None:
    """Checkpoint every `checkpoint_interval` commits; keep the log (time
    travel) at least 30 days (Delta's default) or the retention if longer, and
    deleted files for the retention. Only written when they differ: each
    change is a commit."""
    wanted = {
        "delta.checkpointInterval": str(checkpoint_interval),
        "delta.logRetentionDuration": f"interval {max(30, retain_days)} days",
        "delta.deletedFileRetentionDuration": f"interval {retain_days} days",
    }
    current = table.detail().collect()[0]["properties"] or {}
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    if changed:
        props = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(changed.items()))
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({props})")


def lake_tables(spark) -> list[str]:
    """Every Delta table under the lake's layers (found on storage, so tables
    other modules add are maintained too)."""
    out = []
    for layer in LAYERS:
        for child in _children(spark, lake.table_path(layer, "")):
            if lake.exists(spark, child):
                out.append(child)
    return sorted(out)


def _hadoop_fs(spark, path: str):
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def _children(spark, folder: str) -> list[str]:
    fs, hpath = _hadoop_fs(spark, folder.rstrip("/"))
    if not fs.exists(hpath):
        return []
    return [folder.rstrip("/") + "/" + s.getPath().getName() for s in fs.listStatus(hpath) if s.isDirectory()]


def _files_on_disk(spark, path: str) -> int:
    """Data files stored under the table (outside _delta_log), referenced or not."""
    fs, hpath = _hadoop_fs(spark, path)
    it = fs.listFiles(hpath, True)
    n = 0
    while it.hasNext():
        p = it.next().getPath().toString()
        if "/_delta_log/" not in p and p.endswith(".parquet"):
            n += 1
    return n


__all__ = ["maintain", "maintain_table", "lake_tables", "Maintained"]
