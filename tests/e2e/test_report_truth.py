"""The supervision report tells the truth about a missing delivery: a lake in
which jingan sent nothing for a business day (recorded missing the way the
daily DAG's sensor records it after the cut-off) and huangpu sent one good
folder and one with an unreadable manifest, published, built by dbt, drawn by
`lakehouse report` and opened in Debian's headless Chromium. What the page
shows (the grid cell, the headline figure, the tables) is compared with what
the collection-quality mart holds."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
DAY = date(2017, 4, 14)            # huangpu delivered (tests/fixtures/landing); jingan did not
BROKEN_DAY = date(2017, 4, 13)     # huangpu's folder of this day has an unreadable manifest
MISSING_DAYS = (BROKEN_DAY, DAY)   # jingan sent nothing on either day (both business days)
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def lake_with_a_missing_delivery(isolated_lakehouse_module, spark, copy_fixture_landing):
    from lakehouse.catalog.calendar import load_calendar
    from lakehouse.config import settings
    from lakehouse.ingest.pipeline import ingest
    from lakehouse.orchestration.schedule import MISSING, plan_day, record_missing
    from lakehouse.serving.marts import run_dbt
    from lakehouse.serving.publish import publish

    landing = Path(settings().landing)
    copy_fixture_landing("landing", landing)
    broken = landing / "huangpu" / BROKEN_DAY.isoformat()
    broken.mkdir(parents=True)
    (broken / "_MANIFEST.json").write_text("{not json", encoding="utf-8")
    report = ingest(sources=["huangpu"], spark=spark)
    assert {f.status for f in report.files} == {"accepted", "rejected"}, report.problem_lines()
    # what ingest_jingan's sensor decides the morning after each cut-off: both days are missing
    for day in MISSING_DAYS:
        plan = plan_day("jingan", day, landing, load_calendar(), datetime.now(timezone.utc), 6)
        assert plan.action == MISSING, plan
        record_missing(spark, plan, f"report-truth-missing-{day}")
    publish(spark=spark)
    # a first build of the marts and seeds (what mart_build does on a fresh warehouse); their data
    # tests run in the other e2e tests, this one is about the page
    run_dbt(["build", "--full-refresh", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"])
    return landing


@pytest.fixture(scope="module")
def mart(lake_with_a_missing_delivery):
    """What the analyst role reads in marts.fct_collection_quality."""
    from lakehouse.serving import warehouse

    def query(sql: str) -> list[tuple]:
        with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    return query


@pytest.fixture(scope="module")
def page(lake_with_a_missing_delivery):
    """`lakehouse report`'s page, opened offline in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from lakehouse.cli import main
    from lakehouse.config import settings

    assert CHROMIUM.exists(), "the report test needs Debian's chromium: apt-get install chromium fonts-noto-cjk"
    assert main(["report"]) == 0
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        tab = browser.new_page()
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto((settings().report_dir / "index.html").as_uri())
        tab.wait_for_function("document.querySelectorAll('.chart .main-svg').length > 0")
        yield tab
        assert errors == []
        browser.close()


def _grid(page) -> dict:
    """The collection-quality grid as the browser drew it: cell -> its legend label, and the words in cells."""
    return page.evaluate("""() => {
        const gd = document.getElementById('chart-collection_quality-0');
        const t = gd.data[0], legend = t.colorbar.ticktext, cells = {};
        t.y.forEach((source, i) => t.x.forEach((day, j) => { cells[source + ' ' + day] = legend[t.z[i][j]]; }));
        const words = Array.from(gd.querySelectorAll('.heatmap-label text')).map(e => e.textContent);
        return {cells, words};
    }""")


def test_the_grid_and_the_headline_say_missing_where_the_mart_says_not_delivered(page, mart):
    not_delivered = mart("""select source_name, delivery_date::text from marts.fct_collection_quality
                            where delivery_status = 'not delivered'""")
    assert sorted(not_delivered) == [("静安区", str(day)) for day in MISSING_DAYS]
    grid = _grid(page)
    for source, day in not_delivered:
        assert grid["cells"][f"{source} {day}"] == "未交付 missing"
    [(quarantined,)] = mart(f"select sum(rows_quarantined) from marts.fct_collection_quality "
                            f"where source = 'huangpu' and delivery_date = '{DAY}'")
    assert quarantined > 0 and grid["cells"][f"黄浦区 {DAY}"] == "隔离 quarantined"
    assert grid["cells"][f"黄浦区 {BROKEN_DAY}"] == "拒收 rejected"
    assert sum(label == "未交付 missing" for label in grid["cells"].values()) == len(not_delivered)
    assert grid["words"].count("未交付") == len(not_delivered)       # written in the cell, not only coloured
    kpi = page.locator('[data-kpi="missing_deliveries"]').inner_text()
    assert int(kpi.replace(",", "")) == len(not_delivered)
    listed = page.locator("#missing_deliveries + table tbody tr").all_inner_texts()
    assert sorted(tuple(row.split("\t")[:2]) for row in listed) == sorted(not_delivered)


def test_rejected_files_are_named_inside_the_landing(page, mart, lake_with_a_missing_delivery):
    [(reasons,)] = mart("select array_to_string(rejection_reasons, '; ') from marts.fct_collection_quality "
                        "where files_rejected > 0")
    assert str(lake_with_a_missing_delivery) in reasons          # the run log keeps the full path
    shown = page.locator("section#collection_quality").inner_text()
    assert f"huangpu/{BROKEN_DAY}/_MANIFEST.json" in shown
    assert str(lake_with_a_missing_delivery) not in page.locator("main").inner_text()


def test_charts_without_data_say_so_and_charts_with_data_do_not(page, mart):
    [(joint,)] = mart("select count(*) from marts.fct_joint_inspections")
    assert joint == 0
    chart = page.locator("#chart-joint_inspections-0")
    assert "暂无数据 no data" in chart.inner_text()
    assert page.locator('#joint_inspections .chart[data-empty="true"]').count() == 1
    assert "暂无数据" not in page.locator("#chart-collection_quality-0").inner_text()
    # a headline figure is a whole number, never 56.0
    figures = page.locator("[data-kpi]").all_inner_texts()
    assert figures and all(f.replace(",", "").isdigit() for f in figures), figures


def test_every_section_draws_and_rules_read_as_their_description(page, mart):
    from lakehouse.catalog import load_catalog

    assert page.locator("text=could not be drawn").count() == 0
    [(by_rule,)] = mart("select quarantined_by_rule from marts.fct_collection_quality "
                        f"where source = 'huangpu' and delivery_date = '{DAY}'")
    assert by_rule
    rules = load_catalog().rules
    shown = page.locator("section#collection_quality").inner_text()
    for rule_id in by_rule:
        assert rules[rule_id].reason in shown and rule_id not in shown, rule_id
