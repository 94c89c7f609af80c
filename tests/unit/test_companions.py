"""Companion batching (lakehouse.orchestration.companions): which queued sources join a
batch, how a batch's report is shared out per source, and the receipts a
companion's own task reports from (taken once; void when the delivery changed)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from lakehouse.ingest.pipeline import IngestReport
from lakehouse.ingest.runlog import RunLogEntry
from lakehouse.orchestration import companions
from lakehouse.orchestration.schedule import DayPlan

MONDAY = date(2017, 4, 17)
SATURDAY = date(2017, 4, 15)
DUE = datetime(2017, 4, 18, 22, tzinfo=timezone.utc)


def _plan(source: str, action: str = "ingest", since: date = SATURDAY, day: date = MONDAY) -> DayPlan:
    return DayPlan(source, day, action, f"{source} {day}: {action}", since, DUE)


def _runs(state: str | None) -> dict:
    return {f"scheduled__{MONDAY}T00:00:00+08:00": {"ingest": state}}


def test_only_sources_queued_for_the_same_days_join():
    states = {"jingan": _runs("scheduled"), "xuhui": _runs("scheduled"), "minhang": _runs("running"),
              "pudong": _runs(None), "city": _runs("scheduled"), "songjiang": _runs("scheduled"),
              "putuo": {}}
    plans = {"jingan": _plan("jingan"), "xuhui": _plan("xuhui", action="missing"),
             "minhang": _plan("minhang"), "pudong": _plan("pudong"), "city": _plan("city"),
             "songjiang": _plan("songjiang", since=MONDAY), "putuo": _plan("putuo")}
    # xuhui is missing (recorded by its own task), minhang already runs, pudong still waits for its
    # sensor, songjiang's plan covers other days, putuo has no run at that logical date
    assert companions.queued_sources(states, plans, _plan("huangpu")) == ["city", "jingan"]


def _entry(source: str, file: str, status: str = "accepted", rows: int = 10, reason: str | None = None):
    return RunLogEntry(ingest_run_id="run-1", source=source, delivery_date=MONDAY, feed="licences", _file=file,
                       file_sha256="x", status=status, reason=reason, manifest_rows=rows, rows_in=rows,
                       started_at=None, finished_at=None, rows_accepted=rows if status == "accepted" else 0)


def _report() -> IngestReport:
    report = IngestReport("run-1", notes=["recovered an unfinished batch", "jingan/2017-04-17/x.csv: unknown column"])
    report.files = [_entry("huangpu", "huangpu/2017-04-17/a.csv", rows=7),
                    _entry("jingan", "jingan/2017-04-17/b.csv", rows=5),
                    _entry("jingan", "jingan/2017-04-17/c.csv", status="blocked", rows=3,
                           reason="expect_column_values_to_not_be_null(uscc)"),
                    _entry("jingan", "jingan/2017-04-17/d.csv", status="rejected", rows=0, reason="bad_header: x")]
    report.blocked_sources = {"jingan"}
    report.promoted = {"licences": 4}
    return report


def test_a_batch_report_is_shared_out_per_source():
    own = companions.source_result(_report(), "huangpu", MONDAY, runner=True)
    other = companions.source_result(_report(), "jingan", MONDAY, runner=False)
    assert own.result == {"status": "ingested", "problem": None, "rows_in": 7, "rows_accepted": 7,
                          "rows_duplicate": 0, "rows_quarantined": 0, "files": 1, "rows_promoted": 4,
                          "files_rejected": 0, "files_blocked": 0}
    assert own.lines == ["note: recovered an unfinished batch", "note: jingan/2017-04-17/x.csv: unknown column"]
    assert other.result["status"] == "blocked" and other.result["files"] == 3
    assert other.result["rows_in"] == 8 and other.result["rows_promoted"] == 0
    assert other.result["files_rejected"] == other.result["files_blocked"] == 1
    assert "jingan 2017-04-17: critical expectations failed" in other.result["problem"]
    assert "expect_column_values_to_not_be_null(uscc)" in other.result["problem"]
    assert other.lines == ["note: jingan/2017-04-17/x.csv: unknown column",
                           "BLOCKED: jingan/2017-04-17/c.csv: expect_column_values_to_not_be_null(uscc)",
                           "REJECTED: jingan/2017-04-17/d.csv: bad_header: x"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    from lakehouse.config import settings

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAKEHOUSE_LANDING", str(tmp_path / "landing"))
    settings.cache_clear()
    for day in (SATURDAY, MONDAY):
        folder = tmp_path / "landing" / "jingan" / day.isoformat()
        folder.mkdir(parents=True)
        (folder / "_MANIFEST.json").write_text(json.dumps({"day": day.isoformat()}))
    yield tmp_path
    settings.cache_clear()


def test_a_receipt_is_reported_once(home):
    plan = _plan("jingan")
    outcome = companions.source_result(_report(), "jingan", MONDAY, runner=False)
    companions.leave_receipt(plan, companions.manifests_of(plan), outcome, by="ingest_huangpu's batch run-1")
    assert set(companions.manifests_of(plan)) == {"2017-04-15", "2017-04-17"}   # Sunday delivered nothing
    taken, by = companions.take_receipt(plan)
    assert taken == outcome and by == "ingest_huangpu's batch run-1"
    assert companions.take_receipt(plan) is None            # a cleared run ingests (the ledger skips what is in)


def test_a_receipt_is_void_when_the_delivery_changed_since(home, capsys):
    plan = _plan("jingan")
    outcome = companions.source_result(_report(), "jingan", MONDAY, runner=False)
    companions.leave_receipt(plan, companions.manifests_of(plan), outcome, by="ingest_huangpu's batch run-1")
    (home / "landing" / "jingan" / SATURDAY.isoformat() / "_MANIFEST.json").write_text('{"re-sent": true}')
    assert companions.take_receipt(plan) is None
    assert "the delivery changed since ingest_huangpu's batch run-1 ingested it" in capsys.readouterr().out


def test_a_failed_batch_is_run_again_for_the_own_source_alone(home, capsys):
    """A companion must not fail this source's run: the batch raises, the source
    is ingested alone at once, and no companion gets a receipt (it ingests itself)."""
    calls = []

    def ingest(sources, start, end):
        calls.append(sources)
        if len(sources) > 1:
            raise RuntimeError("jingan's file broke the batch")
        report = _report()
        report.blocked_sources = set()
        return report

    own = companions.ingest_day(_plan("huangpu"), [_plan("jingan")], ingest, "scheduled__x")
    assert calls == [["huangpu", "jingan"], ["huangpu"]]
    assert own.result["files"] == 1 and own.result["status"] == "ingested"
    assert companions.take_receipt(_plan("jingan")) is None
    assert "the batch with jingan failed (RuntimeError: jingan's file broke the batch); ingesting huangpu alone" \
        in capsys.readouterr().out


def test_a_successful_batch_leaves_each_companion_its_receipt(home):
    def ingest(sources, start, end):
        return _report()

    own = companions.ingest_day(_plan("huangpu"), [_plan("jingan")], ingest, "scheduled__x")
    assert own.lines[0] == "this batch also ingested jingan for 2017-04-17: their own DAG runs report their files"
    taken, by = companions.take_receipt(_plan("jingan"))
    assert by == "ingest_huangpu's batch run-1 (Airflow run scheduled__x)"
    assert taken.result["status"] == "blocked" and taken.result["files"] == 3
