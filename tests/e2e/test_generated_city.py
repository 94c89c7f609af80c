"""The generator's small preset (17 sources, 4 templates, every city feed,
every fault) ingested through the real backfill DAG: files, quarantine and
every silver row agree with the generator's answer file."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
START, DAYS, SEED = date(2017, 4, 10), 5, 7
# the generator's name for a row-count mismatch; the readers report row_count_mismatch
REASON_ALIASES = {"manifest_rows_mismatch": "row_count_mismatch"}
LINEAGE_AND_DERIVED = {"name_keys", "extra_columns", "_row_hash"}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _same(expected, got) -> bool:
    if expected in (None, []) and got in (None, []):
        return True
    if expected is None or got is None:
        return False
    if isinstance(got, Decimal):
        return Decimal(str(expected)) == got
    if isinstance(got, datetime):
        return datetime.fromisoformat(expected).astimezone(timezone.utc) == got.astimezone(timezone.utc)
    if isinstance(got, date):
        return expected == got.isoformat()
    if isinstance(got, list):
        return list(expected) == list(got)
    if isinstance(got, str) and "E+" in got and "E+" in str(expected):
        # a USCC typed as a number in a spreadsheet: both sides show the same float
        return float(expected) == float(got)
    return expected == got


def _key(values) -> tuple:
    return tuple(v.isoformat() if isinstance(v, date) else v for v in values)


@pytest.fixture(scope="module")
def city(isolated_lakehouse_module, dagbag, read_delta):
    from lakehouse.generator import generate

    root = isolated_lakehouse_module
    generate(out=root / "landing", truth=root / "truth", start=START, days=DAYS, preset="small", seed=SEED,
             progress=False)
    run = dagbag.get_dag("ingest_backfill").test(run_conf={"start": START.isoformat(), "end": "2017-04-30"})
    assert "success" in str(run.state).lower()
    return {"truth": root / "truth", "read_delta": read_delta}


def test_every_file_has_the_expected_outcome(city):
    runs = {r["_file"]: r for r in city["read_delta"]("ops", "ingest_runs").collect()}
    truth = _jsonl(city["truth"] / "files.jsonl")
    for f in truth:
        if f["expected_status"] == "not_ready":
            assert not any(k.startswith(f"{f['source']}/{f['date']}/") for k in runs), f
            continue
        got = runs[f["file"]]
        assert got["status"] == f["expected_status"], (f["file"], got["reason"])
        if f["reject_reason"]:
            want = REASON_ALIASES.get(f["reject_reason"], f["reject_reason"])
            assert got["reason"].startswith(want), (f["file"], got["reason"])
        else:
            assert got["rows_in"] == f["rows_written"], f["file"]
            assert got["rows_in"] == got["rows_accepted"] + got["rows_duplicate"] + got["rows_quarantined"]
    assert len(runs) == sum(f["expected_status"] != "not_ready" for f in truth)


def test_quarantine_matches_row_for_row(city):
    want = {(r["file"], r["row_number"]): sorted(r["rules"]) for r in _jsonl(city["truth"] / "rows.jsonl")
            if r["expected"] == "quarantined"}
    got = {(r["_file"], r["_row_number"]): sorted(r["rule_ids"])
           for r in city["read_delta"]("quarantine", "rows").collect()}
    assert want, "the small preset should carry quarantinable faults"
    missing = {k: v for k, v in want.items() if k not in got}
    extra = {k: v for k, v in got.items() if k not in want}
    wrong = {k: (want[k], got[k]) for k in want.keys() & got.keys() if want[k] != got[k]}
    assert not (missing or extra or wrong), dict(missing=list(missing.items())[:5], extra=list(extra.items())[:5],
                                                 wrong=list(wrong.items())[:5])


def test_duplicates_and_updates_are_counted_as_the_truth_says(city):
    rows = _jsonl(city["truth"] / "rows.jsonl")
    runs = city["read_delta"]("ops", "ingest_runs").where("status = 'accepted'").collect()
    assert sum(r["rows_duplicate"] for r in runs) == sum(r["expected"] == "duplicate" for r in rows)
    assert sum(r["rows_quarantined"] for r in runs) == sum(r["expected"] == "quarantined" for r in rows)


@pytest.mark.parametrize("table", ["licences", "inspections", "penalties", "entities", "departments",
                                   "abnormal_list", "serious_violations", "dual_notifications", "random_plans",
                                   "random_draws", "website_filings"])
def test_silver_matches_the_answer_file_row_for_row(city, table):
    from lakehouse.catalog import load_catalog

    key = load_catalog().tables[table].key
    truth = {tuple(r[k] for k in key): r for r in _jsonl(city["truth"] / "silver" / f"{table}.jsonl")}
    silver = {_key(r[k] for k in key): r.asDict(recursive=True)
              for r in city["read_delta"]("silver", table).collect()}
    assert set(silver) == set(truth), dict(missing=sorted(set(truth) - set(silver))[:5],
                                           extra=sorted(set(silver) - set(truth))[:5])
    diffs = []
    for k, want in truth.items():
        got = silver[k]
        for field, value in want.items():
            if field in LINEAGE_AND_DERIVED or field not in got:
                continue
            if field == "flags":
                value, actual = sorted(value or []), sorted(got["flags"] or [])
            else:
                actual = got[field]
            if not _same(value, actual):
                diffs.append((k, field, value, actual))
    assert not diffs, f"{len(diffs)} differences, first: {diffs[:8]}"


# ---------------------------------------------------------------- the marts on the same city

@pytest.fixture(scope="module")
def marts(city, dagbag):
    from lakehouse.serving import warehouse

    run = dagbag.get_dag("build_marts").test()
    assert "success" in str(run.state).lower()

    def query(sql: str) -> list[tuple]:
        with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    return query


def test_cross_district_mart_counts_what_the_answer_file_implies(city, marts):
    expected = 0
    for feed in ("licences", "inspections", "penalties"):
        for r in _jsonl(city["truth"] / "silver" / f"{feed}.jsonl"):
            if r["registered_district"] and r["holding_district"] != "310000" \
                    and r["holding_district"] != r["registered_district"]:
                expected += 1
    [(got,)] = marts("select coalesce(sum(records), 0) from marts.fct_cross_district_supervision")
    assert expected > 0 and got == expected


def test_funnel_counts_match_the_pushes_delivered(city, marts):
    pushes = _jsonl(city["truth"] / "silver" / "dual_notifications.jsonl")
    [(pushed, issued, unanswered)] = marts(
        "select sum(pushed), sum(issued), sum(unanswered) from marts.fct_dual_notification_funnel")
    assert pushed == len(pushes)
    assert issued == sum(p["feedback_status"] == "ISSUED" for p in pushes)
    assert unanswered == sum(p["feedback_status"] == "NO_FEEDBACK" for p in pushes)


def test_random_plan_coverage_matches_draws_and_inspections(city, marts):
    draws = _jsonl(city["truth"] / "silver" / "random_draws.jsonl")
    inspections = _jsonl(city["truth"] / "silver" / "inspections.jsonl")
    got = {plan: (drawn, inspected) for plan, drawn, inspected in marts(
        "select plan_id, drawn, inspected_entities from marts.fct_random_inspection_coverage")}
    plans = {p["plan_id"] for p in _jsonl(city["truth"] / "silver" / "random_plans.jsonl")}
    assert plans and set(got) == plans
    for plan in plans:
        drawn = sum(d["plan_id"] == plan for d in draws)
        inspected = len({i["uscc"] for i in inspections if i["kind"] == "RANDOM" and i["plan_id"] == plan})
        assert got[plan] == (drawn, inspected), plan


def test_collection_quality_mart_reconciles_with_the_run_log(city, marts):
    files = [f for f in _jsonl(city["truth"] / "files.jsonl") if f["expected_status"] != "not_ready"]
    [(received, rejected, rows_accepted)] = marts(
        "select sum(files_received), sum(files_rejected), sum(rows_accepted) from marts.fct_collection_quality")
    assert received == len(files)
    assert rejected == sum(f["expected_status"] == "rejected" for f in files)
    truth_rows = _jsonl(city["truth"] / "rows.jsonl")
    assert rows_accepted == sum(r["expected"] in ("accepted", "updated") for r in truth_rows)


def test_entity_profile_has_every_registry_entity_and_no_personal_data(city, marts):
    entities = _jsonl(city["truth"] / "silver" / "entities.jsonl")
    [(n,)] = marts("select count(*) from marts.dim_entity_profile")
    assert n == len(entities)
    columns = {c for (c,) in marts("select column_name from information_schema.columns "
                                   "where table_schema = 'marts' and table_name = 'dim_entity_profile'")}
    assert not columns & {"legal_representative", "legal_representative_id_number"}


# ---------------------------------------------------------------- the report and the entity lookup on the same city

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def report_page(marts):
    """The report the build_marts DAG drew, opened in Debian's headless Chromium."""
    from playwright.sync_api import sync_playwright

    from lakehouse.config import settings

    assert CHROMIUM.exists(), "the report test needs Debian's chromium: apt-get install chromium fonts-noto-cjk"
    path = settings().report_dir / "index.html"
    assert path.exists(), "the build_marts DAG should have written the report"
    errors, remote = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.chart .main-svg').length > 0")
        yield {"page": page, "errors": errors, "remote": remote}
        browser.close()


def test_report_opens_offline_without_errors_and_draws_every_chart(report_page):
    from lakehouse.serving.report.sections import SECTIONS

    page = report_page["page"]
    assert report_page["errors"] == [] and report_page["remote"] == []
    charts = page.evaluate("""Array.from(document.querySelectorAll('.chart .plotly-graph-div')).map(d => ({
        id: d.id, section: d.closest('section').id, drawn: !!d._fullLayout && d.querySelectorAll('.main-svg').length > 0,
        traces: (d.data || []).length}))""")
    assert {c["section"] for c in charts} == {fn.__name__ for fn in SECTIONS}
    assert all(c["drawn"] and c["traces"] > 0 for c in charts), [c for c in charts if not c["drawn"]]
    assert page.locator("text=could not be drawn").count() == 0


def test_report_figures_equal_the_marts(report_page, marts):
    page = report_page["page"]

    def kpi(key: str) -> int:
        return int(page.locator(f'[data-kpi="{key}"]').inner_text().replace(",", ""))

    [(pushed, overdue)] = marts("select sum(pushed), sum(overdue) from marts.fct_dual_notification_funnel")
    assert (kpi("dual_pushed"), kpi("dual_overdue")) == (pushed, overdue)
    [(cross,)] = marts("select sum(records) from marts.fct_cross_district_supervision")
    assert kpi("cross_district_records") == cross
    # the credit chart's yellow bars, as drawn, add up to the mart's yellow entities
    drawn_yellow = page.evaluate("""document.getElementById('chart-credit_classes-0').data
        .filter(t => t.name === '警示').flatMap(t => Array.from(t.y)).reduce((a, b) => a + b, 0)""")
    [(yellow,)] = marts("select count(*) from marts.fct_credit_risk where credit_class = 'yellow'")
    assert yellow > 0 and drawn_yellow == yellow
    # names, not codes: every district on the credit chart's axis is a district name
    axis = page.evaluate("Array.from(document.getElementById('chart-credit_classes-0').data[0].x)")
    assert axis and all(not name.isdigit() for name in axis) and "静安区" in axis


def _district_names() -> dict[str, str]:
    from lakehouse.catalog import load_catalog

    # the division registry follows from schemas/sources/ (one file per district)
    return {code: d.name for code, d in load_catalog().districts.items()}


def _truth_records(truth: Path) -> dict[str, dict[tuple[str, str], int]]:
    """uscc -> {(holding district name, feed): records} from the answer file's silver rows."""
    names = _district_names()
    out: dict[str, dict[tuple[str, str], int]] = {}
    for feed in ("licences", "inspections", "penalties"):
        for r in _jsonl(truth / "silver" / f"{feed}.jsonl"):
            if r["uscc"]:
                key = (names.get(r["holding_district"], "未知"), feed)
                per_entity = out.setdefault(r["uscc"], {})
                per_entity[key] = per_entity.get(key, 0) + 1
    return out


def test_entity_lookup_returns_the_records_the_answer_file_says(city, marts, capsys):
    from lakehouse.cli import main
    from lakehouse.serving.entity import find_entity

    truth = _truth_records(city["truth"])
    registry = {e["uscc"]: e for e in _jsonl(city["truth"] / "silver" / "entities.jsonl")}
    names = [e["name"] for e in registry.values()]
    # a registered entity with a name of its own, held by the most districts, then by the most records
    uscc = max((u for u in truth if u in registry and names.count(registry[u]["name"]) == 1),
               key=lambda u: (len({d for d, _ in truth[u]}), sum(truth[u].values()), u))
    assert len({d for d, _ in truth[uscc]}) >= 2, "the small city should have cross-district entities"
    assert find_entity(uscc).records == truth[uscc]
    # and every other entity the answer file gives records, registered or not
    wrong = {u: (want, got) for u, want in truth.items() if (got := find_entity(u).records) != want}
    assert not wrong, dict(list(wrong.items())[:3])

    entity = registry[uscc]
    assert find_entity(entity["name"]).registry["uscc"] == uscc
    if entity.get("reg_no"):
        assert find_entity(entity["reg_no"]).registry["uscc"] == uscc
    [(cls, rules)] = marts(f"select credit_class, rule_ids from marts.fct_credit_risk where uscc = '{uscc}'")
    assert main(["entity", uscc]) == 0
    out = capsys.readouterr().out
    assert entity["name"] in out and f"({cls})" in out and all(rule in out for rule in rules)


def test_entity_lookup_of_an_unknown_name_says_what_to_do(marts, capsys):
    from lakehouse.cli import main

    assert main(["entity", "没有这个主体的名字"]) == 2
    assert "no entity matches" in capsys.readouterr().err
# ---------------------------------------------------------------- buildings and hotspots (楼宇经济, 监管热点)


ADDRESS_KEY = ("address_district", "address_road", "address_lane", "address_number", "address_building")
PROBLEMS = ("RECTIFY_ORDERED", "CASE_OPENED")


def _building_id(parts) -> str | None:
    """The answer file's parts -> dim_building.building_id (district|road|lane|number|building)."""
    if parts[1] is None:
        return None
    return "|".join(p or "" for p in parts)


def _month(day: str) -> date:
    return date.fromisoformat(day).replace(day=1)


def test_entities_per_building_match_the_answer_file(city, marts):
    from collections import defaultdict

    tenants, domiciled = defaultdict(set), defaultdict(set)
    for feed in ("entities", "licences", "inspections"):
        for r in _jsonl(city["truth"] / "silver" / f"{feed}.jsonl"):
            bid = _building_id([r[k] for k in ADDRESS_KEY])
            if bid is None or r["uscc"] is None:
                continue
            tenants[bid].add(r["uscc"])
            if feed == "entities":
                domiciled[bid].add(r["uscc"])
    got = {b: (n, d) for b, n, d in marts(
        "select building_id, entities, entities_by_domicile from marts.dim_building")}
    want = {b: (len(u), len(domiciled[b])) for b, u in tenants.items()}
    assert got == want
    assert max(n for n, _ in want.values()) >= 10, "some buildings should hold many entities"


def test_inspections_and_problems_per_building_month_match_the_answer_file(city, marts):
    from collections import Counter

    inspections, problems, licences = Counter(), Counter(), Counter()
    for r in _jsonl(city["truth"] / "silver" / "inspections.jsonl"):
        bid = _building_id([r[k] for k in ADDRESS_KEY])
        if bid is not None:
            inspections[(bid, _month(r["inspection_date"]))] += 1
            problems[(bid, _month(r["inspection_date"]))] += r["result"] in PROBLEMS
    for r in _jsonl(city["truth"] / "silver" / "licences.jsonl"):
        bid = _building_id([r[k] for k in ADDRESS_KEY])
        if bid is not None:
            licences[(bid, _month(r["decision_date"]))] += 1
    rows = marts("select building_id, event_month, inspections, inspections_with_problems, licences "
                 "from marts.fct_building_supervision")
    got_inspections = {(b, m): n for b, m, n, _, _ in rows if n}
    assert got_inspections == dict(inspections)
    assert {(b, m): p for b, m, n, p, _ in rows if n} == {k: problems[k] for k in inspections}
    assert {(b, m): n for b, m, _, _, n in rows if n} == dict(licences)
    assert sum(problems.values()) > 0


def test_the_planted_hotspot_is_found_with_its_figures(city, marts):
    planted = json.loads((city["truth"] / "summary.json").read_text(encoding="utf-8"))["planted_hotspot"]
    assert planted, "the small preset plants a hotspot"
    bid, month = _building_id(planted["building"]), date.fromisoformat(planted["month"])
    by_month: dict[date, list[bool]] = {}
    for r in _jsonl(city["truth"] / "silver" / "inspections.jsonl"):
        if _building_id([r[k] for k in ADDRESS_KEY]) == bid:
            by_month.setdefault(_month(r["inspection_date"]), []).append(r["result"] in PROBLEMS)
    trailing = [p for m, ps in by_month.items() if m < month and (month.year * 12 + month.month)
                - (m.year * 12 + m.month) <= 3 for p in ps]
    rows = marts(f"select rule_id, numerator, denominator, trailing_numerator, trailing_denominator, reason "
                 f"from marts.fct_supervision_hotspots where place_id = '{bid}' "
                 f"and event_month = '{month}' and measure = 'problems_per_inspection'")
    fired = {r[0]: r for r in rows}
    assert "building_problems_rising" in fired, rows
    _, num, den, t_num, t_den, reason = fired["building_problems_rising"]
    assert (num, den) == (sum(by_month[month]), len(by_month[month]))
    assert (t_num, t_den) == (sum(trailing), len(trailing))
    assert str(den) in reason and "previous 3 months" in reason


def test_the_readme_building_queries_answer_with_the_planted_hotspot(city, marts):
    """The two building queries of docs/marts.md, exactly as written there."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "marts.md").read_text(encoding="utf-8")
    block = readme.split("select b.address_label", 1)[1].split("```", 1)[0]
    most, rising = ("select b.address_label" + block).split(";")[:2]
    planted = json.loads((city["truth"] / "summary.json").read_text(encoding="utf-8"))["planted_hotspot"]
    top = marts(most)
    assert top and all(n >= m for (_, n, *_), (_, m, *_) in zip(top, top[1:], strict=False))   # most entities first
    [(label,)] = marts(f"select address_label from marts.dim_building "
                       f"where building_id = '{_building_id(planted['building'])}'")
    assert label in [r[0] for r in top]          # the planted building holds the most entities in 静安
    places = [r[2] for r in marts(rising)]
    assert _building_id(planted["building"]) in places


# --------------------------------------------------------------------------- other engines (docs/other-engines.md)

def _lake_tables(layer: str) -> list[str]:
    from lakehouse.lake import delta

    folder = Path(delta.table_path(layer, ""))
    return sorted(p.name for p in folder.iterdir() if (p / "_delta_log").is_dir())


def _plain(value):
    """A value as both engines can be compared on: text for dates, times and decimals."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_polars_reads_every_silver_table_as_spark_does(city):
    """Every silver table (current and history), through Polars: the same
    rows (count, and every row's lineage key) and the same values in a
    sample of rows, column by column, beside Spark's."""
    import polars as pl

    from lakehouse.lake import delta

    tables = _lake_tables("silver")
    assert len(tables) >= 20        # the 11 tables and their histories
    key = ["_file", "_file_sha256", "_row_number"]
    for name in tables:
        spark_df = city["read_delta"]("silver", name)
        polars_df = pl.read_delta(delta.table_path("silver", name))
        assert polars_df.height == spark_df.count(), name
        spark_keys = sorted(tuple(r) for r in spark_df.select(*key).collect())
        assert sorted(polars_df.select(key).iter_rows()) == spark_keys, name
        sample = spark_keys[:: max(1, len(spark_keys) // 20)]
        columns = [c for c in spark_df.columns if c not in ("extra_columns",)]   # a map: Polars has no map type
        by_key = {tuple(r[:3]): r[3:] for r in polars_df.select(key + [c for c in columns if c not in key])
                  .iter_rows()}
        for row in spark_df.select(*key, *[c for c in columns if c not in key]).collect():
            if tuple(row[:3]) in sample:
                assert [_plain(v) for v in by_key[tuple(row[:3])]] == [_plain(v) for v in row[3:]], name


def test_deltalake_reads_every_table_without_deletion_vectors(city):
    """delta-rs (the `deltalake` package) reads the append-only tables (the
    silver histories, bronze, the run log) with Spark's counts, and refuses
    the current silver tables for their deletion vectors, as
    docs/other-engines.md says; if it ever reads them, that page must change."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaProtocolError

    from lakehouse.lake import delta

    silver = _lake_tables("silver")
    for layer, names in (("silver", [n for n in silver if n.endswith("_history")]),
                         ("bronze", _lake_tables("bronze")), ("ops", ["ingest_runs"])):
        assert names, layer
        for name in names:
            table = DeltaTable(delta.table_path(layer, name))
            assert table.to_pyarrow_dataset().count_rows() == city["read_delta"](layer, name).count(), name
    for name in [n for n in silver if not n.endswith("_history")]:
        with pytest.raises(DeltaProtocolError, match="deletionVectors"):
            DeltaTable(delta.table_path("silver", name)).to_pyarrow_dataset()
