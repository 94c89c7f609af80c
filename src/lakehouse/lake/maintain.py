"""Keep the lake's Delta tables in shape: a year of daily MERGEs and appends
leaves thousands of small files and a long log.

For every Delta table of the lake (bronze, silver, history, quarantine, ops):
  - OPTIMIZE (bin-packing compaction; also rewrites files carrying deletion
    vectors it picks, so silver's marked rows are purged too),
  - table properties that keep checkpoints regular and the log and deleted
    files long enough for time travel over the retention,
  - VACUUM of files no longer referenced and older than the retention.

Each step runs only when it has work, decided from the table's own metadata
(DESCRIBE DETAIL and DESCRIBE HISTORY, no scan of its files): OPTIMIZE when
the table has more than one file and was written since its last maintenance,
VACUUM when a commit since the last VACUUM removed files longer ago than the
retention. What the last maintenance did is kept in the table property
`lakehouse.maintenance` ({"version": ..., "vacuumed": ...}). Files a killed
write left behind without a commit never show in the log: maintaining
chosen `paths` vacuums them regardless.

Rows never change: compaction commits carry dataChange=false, so the change
data feed (what `lakehouse publish` reads) sees nothing new. VACUUM makes
versions older than the retention unreadable: publish at least once within
LAKEHOUSE_VACUUM_RETAIN_DAYS (the DAGs publish every round).

All of it is SQL, so it runs on a local session and on a Spark Connect
server alike.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from lakehouse.config import settings
from lakehouse.lake import delta

log = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "quarantine", "ops")
# Delta refuses a VACUUM retention under this unless its safety check is lifted
DELTA_MIN_RETAIN_HOURS = 168
STATE = "lakehouse.maintenance"


@dataclass
class Maintained:
    path: str
    files_before: int
    files_after: int
    vacuumed: int          # files deleted from storage
    compacted: bool = False
    vacuum_ran: bool = False

    @property
    def changed(self) -> bool:
        return self.compacted or self.vacuum_ran


def maintain(undo_unfinished, spark=None, retain_days: int | None = None,
             paths: list[str] | None = None) -> list[Maintained]:
    """Compact, checkpoint and vacuum every Delta table of the lake (or `paths`).
    `undo_unfinished(spark)` runs first, under the ingest's lock: the ingest's
    undo of a batch a crash left half done (ingest.recovery), which VACUUM
    would make impossible by deleting the versions it restores."""
    if spark is None:
        from lakehouse.lake.spark import get_spark
        spark = get_spark()
    cfg = settings()
    retain_days = cfg.vacuum_retain_days if retain_days is None else retain_days
    if retain_days < 0:
        raise ValueError(f"LAKEHOUSE_VACUUM_RETAIN_DAYS={retain_days}: use 0 or more days")
    if retain_days * 24 < DELTA_MIN_RETAIN_HOURS:
        # the user chose less time travel than Delta's default guard; only the
        # lake_writers pool (one writer at a time) makes this safe
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    from lakehouse.lake import lakelock

    # Under the ingest's lock: no batch writes meanwhile, and a batch a crash
    # left half done is undone first (VACUUM would delete the versions it needs).
    with lakelock.lake_lock("ingest"):
        undo_unfinished(spark)
        return _maintain_all(spark, paths, retain_days, cfg.checkpoint_interval)


def _maintain_all(spark, paths, retain_days: int, checkpoint_interval: int):
    from lakehouse.config import table_workers
    from lakehouse.lake.spark import in_parallel

    # tables are independent and most of a small table's time is Spark and
    # Delta latency: a few at once, as the ingest writes them
    forced = paths is not None
    tasks = [partial(maintain_table, spark, p, retain_days, checkpoint_interval, forced)
             for p in (paths if forced else lake_tables(spark))]
    with _quiet_vacuum(spark):
        done = in_parallel(tasks, table_workers())
    log.info("maintain: %d tables, %d compacted, %d vacuumed (%d files), %d unchanged", len(done),
             sum(m.compacted for m in done), sum(m.vacuum_ran for m in done), sum(m.vacuumed for m in done),
             sum(not m.changed for m in done))
    return done


def maintain_table(spark, path: str, retain_days: int, checkpoint_interval: int,
                   force_vacuum: bool = False) -> Maintained:
    detail = spark.sql(f"DESCRIBE DETAIL {delta._sql_path(path)}").collect()[0]
    before, properties = int(detail["numFiles"]), dict(detail["properties"] or {})
    state = json.loads(properties.get(STATE, "{}"))
    history = _history_since(spark, path, min(state.get("version", -1), state.get("vacuumed", -1)))
    written = any(h["version"] > state.get("version", -1) for h in history)
    compact = before > 1 and written
    if compact:
        spark.sql(f"OPTIMIZE {delta._sql_path(path)}")
        history += _history_since(spark, path, max(h["version"] for h in history))   # its removals too
    cutoff = time.time() - retain_days * 86400
    due = [h["version"] for h in history if h["version"] > state.get("vacuumed", -1) and h["removed"]
           and h["at"] <= cutoff]
    vacuum = force_vacuum or bool(due)
    vacuumed = 0
    if vacuum:
        on_disk = _files_on_disk(spark, path)
        spark.sql(f"VACUUM {delta._sql_path(path)} RETAIN {retain_days * 24} HOURS")
        vacuumed = max(0, on_disk - _files_on_disk(spark, path))
        # every removal up to the newest commit older than the cutoff is gone now
        state["vacuumed"] = max([h["version"] for h in history if h["at"] <= cutoff] + [state.get("vacuumed", -1)])
    after = int(spark.sql(f"DESCRIBE DETAIL {delta._sql_path(path)}").collect()[0]["numFiles"]) if compact else before
    _set_properties(spark, path, properties, retain_days, checkpoint_interval, state, worked=compact or vacuum)
    if compact or vacuum:
        log.info("maintain %s: %d -> %d files, %d vacuumed", path, before, after, vacuumed)
    return Maintained(path, before, after, vacuumed, compact, vacuum)


def _history_since(spark, path: str, version: int) -> list[dict]:
    """Commits after `version`: their version, time (epoch s) and whether they removed files."""
    rows = (spark.sql(f"DESCRIBE HISTORY {delta._sql_path(path)}")
            .where(f"version > {int(version)}").select("version", "timestamp", "operationMetrics").collect())
    return [{"version": r["version"], "at": r["timestamp"].timestamp(),
             "removed": any("removed" in k.lower() and str(v) not in ("0", "")
                            for k, v in (r["operationMetrics"] or {}).items())}
            for r in rows]


def _set_properties(spark, path: str, current: dict, retain_days: int, checkpoint_interval: int,
                    state: dict, worked: bool) -> None:
    """Checkpoint every `checkpoint_interval` commits; keep the log (time
    travel) at least 30 days (Delta's default) or the retention if longer, and
    deleted files for the retention; and what this maintenance did (STATE,
    with the version of this very commit). Only written when something
    differs: each change is a commit."""
    wanted = {
        "delta.checkpointInterval": str(checkpoint_interval),
        "delta.logRetentionDuration": f"interval {max(30, retain_days)} days",
        "delta.deletedFileRetentionDuration": f"interval {retain_days} days",
    }
    if not worked and all(current.get(k) == v for k, v in wanted.items()):
        return
    # under the lake lock nobody else commits: this ALTER is the next version
    wanted[STATE] = json.dumps({**state, "version": delta.latest_version(spark, path) + 1}, sort_keys=True)
    changed = {k: v for k, v in wanted.items() if current.get(k) != v}
    props = ", ".join(f"'{k}' = '{v}'" for k, v in sorted(changed.items()))
    spark.sql(f"ALTER TABLE {delta._sql_path(path)} SET TBLPROPERTIES ({props})")


@contextmanager
def _quiet_vacuum(spark):
    """Delta's VACUUM prints "Deleted N files ..." on the JVM's standard
    output (println, not a logger); a local JVM shares this process's
    terminal, so its System.out goes nowhere meanwhile. (On Spark Connect the
    line lands in the server's log.)"""
    jvm = getattr(spark, "_jvm", None) if not delta.is_connect(spark) else None
    if jvm is None:
        yield
        return
    saved = jvm.System.out
    jvm.System.setOut(jvm.java.io.PrintStream(jvm.java.io.OutputStream.nullOutputStream()))
    try:
        yield
    finally:
        jvm.System.setOut(saved)


def lake_tables(spark) -> list[str]:
    """Every Delta table under the lake's layers (found on storage, so tables
    other modules add are maintained too)."""
    out = []
    for layer in LAYERS:
        for child in _children(spark, delta.table_path(layer, "")):
            if delta.exists(spark, child):
                out.append(child)
    return sorted(out)


def _children(spark, folder: str) -> list[str]:
    folder = folder.rstrip("/")
    hadoop = delta._hadoop_path(spark, folder)
    if hadoop is None:      # Spark Connect: the folders holding a Delta log, from a listing of the logs
        logs = _listing(spark, folder + "/*/_delta_log/*.json")
        return sorted({p.rsplit("/_delta_log/", 1)[0] for p in logs})
    hpath, fs = hadoop
    if not fs.exists(hpath):
        return []
    return [folder + "/" + s.getPath().getName() for s in fs.listStatus(hpath) if s.isDirectory()]


def _listing(spark, pattern: str, **options: str) -> list[str]:
    """Paths matching `pattern`, listed by Spark's file source (no file is read)."""
    try:
        df = spark.read.format("binaryFile").options(**options).load(pattern)
        return [r["path"] for r in df.select("path").collect()]
    except Exception as exc:   # nothing matches: PATH_NOT_FOUND
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            return []
        raise


def _files_on_disk(spark, path: str) -> int:
    """Data files stored under the table (outside _delta_log), referenced or not."""
    hadoop = delta._hadoop_path(spark, path)
    if hadoop is None:
        return len(_listing(spark, path, recursiveFileLookup="true", pathGlobFilter="*.parquet"))
    hpath, fs = hadoop
    it = fs.listFiles(hpath, True)
    n = 0
    while it.hasNext():
        p = it.next().getPath().toString()
        if "/_delta_log/" not in p and p.endswith(".parquet"):
            n += 1
    return n


__all__ = ["maintain", "maintain_table", "lake_tables", "Maintained"]
