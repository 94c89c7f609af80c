"""One Spark session per process, with Delta, configured from settings.

Local by default (local[2], Delta jars from $LAKEHOUSE_JARS_DIR, fetched once
by `make setup`); a cluster via LAKEHOUSE_SPARK_MASTER, or a Spark Connect
server via SPARK_REMOTE, without code changes.
"""

from __future__ import annotations

import os
from functools import lru_cache

from lakehouse.config import apply_file_mode, settings

DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}
# Small-data defaults for a 2-core machine: Delta's 50-way snapshot shuffle and
# Spark's 200 shuffle partitions dominate small batches otherwise.
LOCAL_TUNING = {
    "spark.sql.shuffle.partitions": "8",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.driver.memory": "8g",
    "spark.sql.adaptive.enabled": "true",
}


class SparkSetupError(RuntimeError):
    pass


def _delta_jars() -> str:
    jars_dir = settings().jars_dir
    jars = sorted(jars_dir.glob("*.jar")) if jars_dir.exists() else []
    if not any(j.name.startswith("delta-spark_") for j in jars):
        raise SparkSetupError(
            f"Delta jars not found in {jars_dir}. Run `make setup` (or `lakehouse setup`) once "
            "with access to Maven Central, or set LAKEHOUSE_JARS_DIR to a folder holding them.")
    return ",".join(str(j) for j in jars)


@lru_cache(maxsize=1)
def get_spark():
    """The process's Spark session (created on first use, never at import)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    from pyspark.sql import SparkSession

    cfg = settings()
    apply_file_mode()   # the JVM inherits it: Delta files owner-only (or group, LAKEHOUSE_FILE_MODE)
    if cfg.spark_remote:
        return SparkSession.builder.remote(cfg.spark_remote).getOrCreate()
    builder = SparkSession.builder.master(cfg.spark_master).appName("lakehouse")
    builder = builder.config("spark.jars", _delta_jars())
    for key, value in {**DELTA_CONF, **LOCAL_TUNING}.items():
        builder = builder.config(key, os.environ.get("LAKEHOUSE_SPARK_" + key.replace(".", "_").upper(), value))
    builder = builder.config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
