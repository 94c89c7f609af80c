"""Every DAG file imports cleanly, one ingest DAG per source YAML, and the
DAGs have the guard rails the scheduler relies on."""

import os

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.orchestration.airflow_env import apply_airflow_env


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
        # a source's day waiting for its delivery must not hold up its next day
        assert dag.max_active_runs == (2 if dag_id.startswith("ingest_") and dag_id != "ingest_backfill" else 1)
        for t in dag.tasks:
            if t.task_id.startswith("ingest"):
                assert t.pool == "lake_writers" and t.retries >= 1 and t.execution_timeout, (dag_id, t.task_id)


def _asset_names(condition) -> set[str]:
    """Names of the assets in an (possibly nested) any/all condition."""
    if hasattr(condition, "objects"):
        return set().union(*(_asset_names(o) for o in condition.objects))
    return {condition.name}


def test_marts_dag_waits_for_a_whole_round(bag):
    """build_marts runs once every source has announced its day (all of them, not any)."""
    dag = bag.get_dag("build_marts")
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"
    assert _asset_names(condition) == {f"delivered_{s}" for s in load_catalog().sources}
    for s in load_catalog().sources:
        ingest = bag.get_dag(f"ingest_{s}").get_task("ingest")
        assert [o.name for o in ingest.outlets] == [f"delivered_{s}"]


def test_daily_dags_follow_the_calendar_and_the_catchup_window(bag):
    from datetime import timedelta

    from lakehouse.config import now, settings

    dag = bag.get_dag("ingest_jingan")
    assert dag.catchup and dag.timetable.summary == "0 0 * * *"
    assert str(dag.timetable._timezone) == "Asia/Shanghai"
    window = now() - dag.start_date
    assert timedelta(days=settings().catchup_days - 1) < window <= timedelta(days=settings().catchup_days + 1)
    sensor = dag.get_task("wait_for_delivery")
    assert sensor.mode == "reschedule"
    assert [t.task_id for t in dag.topological_sort()] == ["wait_for_delivery", "ingest", "alert"]


def test_an_unscheduled_source_has_no_dag_and_holds_no_round_back(tmp_path, monkeypatch):
    """`scheduled: false` in a source's YAML: no ingest DAG, build_marts waits for the others only."""
    import shutil

    from airflow.dag_processing.dagbag import DagBag

    from lakehouse.config import REPO_ROOT, settings

    schemas = tmp_path / "schemas"
    shutil.copytree(REPO_ROOT / "schemas", schemas)
    yaml = schemas / "sources" / "jingan.yaml"
    yaml.write_text(yaml.read_text(encoding="utf-8") + "\nscheduled: false\n", encoding="utf-8")
    monkeypatch.setenv("LAKEHOUSE_SCHEMAS", str(schemas))
    settings.cache_clear()
    try:
        apply_airflow_env()
        bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    finally:
        monkeypatch.undo()
        settings.cache_clear()
    assert bag.import_errors == {}
    assert "ingest_jingan" not in bag.dag_ids and "ingest_huangpu" in bag.dag_ids
    others = {s for s in load_catalog().sources if s != "jingan"}
    assert _asset_names(bag.get_dag("build_marts").timetable.asset_condition) == {f"delivered_{s}" for s in others}
    assert load_catalog(schemas).districts["310106"].code == "jingan"      # still a division
