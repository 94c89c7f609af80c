"""End-to-end fixtures: a private lake, landing and PostgreSQL database per
test session (or module, or test), on the real services `make test` set up
(embedded PostgreSQL, migrated Airflow metadata, Delta jars)."""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The suite replays 2017 through the daily DAGs (dag.test(logical_date=...)): let them
# schedule from its first day (a real install only catches up LAKEHOUSE_CATCHUP_DAYS).
os.environ.setdefault("LAKEHOUSE_START_DATE", "2017-01-01")
os.environ.setdefault("LAKEHOUSE_CATCHUP_DAYS", "36500")
ISOLATED_VARS = ("LAKEHOUSE_LAKE", "LAKEHOUSE_LANDING", "PGDATABASE", "LAKEHOUSE_REPORT_DIR")


def _reset_settings() -> None:
    from lakehouse.config import settings

    settings.cache_clear()


@contextmanager
def private_lakehouse(root: Path):
    """Point the project at root/lake, root/landing and a fresh database, then restore."""
    from lakehouse.serving import warehouse

    db = f"lakehouse_e2e_{uuid.uuid4().hex[:8]}"
    with warehouse.connect(role="admin", dbname="postgres") as admin:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'create database "{db}"')
        saved = {k: os.environ.get(k) for k in ISOLATED_VARS}
        os.environ.update({"LAKEHOUSE_LAKE": str(root / "lake"), "LAKEHOUSE_LANDING": str(root / "landing"),
                           "PGDATABASE": db, "LAKEHOUSE_REPORT_DIR": str(root / "report")})
        _reset_settings()
        warehouse.bootstrap()
        try:
            yield root
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
            _reset_settings()
            with admin.cursor() as cur:
                cur.execute(f'drop database if exists "{db}" with (force)')


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory):
    from lakehouse.orchestration.airflow_env import apply_airflow_env

    apply_airflow_env()
    with private_lakehouse(tmp_path_factory.mktemp("lakehouse")) as root:
        yield root


@pytest.fixture(scope="module")
def isolated_lakehouse_module(e2e_env, tmp_path_factory):
    with private_lakehouse(tmp_path_factory.mktemp("isolated")) as root:
        yield root


@pytest.fixture
def isolated_lakehouse(e2e_env, tmp_path):
    with private_lakehouse(tmp_path) as root:
        yield root


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
    from lakehouse.lake.spark import get_spark

    session = get_spark()
    yield session
    session.stop()     # before pytest closes its streams: no py4j noise at exit


@pytest.fixture(scope="session")
def read_delta(spark):
    """read_delta(layer, name) -> the Delta table as a DataFrame."""
    from lakehouse.lake import delta

    return lambda layer, name: spark.read.format("delta").load(delta.table_path(layer, name))


@pytest.fixture(scope="session")
def private_lakehouse_factory(e2e_env):
    """private_lakehouse(root), for a test that runs several lakes side by side."""
    return private_lakehouse
