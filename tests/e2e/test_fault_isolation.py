"""A failed critical expectation blocks that source's batch only: the other
source is published, the blocked one is recorded with the reason and is
ingested on the next run once the problem is fixed. The whole batch of the
blocked source is held back, including tables written before the failing
one (licences sort before penalties)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import contract_fixture as fx

pytestmark = pytest.mark.e2e
DAY = datetime(2017, 4, 3, tzinfo=timezone.utc)


def test_blocked_source_does_not_stop_the_other(isolated_lakehouse, dagbag, read_delta, monkeypatch):
    from lakehouse.config import REPO_ROOT, settings
    from lakehouse.lake import delta

    landing, suites = isolated_lakehouse / "landing", isolated_lakehouse / "expectations"
    shutil.copytree(REPO_ROOT / "expectations", suites)
    strict = json.loads((suites / "penalties.json").read_text(encoding="utf-8"))
    strict["expectations"].append({"type": "expect_column_values_to_be_between", "meta": {"critical": True},
                                   "kwargs": {"column": "fine_amount", "min_value": 0, "max_value": 1000}})
    (suites / "penalties.json").write_text(json.dumps(strict, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("LAKEHOUSE_EXPECTATIONS", str(suites))
    settings.cache_clear()
    licence = ["HP-L-OK", fx.E_A, "甲", "JY9", "食品经营许可", fx.D_HP, "黄浦局", "2017-04-01", "2017-04-01",
               "2022-03-31", "有效", "黄浦区某路", "2017-04-01 10:00:00"]
    fx.write_folder(landing, "huangpu", fx.DAY1, "S", {
        "penalties.csv": ("penalties", fx.csv_bytes(
            fx.PEN_S, [fx.pen("HP-BIG", fx.E_A, "甲", fx.D_HP, "2017-04-01", fine="9000")]), 1),
        "licences.csv": ("licences", fx.csv_bytes(fx.LIC_S, [licence]), 1)})
    fx.write_folder(landing, "xuhui", fx.DAY1, "S", {"penalties.csv": ("penalties", fx.csv_bytes(
        fx.PEN_S, [fx.pen("XH-SMALL", fx.E_A, "甲", fx.D_XH, "2017-04-01", fine="500")]), 1)})

    blocked = dagbag.get_dag("ingest_huangpu").test(logical_date=DAY)
    assert "failed" in str(blocked.state).lower()
    published = dagbag.get_dag("ingest_xuhui").test(logical_date=DAY)
    assert "success" in str(published.state).lower()

    ids = {r["record_id"] for r in read_delta("silver", "penalties").collect()}
    assert ids == {"XH-SMALL"}
    assert not Path(delta.table_path("silver", "licences")).exists() or \
        read_delta("silver", "licences").count() == 0          # huangpu's good licence is held back too
    runs = {r["_file"]: r for r in read_delta("ops", "ingest_runs").collect()}
    hp = runs[f"huangpu/{fx.DAY1}/penalties.csv"]
    assert hp["status"] == "blocked" and not hp["expectations_passed"]
    assert any("fine_amount" in f for f in hp["expectation_failures"])
    assert runs[f"huangpu/{fx.DAY1}/licences.csv"]["status"] == "blocked"

    # the suite is fixed: the blocked file is retried, not skipped as already seen
    monkeypatch.setenv("LAKEHOUSE_EXPECTATIONS", str(REPO_ROOT / "expectations"))
    settings.cache_clear()
    retried = dagbag.get_dag("ingest_huangpu").test(logical_date=DAY)
    assert "success" in str(retried.state).lower()
    ids = {r["record_id"] for r in read_delta("silver", "penalties").collect()}
    assert ids == {"XH-SMALL", "HP-BIG"}
    assert [r["record_id"] for r in read_delta("silver", "licences").collect()] == ["HP-L-OK"]
    monkeypatch.delenv("LAKEHOUSE_EXPECTATIONS")
    settings.cache_clear()
