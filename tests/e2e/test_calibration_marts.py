"""The calibration preset's 静安 slice up to 2017-04-14, through the real DAGs
into the marts: 1,877 dual-notification pushes to 10 departments, 1,316 with
a licence issued, and the joint restaurant inspection (66 entities, 17
items, 8 rectification orders) — the figures of feeds.md, read from marts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
START, UNTIL = date(2017, 1, 2), date(2017, 4, 14)


def _business_days(start: date, end: date) -> int:
    return sum((start + timedelta(d)).weekday() < 5 for d in range((end - start).days + 1))


@pytest.fixture(scope="module")
def marts(isolated_lakehouse_module, dagbag):
    from lakehouse.generator import generate
    from lakehouse.serving import warehouse

    root = isolated_lakehouse_module
    generate(out=root / "landing", truth=root / "truth", start=START, days=_business_days(START, UNTIL),
             preset="city", seed=7, sources=["city", "jingan"], progress=False, truth_rows=False)
    for dag_id, conf in (("ingest_backfill", {"start": START.isoformat(), "end": UNTIL.isoformat()}),
                         ("build_marts", None)):
        run = dagbag.get_dag(dag_id).test(run_conf=conf)
        assert "success" in str(run.state).lower(), dag_id

    def query(sql: str):
        with warehouse.connect(role="transformer") as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    return query


def test_jingan_dual_notification_funnel(marts):
    [(pushed, departments, issued)] = marts("""
        select sum(f.pushed), count(distinct f.pushed_department_code), sum(f.issued)
        from marts.fct_dual_notification_funnel f
        join lake.departments d on d.department_code = f.pushed_department_code
        where d.district_code = '310106' and f.pushed_month <= date '2017-04-01'""")
    assert (pushed, departments, issued) == (1877, 10, 1316)


def test_jingan_joint_restaurant_inspection(marts):
    rows = marts("""
        select j.entities, j.items_checked, j.rectification_orders, cardinality(j.participating_department_codes)
        from marts.fct_joint_inspections j
        join lake.departments d on d.department_code = j.lead_department_code
        where d.department_name like '%静安区市场监督管理局' and j.entities = 66""")
    assert rows == [(66, 17, 8, 2)]
