"""The foundation slice, all real: huangpu's penalties for one day, delivered
as a template-S file -> the ingest_huangpu DAG (dag.test) -> Spark -> bronze
and silver Delta -> GX checkpoint -> PostgreSQL -> dbt marts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
DAY = datetime(2017, 4, 14, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]


def _silver_snapshot(read_delta):
    rows = read_delta("silver", "penalties").drop("_ingest_run_id", "_ingested_at").collect()
    return sorted((r.asDict(recursive=True) for r in rows), key=lambda r: r["record_id"])


@pytest.fixture(scope="module")
def ingested(e2e_env, dagbag, copy_fixture_landing):
    from lakehouse.config import settings

    copy_fixture_landing("landing", settings().landing)
    run = dagbag.get_dag("ingest_huangpu").test(logical_date=DAY)
    assert "success" in str(run.state).lower()
    return run


def test_bronze_keeps_every_row_as_sent_with_lineage(ingested, read_delta):
    bronze = read_delta("bronze", "penalties").collect()
    assert len(bronze) == 5
    assert {r["_row_number"] for r in bronze} == {1, 2, 3, 4, 5}
    first = next(r for r in bronze if r["_row_number"] == 1)
    assert first["_source"] == "huangpu" and first["_file"] == "huangpu/2017-04-14/penalties.csv"
    assert first["raw"]["主要违法事实"] == '销售过期食品, 共计"12"件\n当场查获'   # RFC 4180 quoting kept
    assert len(first["_file_sha256"]) == 64


def test_silver_has_typed_normalised_rows(ingested, read_delta):
    rows = {r["record_id"]: r for r in _silver_snapshot(read_delta)}
    assert sorted(rows) == ["HP-P-2017-0001", "HP-P-2017-0002", "HP-P-2017-0003"]
    second = rows["HP-P-2017-0002"]
    assert second["fine_amount"] == Decimal("20000.00")
    assert second["confiscated_amount"] == Decimal("1500.50")
    assert second["status"] == "EXECUTED"
    assert second["penalty_kinds"] == ["罚款", "没收违法所得"]
    assert second["holding_district"] == "310101"
    assert str(second["decision_date"]) == "2017-04-05"
    # full-width, lower case, U+3000 around it: normalised, then checked
    third = rows["HP-P-2017-0003"]
    assert third["uscc"] == "91310000607223585R" and third["resolved_by"] == "uscc"
    assert third["uscc_as_sent"] == "\u3000９１３１００００６０７２２３５８５ｒ "
    # no registry and no departments delivered yet: flagged, not dropped
    assert "entity_not_in_registry" in third["flags"] and "unknown_department" in third["flags"]


def test_the_batch_validation_is_in_the_data_docs(ingested, read_delta):
    """Data Docs are rendered once per batch (quality.gate.build_data_docs): the
    run's penalties validation has its page and is listed in the site index."""
    from lakehouse.ingest.quality.gate import data_docs_index

    run_id = read_delta("ops", "ingest_runs").where("source = 'huangpu'").first()["ingest_run_id"]
    index = Path(data_docs_index())
    assert f"{run_id}-penalties" in index.read_text(encoding="utf-8")
    pages = list((index.parent / "validations" / "silver_penalties" / f"{run_id}-penalties").rglob("*.html"))
    assert len(pages) == 1, pages


def test_broken_rows_are_quarantined_with_rule_and_reason(ingested, read_delta):
    q = {r["record_key"]: r for r in read_delta("quarantine", "rows").collect()}
    assert len(q) == 2
    bad_code = next(r for k, r in q.items() if "0004" in k)
    assert bad_code["rule_ids"] == ["uscc_unresolved"]
    assert "fails the USCC check" in bad_code["reasons"][0]
    future = next(r for k, r in q.items() if "0005" in k)
    assert "date_impossible" in future["rule_ids"]
    assert future["raw"]["处罚决定日期"] == "2027-04-10"


def test_run_log_reconciles(ingested, read_delta):
    log = read_delta("ops", "ingest_runs").collect()
    assert len(log) == 1
    f = log[0]
    assert (f["rows_in"], f["rows_accepted"], f["rows_duplicate"], f["rows_quarantined"]) == (5, 3, 0, 2)
    assert f["rows_in"] == f["rows_accepted"] + f["rows_duplicate"] + f["rows_quarantined"]
    assert f["quarantined_by_rule"] == {"uscc_unresolved": 1, "date_impossible": 1}


def test_running_the_slice_again_changes_nothing(ingested, dagbag, read_delta):
    before = _silver_snapshot(read_delta)
    bronze_before = read_delta("bronze", "penalties").count()
    run = dagbag.get_dag("ingest_huangpu").test(logical_date=DAY)
    assert "success" in str(run.state).lower()
    assert _silver_snapshot(read_delta) == before
    assert read_delta("bronze", "penalties").count() == bronze_before
    assert read_delta("quarantine", "rows").count() == 2


def test_marts_are_built_from_the_published_batch(ingested, dagbag):
    from lakehouse.serving import warehouse

    run = dagbag.get_dag("build_marts").test()
    assert "success" in str(run.state).lower()
    with warehouse.connect(role="admin") as conn, conn.cursor() as cur:
        cur.execute("select count(*), sum(fine_amount) from lake.penalties")
        assert cur.fetchone() == (3, Decimal("145000.00"))
        cur.execute("""select event_month, penalties, fines_total from marts.fct_department_workload
                       where department_code = '113101010025004712' order by event_month""")
        got = [(str(m)[:7], int(n), Decimal(f)) for m, n, f in cur.fetchall()]
    assert got == [("2017-03", 1, Decimal("120000.00")), ("2017-04", 2, Decimal("25000.00"))]


def _job(name: str, *args: str) -> str:
    """`python jobs/<name>.py ...` as README shows it: from the repository's root, PYTHONPATH=src."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, f"jobs/{name}.py", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"jobs/{name}.py exited {done.returncode}: {done.stderr[-3000:]}"
    return done.stdout


def test_the_jobs_run_as_scripts_and_reconcile_with_the_run_log(isolated_lakehouse, read_delta):
    """jobs/ingest.py then jobs/publish.py, each its own process, on a generated day of one district
    (three feeds: kept small, each job starts its own Spark)."""
    from pyspark.sql import functions as F

    from lakehouse.catalog import load_catalog
    from lakehouse.config import settings
    from lakehouse.serving import warehouse

    subprocess.run([sys.executable, "-m", "lakehouse.cli", "generate", "--preset", "tiny", "--days", "1",
                    "--start", "2017-04-10", "--sources", "huangpu", "--out", settings().landing,
                    "--truth", str(isolated_lakehouse / "truth"), "--quiet"], check=True)
    out = _job("ingest", "--source", "huangpu", "--day", "2017-04-10")
    summary = json.loads(out[out.index('{\n  "run_id"'):])
    runs = read_delta("ops", "ingest_runs").where(F.col("ingest_run_id") == summary["run_id"]).collect()
    assert {r["source"] for r in runs} == {"huangpu"} and len(runs) == summary["files"] == 3
    for key in ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined"):
        assert sum(r[key] or 0 for r in runs) == summary[key], key
    assert summary["rows_accepted"] > 0

    published = {m["table"]: int(m["upserted"]) for m in re.finditer(
        r"^lake\.(?P<table>\w+): delta v\S+ -> v\d+, (?P<upserted>\d+) upserted", _job("publish"), re.M)}
    silver = {name: read_delta("silver", name).count() for name in load_catalog().tables
              if name in published}
    assert silver and sum(silver.values()) > 0
    with warehouse.connect(role="admin") as conn, conn.cursor() as cur:
        for name, rows in silver.items():
            cur.execute(f"select count(*) from lake.{name}")
            assert cur.fetchone()[0] == rows == published[name], name
        cur.execute("select count(*) from lake.ingest_runs where ingest_run_id = %s", (summary["run_id"],))
        assert cur.fetchone()[0] == len(runs)
