"""Every DAG file imports cleanly, one ingest DAG per source YAML, and the
DAGs have the guard rails the scheduler relies on."""

import os

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.config import apply_airflow_env


@pytest.fixture(scope="module")
def bag():
    apply_airflow_env()
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


def test_no_import_errors(bag):
    assert bag.import_errors == {}


def test_one_ingest_dag_per_source(bag):
    sources = set(load_catalog().sources)
    assert len(sources) == 17
    assert {d.removeprefix("ingest_") for d in bag.dag_ids if d.startswith("ingest_")} - {"backfill"} == sources


def test_ingest_dags_are_safe_to_schedule(bag):
    for dag_id in bag.dag_ids:
        dag = bag.get_dag(dag_id)
        assert dag.max_active_runs == 1, dag_id
        for t in dag.tasks:
            if t.task_id.startswith("ingest"):
                assert t.pool == "lake_writers" and t.retries >= 1 and t.execution_timeout, (dag_id, t.task_id)


def _asset_names(condition) -> set[str]:
    """Names of the assets in an (possibly nested) any/all condition."""
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(o) for o in condition.objects))
    return {condition.name}


def test_marts_dag_is_triggered_by_every_silver_asset(bag):
    dag = bag.get_dag("build_marts")
    assert _asset_names(dag.timetable.asset_condition) == {f"silver_{t}" for t in load_catalog().tables}
