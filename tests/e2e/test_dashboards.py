"""The dashboards (dashboards/, Superset's export format) on the demo's
marts, as a dashboard builder opens them: `lakehouse dashboards start`
installs Superset into its own virtualenv and imports them; headless
Chromium logs in as admin, opens each dashboard, and every chart is drawn
with data (no error, no "No results"); the headline numbers say what the
marts say; screenshots go to $LAKEHOUSE_HOME/docs-demo/dashboards/. The
connection Superset reads through is lakehouse_dashboard's, which cannot
select a personal ID number.

In `make test-slow`: Superset's first installation takes minutes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import psycopg2
import pytest
import yaml
from helpers.demo_state import bash, demo_state

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DASHBOARDS = sorted((REPO / "dashboards" / "dashboards").glob("*.yaml"))


@pytest.fixture(scope="module")
def superset(tmp_path_factory):
    """The demo's state with Superset started on it (stopped afterwards by demo_state)."""
    for env in demo_state():
        res = bash("lakehouse dashboards start", env, timeout=1800)
        assert res.returncode == 0, res.stdout[-4000:]
        assert "Superset running at http://127.0.0.1:" in res.stdout and "superset_admin" in res.stdout
        yield env, re.search(r"running at (http://\S+)", res.stdout).group(1)


def _marts(env: dict, sql: str) -> list[tuple]:
    from lakehouse.credentials import connection_url

    with psycopg2.connect(connection_url("dashboard").rsplit("/", 1)[0] + "/" + env["PGDATABASE"]) as conn:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


def _charts_on(page) -> dict[str, str]:
    """Chart title -> its text as drawn (a big number's: the number), once no
    chart of the page is loading; "" for a chart that drew no picture."""
    page.wait_for_selector(".dashboard-component-chart-holder", timeout=120_000)
    for _ in range(120):   # polled: Superset's page policy forbids Playwright's injected wait functions
        if page.locator(".dashboard-component-chart-holder .loading").count() == 0:
            break
        time.sleep(1)
    time.sleep(2)
    drawn = {}
    for holder in page.query_selector_all(".dashboard-component-chart-holder"):
        title = holder.query_selector(".header-title")
        assert title is not None, f"a chart without a title (no chart definition?): {holder.inner_text()[:200]}"
        number = holder.query_selector(".header-line")
        has_picture = holder.query_selector("canvas, svg, table") is not None
        drawn[title.inner_text().strip()] = (number.inner_text().strip() if number
                                             else holder.inner_text() if has_picture else "")
    return drawn


def test_every_dashboard_draws_every_chart_from_the_marts(superset):
    from playwright.sync_api import sync_playwright

    from lakehouse.config import settings

    env, url = superset
    assert CHROMIUM.exists(), "the dashboards test needs Debian's chromium: apt-get install chromium fonts-noto-cjk"
    password = json.loads(settings().secrets_file.read_text())["superset_admin"]
    shots = settings().home / "docs-demo" / "dashboards"
    shots.mkdir(parents=True, exist_ok=True)
    seen: dict[str, str] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 2400})
        page.goto(f"{url}/login/")
        page.fill("#username", "admin")
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/superset/welcome/**", timeout=120_000)
        for path in DASHBOARDS:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
            page.goto(f"{url}/superset/dashboard/{spec['slug']}/")
            charts = _charts_on(page)
            filters = [f["name"] for f in spec["metadata"]["native_filter_configuration"]]
            assert "区 District" in filters and "日期 Date" in filters, spec["slug"]
            for name in filters:      # the filter bar offers each, by name
                assert page.get_by_text(name, exact=True).count() > 0, f"{spec['slug']}: no filter {name}"
            page.screenshot(path=str(shots / f"{spec['slug']}.png"), full_page=True)
            wanted = [c["meta"]["sliceName"] for c in spec["position"].values()
                      if isinstance(c, dict) and c.get("type") == "CHART"]
            assert sorted(charts) == sorted(wanted), spec["slug"]
            for title, text in charts.items():
                assert text, f"{spec['slug']}: {title} drew nothing"
                assert "No results" not in text and "Error" not in text, f"{spec['slug']}: {title}: {text[:300]}"
            seen.update(charts)
        browser.close()

    [(not_delivered, rejected)] = _marts(env, "select count(*) filter (where delivery_status = 'not delivered'), "
                                              "sum(files_rejected) from marts.fct_collection_quality")
    assert not_delivered > 0     # the demo leaves one district's day undelivered, on purpose
    assert seen["缺交的来源日 Source-days not delivered"] == str(not_delivered)
    assert seen["被拒文件 Files rejected"] == str(rejected)
    [(joint,)] = _marts(env, "select count(*) from marts.fct_joint_inspections")
    assert seen["联合检查 Joint inspections"] == str(joint)


def test_the_dashboards_connection_cannot_read_id_numbers(superset):
    env, _ = superset
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _marts(env, "select legal_representative_id_number from lake.entities limit 1")
    columns = {c for (c,) in _marts(env, "select column_name from information_schema.columns "
                                         "where table_schema = 'marts'")}
    assert "legal_representative_id_number" not in columns and "legal_representative_id_masked" in columns
