"""End-to-end fixtures: a private lake, landing and PostgreSQL database per
test session, on the real services `make test` set up (embedded PostgreSQL,
migrated Airflow metadata, Delta jars)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _reset_settings() -> None:
    from lakehouse.config import settings

    settings.cache_clear()


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory):
    """LAKEHOUSE_LAKE / LAKEHOUSE_LANDING in a temp dir and a fresh database."""
    import psycopg2

    from lakehouse import warehouse
    from lakehouse.config import apply_airflow_env, settings

    root = tmp_path_factory.mktemp("lakehouse")
    db = f"lakehouse_e2e_{uuid.uuid4().hex[:8]}"
    saved = {k: os.environ.get(k) for k in ("LAKEHOUSE_LAKE", "LAKEHOUSE_LANDING", "PGDATABASE")}
    base = settings()
    admin = psycopg2.connect(host=base.pg_host, port=base.pg_port, user=base.pg_user, dbname="postgres",
                             password=base.pg_password or None)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{db}"')
    os.environ.update({"LAKEHOUSE_LAKE": str(root / "lake"), "LAKEHOUSE_LANDING": str(root / "landing"),
                       "PGDATABASE": db})
    _reset_settings()
    apply_airflow_env()
    warehouse.bootstrap()
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _reset_settings()
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{db}" with (force)')
    admin.close()


@pytest.fixture(scope="session")
def copy_fixture_landing():
    def copy(name: str, target) -> None:
        shutil.copytree(FIXTURES / name, target, dirs_exist_ok=True)
    return copy


@pytest.fixture(scope="session")
def dagbag(e2e_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="session")
def spark(e2e_env):
    from lakehouse.spark import get_spark

    session = get_spark()
    yield session
    session.stop()     # before pytest closes its streams: no py4j noise at exit


@pytest.fixture(scope="session")
def read_delta(spark):
    """read_delta(layer, name) -> the Delta table as a DataFrame."""
    from lakehouse import lake

    return lambda layer, name: spark.read.format("delta").load(lake.table_path(layer, name))


@pytest.fixture
def isolated_lakehouse(e2e_env, tmp_path):
    """A private lake, landing and PostgreSQL database for one test."""
    import psycopg2

    from lakehouse import warehouse
    from lakehouse.config import settings

    base = settings()
    db = f"lakehouse_e2e_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host=base.pg_host, port=base.pg_port, user=base.pg_user, dbname="postgres",
                             password=base.pg_password or None)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{db}"')
    saved = {k: os.environ.get(k) for k in ("LAKEHOUSE_LAKE", "LAKEHOUSE_LANDING", "PGDATABASE")}
    os.environ.update({"LAKEHOUSE_LAKE": str(tmp_path / "lake"), "LAKEHOUSE_LANDING": str(tmp_path / "landing"),
                       "PGDATABASE": db})
    _reset_settings()
    warehouse.bootstrap()
    yield tmp_path
    for k, v in saved.items():
        os.environ[k] = v
    _reset_settings()
    with admin.cursor() as cur:
        cur.execute(f'drop database if exists "{db}" with (force)')
    admin.close()
