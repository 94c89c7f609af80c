"""Write one table's batch: quarantine the broken rows, tell duplicates from
new versions, MERGE the latest version per natural key into silver, append
every accepted version to the history table.

Re-runnable: a batch that did not finish is undone before it is retried
(recovery.py), and the "previous version" a row is compared with never comes
from the batch's own files, so a retried batch classifies its rows exactly as
the first attempt.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.catalog import Table
from lakehouse.catalog.ops_tables import QUARANTINE
from lakehouse.ingest.staging import RAW, REASONS, RULES
from lakehouse.lake import delta

# The row's version_column (or null), added by classify and read by latest_per_key.
_VERSION = "_v"


def columns(table: Table) -> list[str]:
    """A silver table's columns: the catalog's, and the content hash."""
    return table.column_names + ["_row_hash"]


def content_columns(table: Table) -> list[str]:
    """What a record says, without its lineage: what content_hash hashes."""
    lineage = {c.name for c in table.common.get("lineage", [])}
    return [c for c in table.column_names if c not in lineage]


def content_hash(columns: list[str]):
    """Hash of a row's canonical content (not its lineage): equal hashes = same record re-sent."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in sorted(columns)])), 256)


def classify(batch: DataFrame, current: DataFrame | None, history: DataFrame | None, key: list[str],
             version: str | None, files: list[str], files_in_current: bool = True,
             narrow: bool = False) -> DataFrame:
    """Add `_outcome` = accepted | duplicate to each good row.

    A row is a duplicate when an earlier row (silver's previous version or an
    earlier arrival in the batch) for its key has the same content, or a later
    version; otherwise it is a new version and accepted.

    `files_in_current=False` says that no row of `files` can be in silver
    yet (files never ingested: an unfinished batch was undone before, see
    recovery.py), which saves a Spark job per table; promotion re-reads rows
    of ingested files and keeps the check.

    `narrow` (a small batch against a large table): silver's rows are first
    narrowed to the batch's keys by a broadcast semi-join, so that the windows
    below shuffle the batch's keys, not the whole table: a day's cost then
    follows the day, not the history."""
    v = F.col(version) if version else F.lit(None).cast("timestamp")
    rows = batch.withColumn(_VERSION, v).withColumn("_prev", F.lit(False))
    if current is not None:
        in_batch = delta.file_id_col().isin(files)
        prev = current.where(~in_batch).select(*key, "_row_hash", F.col(version).alias(_VERSION) if version
                                               else F.lit(None).cast("timestamp").alias(_VERSION))
        if narrow:     # only the batch's keys' rows can matter: the windows are per key
            keys = F.broadcast(batch.select(*key).distinct())
            prev = prev.join(keys, [prev[k].eqNullSafe(keys[k]) for k in key], "left_semi")
        # A retried batch may already have replaced some keys' current row:
        # their previous version is then the latest history row from other files.
        own = current.where(in_batch).select(*key)
        if files_in_current and history is not None and own.limit(1).count() > 0:
            h = history.where(~delta.file_id_col().isin(files)).join(own, key, "left_semi")
            w = Window.partitionBy(*key).orderBy(F.col(version).desc_nulls_last() if version else F.lit(1),
                                                 F.col("_delivery_date").desc(), F.col("_row_number").desc())
            h = (h.withColumn("_rn", F.row_number().over(w)).where("_rn = 1")
                 .select(*key, "_row_hash", (F.col(version) if version else F.lit(None).cast("timestamp"))
                         .alias(_VERSION)))
            prev = prev.unionByName(h)
        prev = (prev.withColumn("_prev", F.lit(True)).withColumn("_delivery_date", F.lit(None).cast("date"))
                .withColumn("_file", F.lit("")).withColumn("_row_number", F.lit(0).cast("bigint")))
        rows = rows.unionByName(prev, allowMissingColumns=True)
    order = [F.col("_prev").desc(), F.col("_delivery_date").asc_nulls_first(), F.col("_file"), F.col("_row_number")]
    earlier = Window.partitionBy(*key).orderBy(*order).rowsBetween(Window.unboundedPreceding, -1)
    same_content = Window.partitionBy(*key, "_row_hash").orderBy(*order)
    rows = (rows.withColumn("_max_prev_v", F.max(_VERSION).over(earlier))
                .withColumn("_seen", F.row_number().over(same_content) > 1))
    stale = F.col(_VERSION).isNotNull() & F.col("_max_prev_v").isNotNull() & (F.col(_VERSION) < F.col("_max_prev_v"))
    rows = rows.withColumn("_outcome", F.when(F.col("_seen") | stale, "duplicate").otherwise("accepted"))
    return rows.where(~F.col("_prev")).drop("_prev", "_max_prev_v", "_seen")


def latest_per_key(accepted: DataFrame, key: list[str]) -> DataFrame:
    w = Window.partitionBy(*key).orderBy(F.col(_VERSION).desc_nulls_last(), F.col("_delivery_date").desc(),
                                         F.col("_file").desc(), F.col("_row_number").desc())
    return accepted.withColumn("_rn", F.row_number().over(w)).where("_rn = 1").drop("_rn")


def merge_current(spark, path: str, winners: DataFrame, key: list[str], columns: list[str]) -> None:
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in key)
    delta.merge(spark, path, winners.select(*columns), cond, columns)


def per_file_counts(good: DataFrame, bad: DataFrame) -> dict[str, dict]:
    """rows accepted / duplicate / quarantined (by rule) / flagged (by flag)
    per file, in one Spark job."""
    outcomes = good.groupBy("_file", F.col("_outcome").alias("kind"), F.lit("").alias("name")).count()
    flags = (good.where("_outcome = 'accepted'").select("_file", F.explode("flags").alias("name"))
             .groupBy("_file", F.lit("flag").alias("kind"), "name").count())
    quarantined = bad.groupBy("_file", F.lit("quarantined").alias("kind"), F.lit("").alias("name")).count()
    rules = (bad.select("_file", F.explode(RULES).alias("name"))
             .groupBy("_file", F.lit("rule").alias("kind"), "name").count())
    counts: dict[str, dict] = {}
    for r in outcomes.unionByName(flags).unionByName(quarantined).unionByName(rules).collect():
        slot = empty_counts(counts, r["_file"])
        if r["kind"] == "flag":
            slot["flags"][r["name"]] = r["count"]
            if r["name"] == "late":
                slot["late"] = r["count"]
        elif r["kind"] == "rule":
            slot["quarantined_by_rule"][r["name"]] = r["count"]
        else:
            slot[r["kind"]] += r["count"]
    return counts


def empty_counts(counts: dict[str, dict], file_id: str) -> dict:
    """The file's slot in `counts`, created with zeros."""
    return counts.setdefault(file_id, {"accepted": 0, "duplicate": 0, "quarantined": 0,
                                       "quarantined_by_rule": {}, "flags": {}, "late": 0})


def quarantine_rows(bad: DataFrame, table: str, key: list[str]) -> DataFrame:
    """The quarantine table's columns (ops_tables.QUARANTINE): the row's
    rules, reasons, raw values, lineage."""
    made = {"_table": F.lit(table), "record_key": F.to_json(F.struct(*[F.col(k).cast("string") for k in key])),
            "rule_ids": F.col(RULES), "reasons": F.col(REASONS), "raw": F.col(RAW)}
    return bad.select(*[made.get(c, F.col(c)).alias(c) for c in QUARANTINE.column_names])


def write_quarantine(spark, rows: DataFrame, files: list[str]) -> None:
    """One write for the whole batch's quarantined rows (all tables)."""
    delta.append_once(rows, delta.table_path("quarantine", "rows"), files, change_feed=True)
