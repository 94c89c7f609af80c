"""Marts that follow the day: the lake of late_registry_fixture (records before
the registry knows their entity, promotions, an entity moving district, the
department list learning a code) plus a late delivery for day 1 and a corrected
record, ingested and published day by day, the marts built incrementally after
each day (lakehouse.serving.mart_build, as build_marts does). Every mart table then
equals, row for row and column for column, a --full-refresh build of the same
lake, and the incremental models did not rewrite what did not change."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import late_registry_fixture as fx
from helpers.contract_fixture import E_A, PEN_S, csv_bytes, pen, uscc, write_folder

# three ingests, publishes and marts builds plus a full refresh: about 5 min on an idle machine
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# on time on day 1, untouched after: the last build must leave its rows as they are
E_QUIET = uscc("91310107", "MA1FLQ01")
QUIET_DAY1 = [pen("PT-Q1", E_QUIET, "上海安静贸易有限公司", fx.D_HP, "2017-04-01")]
LATE_DAY1 = [pen("CN-L1", fx.E_STAYS, "上海不动商贸有限公司", fx.D_HP, "2017-03-31"),
             pen("CN-L2", E_A, "上海甲乙餐饮管理有限公司", fx.D_HP, "2017-02-28", fine="300")]
# day 3: xuhui corrects XH-D: another entity, another month (the old ones must lose it)
XH_CORRECTED = [pen("XH-D", E_A, "上海甲乙餐饮管理有限公司", fx.D_NEW, "2017-03-20",
                    updated="2017-04-05 08:00:00")]


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _mart_tables(cur) -> list[str]:
    cur.execute("select table_name from information_schema.tables where table_schema = 'marts' "
                "and table_type = 'BASE TABLE' order by 1")
    return [r[0] for r in cur.fetchall()]


def _differences(cur, table: str, snapshot: str) -> tuple[int, int]:
    """(rows only in the incremental build, rows only in the full refresh), every column."""
    cur.execute(f"select count(*) from (select * from {snapshot} except all select * from marts.{table}) d")
    only_incremental = cur.fetchone()[0]
    cur.execute(f"select count(*) from (select * from marts.{table} except all select * from {snapshot}) d")
    return only_incremental, cur.fetchone()[0]


def _ingest_publish_build(spark, start: str, end: str) -> dict:
    from lakehouse.ingest.pipeline import ingest
    from lakehouse.serving.mart_build import build_and_record
    from lakehouse.serving.publish import publish

    ingest(start=_day(start), end=_day(end), spark=spark)
    published = [f"{p.table}: v{p.from_version}->v{p.to_version} +{p.upserted} -{p.deleted}"
                 for p in publish(spark=spark)]
    return build_and_record(published)


@pytest.fixture(scope="module")
def built_day_by_day(isolated_lakehouse_module, spark):
    from lakehouse.serving import warehouse

    landing = isolated_lakehouse_module / "landing"
    fx.build(landing)
    write_folder(landing, "putuo", fx.DAY1, "S",
                 {"penalties.csv": ("penalties", csv_bytes(PEN_S, QUIET_DAY1), len(QUIET_DAY1))})
    builds = [_ingest_publish_build(spark, fx.DAY1, fx.DAY1), _ingest_publish_build(spark, fx.DAY2, fx.DAY2)]
    # late: changning's day-1 folder arrives on day 3; xuhui corrects a record
    write_folder(landing, "changning", fx.DAY1, "S",
                 {"penalties.csv": ("penalties", csv_bytes(PEN_S, LATE_DAY1), len(LATE_DAY1))})
    write_folder(landing, "xuhui", fx.DAY3, "S",
                 {"penalties.csv": ("penalties", csv_bytes(PEN_S, XH_CORRECTED), 1)})
    with warehouse.connect("transformer") as conn, conn.cursor() as cur:
        cur.execute("select txid_current()")
        before_last_build = cur.fetchone()[0]
        conn.commit()
    builds.append(_ingest_publish_build(spark, fx.DAY1, fx.DAY3))
    with warehouse.connect("transformer") as conn, conn.cursor() as cur:
        tables = _mart_tables(cur)
        cur.execute("create schema incremental_snapshot")
        for table in tables:
            cur.execute(f"create table incremental_snapshot.{table} as select * from marts.{table}")
        # rows of the marts written before the last build began: left as they were by it
        cur.execute("select model, count(*) from ("
                    "select 'fct_entity_district_records' as model, xmin from marts.fct_entity_district_records "
                    "union all select 'fct_department_workload', xmin from marts.fct_department_workload) r "
                    "where age(xmin) > age(%s::text::xid) group by 1", (str(before_last_build % 2**32),))
        untouched = dict(cur.fetchall())
        conn.commit()
    return {"builds": builds, "tables": tables, "untouched": untouched}


def test_each_day_was_built_incrementally_not_rebuilt(built_day_by_day):
    from lakehouse.serving import warehouse

    assert [b["status"] for b in built_day_by_day["builds"]] == ["success"] * 3
    # the last build left the rows of an entity it had no news of as they were
    assert built_day_by_day["untouched"].get("fct_entity_district_records") == 1
    with warehouse.connect("transformer") as conn, conn.cursor() as cur:
        cur.execute("select model from intermediate.mart_watermarks where built_from is not null order by 1")
        assert [r[0] for r in cur.fetchall()] == [
            "dim_cross_district_entities", "fct_cross_district_supervision", "fct_department_workload",
            "fct_entity_district_records", "int_supervision_records_appended",
            "int_supervision_records_with_registry"]


def test_every_mart_equals_a_full_refresh_row_for_row(built_day_by_day):
    from lakehouse.serving import warehouse
    from lakehouse.serving.marts import run_dbt

    run_dbt(["build", "--full-refresh"])
    with warehouse.connect("transformer") as conn, conn.cursor() as cur:
        assert _mart_tables(cur) == built_day_by_day["tables"]
        differences = {t: _differences(cur, t, f"incremental_snapshot.{t}") for t in built_day_by_day["tables"]}
        cur.execute("select count(*) from incremental_snapshot.fct_entity_district_records")
        assert cur.fetchone()[0] > 0
    assert {t: d for t, d in differences.items() if d != (0, 0)} == {}
    # the corrected record left its old entity and month, the late one counts in February
    with warehouse.connect("analyst") as conn, conn.cursor() as cur:
        cur.execute("select uscc, records from marts.fct_entity_district_records "
                    "where holding_district = '310104' and feed = 'penalties' order by 1")
        assert cur.fetchall() == [(E_A, 1)]
        cur.execute("select penalties from marts.fct_department_workload where event_month = '2017-02-01'")
        assert cur.fetchall() == [(1,)]
