"""One Spark session per process, with Delta, configured from settings.

The warm engine when it runs: the Spark Connect server of this
LAKEHOUSE_HOME (`lakehouse connect up`, which `make airflow` and the demo
start), so that a task or command does not pay a cold JVM; any Spark Connect
server via SPARK_REMOTE (with its token, see connect_channel). Otherwise a
local JVM (local[2], Delta jars from $LAKEHOUSE_JARS_DIR, fetched once by
`make setup`), or a cluster via LAKEHOUSE_SPARK_MASTER, without code
changes. A lake under s3a:// adds the
s3a jars and settings (endpoint, path-style access, credentials from the
environment, see config.py). Under spark-submit (jobs/), its --master, --name
and --conf win and the project's settings only fill the gaps; the jars must be
on its command line: `spark-submit $(python -m lakehouse.lake.spark) jobs/...`.

Code that must run on both kinds of session (classic and Connect) uses only
the DataFrame and SQL APIs: no SparkContext, no JVM, no RDDs, and Delta's
operations as SQL (lake.py), since Delta's Python DeltaTable needs a Connect
server plugin that is not published for this Delta version.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from lakehouse.config import apply_file_mode, settings, small_lake_bytes, spark_setting
from lakehouse.lake.connect import LOOPBACK_HOSTS, remote_url, submitted

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
    "spark.driver.memory": "7g",
    "spark.executor.memory": "1g",      # Spark's own default, listed so that it can be overridden (clusters)
    "spark.sql.adaptive.enabled": "true",
    # Delta's VACUUM lists and diffs a table's files in this many tasks (10,000
    # by default): 10,000 tasks for a table of a few dozen files took minutes.
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "8",
}

# A small batch (a business day, an increment) is hundreds of tiny Spark jobs,
# each paying planning, scheduling and code generation, not row work. For those
# batches: no adaptive re-planning (it splits every query into a job per
# stage) and two shuffle partitions, one per core.
SMALL_BATCH_TUNING = {
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
}
# And, in a JVM of this process whose lake is still small: expressions
# interpreted instead of compiled. Janino compiles every new plan's generated
# Java, seconds of CPU in a cold JVM for a few hundred rows; over a large lake
# (scans of whole silver tables) compiled code pays for itself. The same
# choice for the warm engine, whose lake this process sees on its own disk.
INTERPRET_TUNING = {
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


def small_lake(spark, silver_bytes: int | None = -1) -> bool:
    """Silver holds at most LAKEHOUSE_SMALL_LAKE_BYTES (256 MiB), as a local
    JVM or this machine's disk lists it (False through a remote Connect server).
    `silver_bytes`: lake.stored_bytes(spark, "silver") when the caller has it."""
    from lakehouse.lake.delta import stored_bytes

    stored = stored_bytes(spark, "silver") if silver_bytes == -1 else silver_bytes
    return stored is not None and stored <= small_lake_bytes()


@contextmanager
def small_batch_tuning(spark, small: bool, interpret: bool = False):
    """Within the block, SMALL_BATCH_TUNING when `small`, and INTERPRET_TUNING
    too when `interpret` (see small_lake). Each value is overridable by
    LAKEHOUSE_SPARK_<KEY>_SMALL; the session's own values come back
    afterwards. Runtime SQL settings only, also valid on Spark Connect."""
    tuning = dict(SMALL_BATCH_TUNING) if small else {}
    if small and interpret:
        tuning |= INTERPRET_TUNING
    saved = {key: spark.conf.get(key, None) for key in tuning}
    for key, value in tuning.items():
        spark.conf.set(key, spark_setting(key + ".small", value))
    try:
        yield tuning
    finally:
        for key, value in saved.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def map_output_schema(spark, arrow_schema):
    """The Spark schema of a mapInArrow step that yields `arrow_schema`.
    Through Spark Connect its strings carry no collation name: pyspark 4.2
    sends StringType's default collation by name, the server then types the
    column 'string collate UTF8_BINARY', and Delta writes that into the
    table's schema, which delta-rs (and Polars through it) refuse. An empty
    name is the protocol's default, plain `string` (checked on this version)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = from_arrow_schema(arrow_schema)
    return _without_collation_names(schema) if type(spark).__module__.startswith("pyspark.sql.connect") else schema


def _without_collation_names(data_type):
    from pyspark.sql import types as T

    if isinstance(data_type, T.StringType):
        plain = T.StringType()
        plain.collation = ""
        return plain
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, _without_collation_names(f.dataType), f.nullable, f.metadata)
                             for f in data_type.fields])
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(_without_collation_names(data_type.elementType), data_type.containsNull)
    if isinstance(data_type, T.MapType):
        return T.MapType(_without_collation_names(data_type.keyType),
                         _without_collation_names(data_type.valueType), data_type.valueContainsNull)
    return data_type


def in_parallel(tasks: list, workers: int) -> list:
    """Run independent Spark/Delta steps on a few threads (one Spark session
    serves them all): most of a small table's time is Spark's and Delta's
    latency, not work. Results in task order; the first error is raised."""
    if len(tasks) <= 1 or workers <= 1:
        return [t() for t in tasks]
    with ThreadPoolExecutor(workers, thread_name_prefix="lakehouse-table") as pool:
        futures = [pool.submit(t) for t in tasks]
        return [f.result() for f in futures]


# Jars only s3a:// needs (hadoop-aws and what it brings: the AWS SDK bundle
# alone is 0.7 GB, so a session without an s3a lake leaves them out).
S3A_JAR_PREFIXES = ("hadoop-aws-", "bundle-", "analyticsaccelerator-s3-", "wildfly-openssl-")


class SparkSetupError(RuntimeError):
    pass


def jar_paths(s3a: bool | None = None) -> list[str]:
    """The jars of jvm/pom.xml in LAKEHOUSE_JARS_DIR: Delta always, the s3a ones
    when the lake is on object storage (or when `s3a` says so)."""
    cfg = settings()
    s3a = cfg.uses_s3a if s3a is None else s3a
    jars = sorted(cfg.jars_dir.glob("*.jar")) if cfg.jars_dir.exists() else []
    if not any(j.name.startswith("delta-spark_") for j in jars):
        raise SparkSetupError(
            f"Delta jars not found in {cfg.jars_dir}. Run `make setup` once "
            "with access to Maven Central, or set LAKEHOUSE_JARS_DIR to a folder holding them.")
    if s3a and not any(j.name.startswith("hadoop-aws-") for j in jars):
        raise SparkSetupError(
            f"LAKEHOUSE_LAKE is {cfg.lake} but the s3a jars (hadoop-aws, AWS SDK bundle) are not in "
            f"{cfg.jars_dir}. Run `make setup` (it fetches every jar of jvm/pom.xml).")
    return [str(j) for j in jars if s3a or not j.name.startswith(S3A_JAR_PREFIXES)]


def s3a_conf() -> dict[str, str]:
    """Hadoop's s3a settings for an S3-compatible server: path-style URLs
    (bucket in the path, as MinIO and moto serve), credentials from settings."""
    cfg = settings()
    conf = {"spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.endpoint.region": cfg.s3_region,
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem"}
    if cfg.s3_endpoint:
        conf["spark.hadoop.fs.s3a.endpoint"] = cfg.s3_endpoint
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(cfg.s3_endpoint.startswith("https")).lower()
    if cfg.s3_access_key:
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        conf["spark.hadoop.fs.s3a.access.key"] = cfg.s3_access_key
        conf["spark.hadoop.fs.s3a.secret.key"] = cfg.s3_secret_key
    return conf


def jar_conf() -> dict[str, str]:
    """Delta's jars through spark.jars; the s3a ones (when needed) on the class
    path instead: spark.jars copies every jar to each executor, 0.7 GB of SDK
    bundle per session. A cluster's workers then need them at the same path
    (the docker image has them)."""
    jars = jar_paths()
    small = [j for j in jars if not Path(j).name.startswith(S3A_JAR_PREFIXES)]
    conf = {"spark.jars": ",".join(small)}
    if len(small) < len(jars):
        s3a = ":".join(j for j in jars if j not in small)
        conf |= {"spark.driver.extraClassPath": s3a, "spark.executor.extraClassPath": s3a}
    return conf


def session_conf(s3a: bool | None = None) -> dict[str, str]:
    """Delta, the local tuning (each overridable by LAKEHOUSE_SPARK_<KEY>) and
    s3a when the lake is on object storage: what a local session or the
    Connect server (services.py) starts with."""
    cfg = settings()
    s3a = cfg.uses_s3a if s3a is None else s3a
    conf = {key: spark_setting(key, value) for key, value in {**DELTA_CONF, **LOCAL_TUNING}.items()}
    # Hadoop's file system applies its own umask (022 by default), not the
    # process's: the lake's files follow LAKEHOUSE_FILE_MODE only through this
    conf.setdefault("spark.hadoop.fs.permissions.umask-mode", "027" if cfg.file_mode == "group" else "077")
    if s3a:
        conf.update(s3a_conf())
    return conf


def submit_options() -> list[str]:
    """What spark-submit needs on its command line for jobs/: the jars (they
    must be on the driver's class path when its JVM starts, too late for get_spark)."""
    return [arg for key, value in jar_conf().items() for arg in ("--conf", f"{key}={value}")]


def _submitted_builder(builder):
    """spark-submit's --master, --name and --conf win; the project's settings fill the gaps."""
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()   # joins spark-submit's JVM, so that SparkConf reads its options
    given = SparkConf()
    if not any("delta-spark_" in given.get(key, "") for key in ("spark.jars", "spark.jars.packages")):
        raise SparkSetupError("spark-submit was started without the Delta jars: run it as "
                              "`spark-submit $(python -m lakehouse.lake.spark) jobs/<job>.py ...`"
                              " (docs/operations.md, jobs/)")
    for key, value in session_conf().items():
        if not given.contains(key):
            builder = builder.config(key, value)
    return builder


def connect_channel(remote: str, session_id: str | None = None):
    """The gRPC channel to the Spark Connect server at `remote` (sc://host:port),
    carrying its bearer token: the URL's `token=`, else the client's
    SPARK_CONNECT_AUTHENTICATE_TOKEN, else, for a server on this machine, the
    project's own (credentials.spark_connect_token, what `lakehouse connect up`
    requires). pyspark sends a token over TLS, except to the host `localhost`
    (gRPC's local credentials, no TLS on loopback): so a loopback address is
    named `localhost`. `session_id` joins that existing server session (recovery
    interrupts a killed run's operations through it)."""
    from urllib.parse import urlsplit

    from pyspark.sql.connect.client import ChannelBuilder, DefaultChannelBuilder

    parts = urlsplit(remote)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if loopback and "use_ssl=true" not in remote.lower():
        remote = remote.replace(parts.netloc, f"localhost:{parts.port or 15002}", 1)
    channel = DefaultChannelBuilder(remote)
    if channel.token is None and loopback:
        from lakehouse import credentials

        channel.set(ChannelBuilder.PARAM_TOKEN, credentials.spark_connect_token())
    if session_id:
        channel.set(ChannelBuilder.PARAM_SESSION_ID, session_id)
    return channel


@lru_cache(maxsize=1)
def get_spark():
    """The process's Spark session (created on first use, never at import)."""
    # set for Spark and PyArrow (they read them), not read by the project
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # staging runs the project's Python in Spark's workers: this interpreter, with its packages
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    cfg = settings()
    apply_file_mode()   # the JVM inherits it: Delta files owner-only (or group, LAKEHOUSE_FILE_MODE)
    remote = remote_url()
    if remote:
        # the server holds the jars and the Delta/s3a settings (see services/engines.py)
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"   # pyspark's functions then build Connect columns
        return ConnectSession.builder.channelBuilder(connect_channel(remote)).getOrCreate()
    if submitted():
        spark = _submitted_builder(SparkSession.builder).getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark
    builder = SparkSession.builder.master(cfg.spark_master).appName("lakehouse")
    for key, value in jar_conf().items():
        builder = builder.config(key, value)
    for key, value in session_conf().items():
        builder = builder.config(key, value)
    builder = builder.config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


if __name__ == "__main__":
    # `spark-submit $(python -m lakehouse.lake.spark) jobs/ingest.py ...`: the options jobs/ need
    try:
        print(" ".join(submit_options()))
    except SparkSetupError as exc:
        sys.exit(f"python -m lakehouse.lake.spark: {exc}")
