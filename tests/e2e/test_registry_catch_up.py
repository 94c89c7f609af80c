"""The registry catching up (ingest/promote.py): records delivered days before
the registry knows their entity, in every template, are promoted out of the
quarantine when it does; silver follows the registry's current district and
department list; the same landing ingested in one batch and day by day gives
the same silver and quarantine tables, and every file reconciles."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import late_registry_fixture as fx

pytestmark = pytest.mark.e2e

RUN_COLUMNS = {"_ingest_run_id", "_ingested_at", "_promoted_by_run_id"}   # differ between any two runs
TABLES = ["penalties", "penalties_history", "entities", "departments"]


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _rows(read_delta, layer, name):
    rows = [{k: v for k, v in r.asDict(recursive=True).items() if k not in RUN_COLUMNS}
            for r in read_delta(layer, name).collect()]
    return sorted(rows, key=repr)


def _state(read_delta):
    state = {t: _rows(read_delta, "silver", t) for t in TABLES}
    state["quarantine"] = _rows(read_delta, "quarantine", "rows")
    state["runs"] = {r["_file"]: {k: r[k] for k in ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined")}
                     for r in read_delta("ops", "ingest_runs").collect()}
    return state


@pytest.fixture(scope="module")
def one_batch(e2e_env, private_lakehouse_factory, tmp_path_factory, spark, read_delta):
    """The whole landing in one ingest run."""
    from lakehouse.ingest.pipeline import ingest

    with private_lakehouse_factory(tmp_path_factory.mktemp("one_batch")) as root:   # restores the module's lake after
        fx.build(root / "landing")
        ingest(start=_day(fx.DAY1), end=_day(fx.DAY3), spark=spark)
        return _state(read_delta)


@pytest.fixture(scope="module")
def day_by_day(isolated_lakehouse_module, spark, read_delta):
    """One ingest run per day, as the daily DAGs do; the state after each day."""
    from lakehouse.ingest.pipeline import ingest

    fx.build(isolated_lakehouse_module / "landing")
    reports, before = [], None
    for day in (fx.DAY1, fx.DAY2, fx.DAY3):
        if day == fx.DAY3:
            before = {"quarantine": read_delta("quarantine", "rows").collect(),
                      "penalties": {r["record_id"]: r.asDict(recursive=True)
                                    for r in read_delta("silver", "penalties").collect()}}
        reports.append(ingest(start=_day(day), end=_day(day), spark=spark))
    runs = {r["_file"]: r.asDict(recursive=True) for r in read_delta("ops", "ingest_runs").collect()}
    penalties = {r["record_id"]: r.asDict(recursive=True) for r in read_delta("silver", "penalties").collect()}
    history = [r.asDict(recursive=True) for r in read_delta("silver", "penalties_history").collect()]
    return {"reports": reports, "before": before, "runs": runs, "penalties": penalties, "history": history,
            "state": _state(read_delta), "read_delta": read_delta}


@pytest.fixture(scope="module")
def day_by_day_as_a_large_lake(e2e_env, private_lakehouse_factory, tmp_path_factory, spark, read_delta):
    """Day by day again, taking the path of a large lake (a small lake is
    none, LAKEHOUSE_SMALL_LAKE_BYTES=0): each day's tables are narrowed to the
    day's keys before classification (silver.classify) and compiled, not
    interpreted."""
    from lakehouse.ingest import silver
    from lakehouse.ingest.pipeline import ingest

    classify, narrowed = silver.classify, {}

    def recording_classify(*args, **kwargs):
        narrowed.setdefault(day, set()).add(kwargs.get("narrow", False))
        return classify(*args, **kwargs)

    with pytest.MonkeyPatch.context() as env, private_lakehouse_factory(tmp_path_factory.mktemp("large")) as root:
        env.setenv("LAKEHOUSE_SMALL_LAKE_BYTES", "0")
        env.setattr(silver, "classify", recording_classify)
        fx.build(root / "landing")
        for day in (fx.DAY1, fx.DAY2, fx.DAY3):
            ingest(start=_day(day), end=_day(day), spark=spark)
        return {"state": _state(read_delta), "narrowed": narrowed}


def test_records_waiting_for_their_entity_are_quarantined_until_it_arrives(day_by_day):
    before = day_by_day["before"]
    waiting = sorted(q["record_key"] for q in before["quarantine"])
    assert len(waiting) == 5 and all(q["rule_ids"] == ["uscc_unresolved"] for q in before["quarantine"])
    assert {rid for rid in fx.PROMOTED if any(f'"{rid}"' in k for k in waiting)} == set(fx.PROMOTED)
    early = before["penalties"]["HP-N1"]     # a valid code the registry does not hold yet: accepted, flagged
    assert early["registered_district"] is None and "entity_not_in_registry" in early["flags"]
    assert before["penalties"]["HP-A"]["registered_district"] == "310104"
    assert "unknown_department" in before["penalties"]["HP-D"]["flags"]
    assert "unknown_department" in before["penalties"]["XH-D"]["flags"]


def test_every_template_is_promoted_with_its_lineage_and_method(day_by_day):
    day3_run = day_by_day["reports"][-1].run_id
    day1_run = day_by_day["reports"][0].run_id
    assert day_by_day["reports"][-1].promoted == {"penalties": 5}
    assert day_by_day["reports"][-1].totals()["rows_promoted"] == 5
    files = {"HP-N2": f"huangpu/{fx.DAY1}/penalties.csv", "MH-N1": f"minhang/{fx.DAY1}/penalties.txt",
             "JA-N1": f"jingan/{fx.DAY1}/penalties.jsonl", "JS-N1": f"jinshan/{fx.DAY1}/penalties.xlsx"}
    for rid, method in fx.PROMOTED.items():
        row = day_by_day["penalties"][rid]
        assert (row["uscc"], row["resolved_by"], row["registered_district"]) == (fx.E_NEW, method, "310105"), rid
        assert row["_file"] == files[rid] and row["_delivery_date"] == _day(fx.DAY1), rid
        assert row["_ingest_run_id"] == day1_run and row["_promoted_by_run_id"] == day3_run, rid
        assert row["_row_number"] >= 1
        [hist] = [h for h in day_by_day["history"] if h["record_id"] == rid]   # the re-send is a duplicate
        assert hist["_promoted_by_run_id"] == day3_run and hist["_file"] == files[rid]
    assert day_by_day["penalties"]["JS-N1"]["fine_amount"] == 1200     # values re-read from the raw row
    assert day_by_day["state"]["quarantine"] == []                    # nothing left waiting, nothing twice


def test_silver_follows_the_registry_and_the_department_list(day_by_day):
    p = day_by_day["penalties"]
    assert p["HP-N1"]["registered_district"] == "310105" and "entity_not_in_registry" not in p["HP-N1"]["flags"]
    assert p["HP-A"]["registered_district"] == "310106"          # the entity moved district on day 3
    assert "unknown_department" not in p["HP-D"]["flags"]       # its entity moved too
    assert "unknown_department" not in p["XH-D"]["flags"]       # its entity did not: the department list alone
    for h in day_by_day["history"]:
        if h["record_id"] == "HP-A":
            assert h["registered_district"] == "310106"


def test_every_file_still_reconciles_and_promotions_are_counted_on_their_file(day_by_day):
    runs = day_by_day["runs"]
    for f, r in runs.items():
        if r["status"] != "rejected":
            assert r["rows_in"] == r["rows_accepted"] + r["rows_duplicate"] + r["rows_quarantined"], f
    hp1, hp2 = runs[f"huangpu/{fx.DAY1}/penalties.csv"], runs[f"huangpu/{fx.DAY2}/penalties.csv"]
    assert (hp1["rows_accepted"], hp1["rows_quarantined"], hp1["rows_promoted"]) == (4, 0, 1)
    assert hp1["quarantined_by_rule"] == {}
    assert (hp2["rows_accepted"], hp2["rows_duplicate"], hp2["rows_promoted"]) == (0, 1, 1)
    xh2 = runs[f"xuhui/{fx.DAY2}/penalties.csv"]                  # a re-send of a row in silver
    assert (xh2["rows_accepted"], xh2["rows_duplicate"]) == (0, 1)
    for f in (f"minhang/{fx.DAY1}/penalties.txt", f"jingan/{fx.DAY1}/penalties.jsonl",
              f"jinshan/{fx.DAY1}/penalties.xlsx"):
        assert (runs[f]["rows_accepted"], runs[f]["rows_quarantined"], runs[f]["rows_promoted"]) == (1, 0, 1), f


def test_one_batch_and_day_by_day_give_the_same_tables(one_batch, day_by_day):
    got = day_by_day["state"]
    for name in [*TABLES, "quarantine", "runs"]:
        assert got[name] == one_batch[name], (name, _column_differences(got[name], one_batch[name]))


def test_a_large_lake_day_by_day_gives_the_same_tables(one_batch, day_by_day_as_a_large_lake):
    # the path taken: day 1 finds an empty (small) lake; later days' tables are
    # narrowed (day 3's promotion out of the quarantine is not)
    narrowed = day_by_day_as_a_large_lake["narrowed"]
    assert narrowed[fx.DAY1] == {False} and narrowed[fx.DAY2] == {True} and True in narrowed[fx.DAY3]
    got = day_by_day_as_a_large_lake["state"]
    for name in [*TABLES, "quarantine", "runs"]:
        assert got[name] == one_batch[name], (name, _column_differences(got[name], one_batch[name]))


def _column_differences(got, want) -> list:
    """(row, column, got, want) for rows at the same place, for a readable failure."""
    if isinstance(got, dict):
        got, want = [got], [want]
    return [(i, k, g.get(k), w.get(k)) for i, (g, w) in enumerate(zip(got, want, strict=False))
            for k in sorted(set(g) | set(w)) if g.get(k) != w.get(k)]


def test_publish_and_the_collection_quality_mart_count_promotions_once(day_by_day):
    from lakehouse.serving import warehouse
    from lakehouse.serving.marts import run_dbt
    from lakehouse.serving.publish import publish

    publish()
    # cautious: leave out the tests that also read marts outside the selection (not built here)
    run_dbt(["build", "--select", "+fct_collection_quality", "--indirect-selection", "cautious"])
    with warehouse.connect("loader") as conn, conn.cursor() as cur:
        cur.execute("select count(*) from lake.quarantine_rows")
        assert cur.fetchone()[0] == 0
        cur.execute("select sum(rows_promoted) from lake.ingest_runs")
        assert cur.fetchone()[0] == 5
    with warehouse.connect("analyst") as conn, conn.cursor() as cur:      # marts are the analysts'
        cur.execute("select rows_received, rows_accepted, rows_duplicate, rows_quarantined, rows_promoted, "
                    "rows_reconcile from marts.fct_collection_quality where source = 'huangpu' and feed = 'penalties' "
                    "order by delivery_date")
        assert cur.fetchall() == [(4, 4, 0, 0, 1, True), (1, 0, 1, 0, 1, True)]
