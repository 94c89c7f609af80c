"""Settings of the scaled-out column: object storage, Airflow's metadata
database, and which jars and Spark settings a session gets."""

from __future__ import annotations

import pytest

from lakehouse import config
from lakehouse.lake import spark
from lakehouse.orchestration import airflow_env


@pytest.fixture
def env(monkeypatch):
    for name in ("LAKEHOUSE_LAKE", "LAKEHOUSE_S3_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "LAKEHOUSE_AIRFLOW_METADATA", "LAKEHOUSE_AIRFLOW_DATABASE",
                 "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTOR", "PGPASSWORD", "PGUSER"):
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        config.settings.cache_clear()
        return config.settings()

    yield set_env
    config.settings.cache_clear()


def test_airflow_metadata_defaults_to_sqlite(env):
    cfg = env()
    assert airflow_env.airflow_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{cfg.airflow_home}/airflow.db"
    assert "AIRFLOW__CORE__EXECUTOR" not in airflow_env.airflow_env()


def test_airflow_on_postgres_uses_the_project_server_and_local_executor(env):
    env(LAKEHOUSE_AIRFLOW_METADATA="postgres", PGHOST="db.example", PGPORT="6543", PGUSER="air flow",
        PGPASSWORD="p@ss:w/rd", LAKEHOUSE_AIRFLOW_DATABASE="meta")
    got = airflow_env.airflow_env()
    assert got["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        "postgresql+psycopg2://air%20flow:p%40ss%3Aw%2Frd@db.example:6543/meta"
    assert got["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_airflow_on_postgres_connects_as_its_own_role(env, monkeypatch, tmp_path):
    """Not the admin: the embedded cluster's airflow role with its generated
    password, or LAKEHOUSE_PG_AIRFLOW_USER/_PASSWORD on an external server."""
    import json

    from lakehouse import credentials

    monkeypatch.delenv("PGHOST", raising=False)
    env(LAKEHOUSE_AIRFLOW_METADATA="postgres", LAKEHOUSE_SECRETS_FILE=str(tmp_path / "secrets.json"),
        PGPORT="6543")
    password = credentials.ensure()["postgres"]["airflow"]
    assert json.loads((tmp_path / "secrets.json").read_text())["postgres"]["airflow"] == password
    assert airflow_env.airflow_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        f"postgresql+psycopg2://lakehouse_airflow:{password}@127.0.0.1:6543/airflow"
    env(PGHOST="db.example", LAKEHOUSE_PG_AIRFLOW_USER="af", LAKEHOUSE_PG_AIRFLOW_PASSWORD="s3cret")
    assert airflow_env.airflow_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == \
        "postgresql+psycopg2://af:s3cret@db.example:6543/airflow"


def test_airflow_values_set_by_the_user_win(env):
    env(LAKEHOUSE_AIRFLOW_METADATA="postgres", AIRFLOW__CORE__EXECUTOR="CeleryExecutor")
    assert airflow_env.airflow_env()["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_unknown_airflow_metadata_is_refused(env):
    with pytest.raises(ValueError, match="LAKEHOUSE_AIRFLOW_METADATA"):
        env(LAKEHOUSE_AIRFLOW_METADATA="mysql")


def test_s3a_settings_come_from_the_environment(env):
    cfg = env(LAKEHOUSE_LAKE="s3a://bucket/prefix", AWS_ENDPOINT_URL="http://127.0.0.1:9000",
              AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="secret")
    assert cfg.lake_on_s3 and cfg.lake_path("silver", "licences") == "s3a://bucket/prefix/silver/licences"
    conf = spark.session_conf()
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:9000"
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert conf["spark.hadoop.fs.s3a.access.key"] == "id" and conf["spark.hadoop.fs.s3a.secret.key"] == "secret"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"


def test_project_endpoint_variable_wins_over_aws_one(env):
    cfg = env(LAKEHOUSE_S3_ENDPOINT="https://minio:9000", AWS_ENDPOINT_URL="http://other:1")
    assert cfg.s3_endpoint == "https://minio:9000"


def test_local_lake_gets_no_s3a_settings(env):
    env(LAKEHOUSE_LAKE="/tmp/lake")
    assert not any(k.startswith("spark.hadoop.fs.s3a") for k in spark.session_conf())


def test_s3a_jars_only_for_an_s3a_lake(env, tmp_path):
    for name in ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar", "hadoop-aws-3.5.0.jar",
                 "bundle-2.35.4.jar"):
        (tmp_path / name).write_bytes(b"")
    env(LAKEHOUSE_JARS_DIR=str(tmp_path), LAKEHOUSE_LAKE="/tmp/lake")
    assert [p.rsplit("/", 1)[1] for p in spark.jar_paths()] == ["delta-spark_4.2_2.13-4.4.0.jar",
                                                                "delta-storage-4.4.0.jar"]
    assert set(spark.jar_conf()) == {"spark.jars"}
    env(LAKEHOUSE_LAKE="s3a://b/p")
    assert len(spark.jar_paths()) == 4
    conf = spark.jar_conf()     # the 0.7 GB SDK bundle is not copied to executors through spark.jars
    assert "bundle" not in conf["spark.jars"] and "hadoop-aws" not in conf["spark.jars"]
    assert conf["spark.driver.extraClassPath"] == conf["spark.executor.extraClassPath"]
    assert {p.rsplit("/", 1)[1] for p in conf["spark.driver.extraClassPath"].split(":")} == \
        {"hadoop-aws-3.5.0.jar", "bundle-2.35.4.jar"}


def test_s3a_lake_without_the_s3a_jars_says_what_to_do(env, tmp_path):
    (tmp_path / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    env(LAKEHOUSE_JARS_DIR=str(tmp_path), LAKEHOUSE_LAKE="s3a://b/p")
    with pytest.raises(spark.SparkSetupError, match="make setup"):
        spark.jar_paths()


def test_a_service_has_a_pidfile_and_stops_cleanly(env, tmp_path):
    from lakehouse.services import engines

    env(LAKEHOUSE_HOME=str(tmp_path))
    pid = engines._start("sleeper", ["sh", "-c", "sleep 60 & wait"], {}, lambda: True)
    assert engines.pid_of("sleeper") == pid and (tmp_path / "run" / "sleeper.pid").exists()
    assert engines._start("sleeper", ["false"], {}, lambda: True) == pid      # up twice: the same one
    assert engines.stop("sleeper", grace=5)
    assert engines.pid_of("sleeper") is None and not (tmp_path / "run" / "sleeper.pid").exists()
    assert not engines.stop("sleeper")


def test_a_service_that_dies_while_starting_names_its_log(env, tmp_path):
    from lakehouse.services import engines

    env(LAKEHOUSE_HOME=str(tmp_path))
    with pytest.raises(engines.ServiceError, match="sleeper.log"):
        engines._start("sleeper", ["sh", "-c", "echo boom; exit 3"], {}, lambda: False)
    assert "boom" in (tmp_path / "logs" / "sleeper.log").read_text()


def test_file_listing_runs_in_a_few_tasks_and_can_be_raised(env, monkeypatch):
    """Delta's VACUUM lists a table's files in this many Spark tasks: Spark's
    default of 10,000 made a tiny lake's maintenance take about 13 min."""
    key = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
    monkeypatch.delenv("LAKEHOUSE_SPARK_SPARK_SQL_SOURCES_PARALLELPARTITIONDISCOVERY_PARALLELISM", raising=False)
    env()
    assert int(spark.session_conf()[key]) <= 64
    env(LAKEHOUSE_SPARK_SPARK_SQL_SOURCES_PARALLELPARTITIONDISCOVERY_PARALLELISM="200")
    assert spark.session_conf()[key] == "200"


def test_a_failed_connection_traceback_holds_no_password(env):
    """The password reaches libpq through an owner-only passfile, never as an
    argument that pytest's or Airflow's tracebacks would print."""
    import os
    import stat
    import uuid

    import psycopg2

    from lakehouse.serving import warehouse

    secret = f"pw-{uuid.uuid4().hex}:x"      # made here: the test's own source shows in the traceback
    env(PGHOST="127.0.0.1", PGPORT="1", PGUSER="someone", PGPASSWORD=secret)
    with pytest.raises(psycopg2.OperationalError) as failed:
        with warehouse.connect("loader"):
            pass
    shown = str(failed.getrepr(style="long", funcargs=True))
    assert "127.0.0.1" in shown and secret not in shown
    path = warehouse._passfile_state["path"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret.replace(":", "\\:") in open(path, encoding="utf-8").read()
