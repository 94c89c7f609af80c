"""dbt marts end to end on hand-made lake rows, and what each database role can read.

Creates its own database (lakehouse_e2e_marts) on the embedded PostgreSQL, creates
the lake tables from schemas/ exactly as the publisher does, inserts a few rows,
runs `dbt build` (every model, data test and unit test) as lakehouse_transformer
(which cannot read personal columns: the build proves no model selects them) and
`dbt docs generate`, then logs in as each role.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from decimal import Decimal

import psycopg2
import pytest

from lakehouse import credentials
from lakehouse.catalog import load_catalog
from lakehouse.config import settings
from lakehouse.serving import warehouse

pytestmark = pytest.mark.e2e

DB = "lakehouse_e2e_marts"
ADMIN = "lakehouse"

E_JA = "91310106MA1FL00001"  # registered in 静安
E_XH = "92310104MA1FL00002"  # 个体工商户 registered in 徐汇
E_PD = "91310115MA1FL00003"  # registered in 浦东
E_CM = "91310151MA1FL00004"  # registered in 崇明
E_HP = "91310101MA1FL00005"  # registered in 黄浦
D_JA, D_XH, D_PD, D_HP = "11310106MB0000001", "11310104MB0000002", "11310115MB0000003", "11310101MB0000005"
D_ENV, D_SAFE = "11310000MB0000010", "11310000MB0000011"

FRESHNESS: dict[str, str] = {}

CONTRACTED_MARTS = {   # the marts the dashboards (dashboards/) read
    "dim_entity_profile",
    "fct_credit_risk",
    "fct_credit_risk_history",
    "fct_dual_notification_funnel",
    "fct_collection_quality",
    "fct_cross_district_supervision",
    "fct_random_inspection_coverage",
    "fct_joint_inspections",
    "fct_risk_keyword_warnings",
    "dim_building",
    "fct_supervision_hotspots",
}


ROLE_OF_USER = {"lakehouse_loader": "loader", "lakehouse_transformer": "transformer",
                "lakehouse_analyst": "analyst", "lakehouse_dashboard": "dashboard",
                "lakehouse_privacy_officer": "privacy_officer", ADMIN: "admin"}


def _conn(user: str = ADMIN, dbname: str = DB):
    """Log in as a database user with that role's own password (from the secrets file)."""
    cfg = settings()
    _, password = credentials.pg_credentials(ROLE_OF_USER[user])
    conn = psycopg2.connect(host=cfg.pg_host, port=cfg.pg_port, user=user, dbname=dbname, password=password)
    conn.autocommit = True
    return conn


def _insert(cur, table: str, rows: list[dict], defaults: dict | None = None) -> None:
    for row in rows:
        row = {**(defaults or {}), **row}
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join(["%s"] * len(row))
        values = [json.dumps(v) if isinstance(v, dict) else v for v in row.values()]
        cur.execute(f"insert into lake.{table} ({cols}) values ({marks})", values)


LINEAGE = {
    "_source": "test",
    "_delivery_date": "2017-06-30",
    "_file": "hand-made",
    "_file_sha256": "0" * 64,
    "_row_number": 1,
    "_ingest_run_id": "e2e",
    "_ingested_at": "2017-06-30 12:00:00+00",
}


def _entity_ref(uscc: str, district: str) -> dict:
    return {"uscc": uscc, "uscc_as_sent": uscc, "resolved_by": "uscc", "registered_district": district}


def _held(source: str, district: str) -> dict:
    return {"source": source, "holding_district": district}


def _load_rows(cur) -> None:
    reg = {E_JA: "310106", E_XH: "310104", E_PD: "310115", E_CM: "310151", E_HP: "310101"}
    _insert(
        cur,
        "entities",
        [
            {
                "uscc": E_JA,
                "name": "上海静安餐饮管理有限公司",
                "entity_type": "企业",
                "registered_district": "310106",
                "legal_representative": "张三",
                "legal_representative_id_number": "310101198001011234",
                "registration_status": "存续",
                "established_date": "2010-01-01",
            },
            {
                "uscc": E_XH,
                "name": "徐汇某小吃店",
                "entity_type": "个体工商户",
                "registered_district": "310104",
                "legal_representative": "李四",
                "legal_representative_id_number": "310104199002022345",
                "registration_status": "存续",
            },
            {
                "uscc": E_PD,
                "name": "上海浦东理财咨询有限公司",
                "entity_type": "企业",
                "registered_district": "310115",
                "registration_status": "存续",
            },
            {
                "uscc": E_CM,
                "name": "崇明农民专业合作社",
                "entity_type": "农民专业合作社",
                "registered_district": "310151",
                "registration_status": "存续",
            },
            {
                "uscc": E_HP,
                "name": "上海黄浦贸易有限公司",
                "entity_type": "企业",
                "registered_district": "310101",
                "registration_status": "吊销",
            },
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "departments",
        [
            {
                "department_code": D_JA,
                "department_name": "上海市静安区市场监督管理局",
                "level": "DISTRICT",
                "district_code": "310106",
            },
            {
                "department_code": D_XH,
                "department_name": "上海市徐汇区市场监督管理局",
                "level": "DISTRICT",
                "district_code": "310104",
            },
            {
                "department_code": D_ENV,
                "department_name": "上海市生态环境局",
                "level": "CITY",
                "district_code": "310000",
            },
            {
                "department_code": D_SAFE,
                "department_name": "上海市应急管理局",
                "level": "CITY",
                "district_code": "310000",
            },
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "licences",
        [
            {
                **_held("jingan", "310106"),
                **_entity_ref(E_JA, reg[E_JA]),
                "record_id": "JA-L-1",
                "licence_type": "食品经营许可",
                "department_code": D_JA,
                "decision_date": "2016-05-01",
                "valid_to": "2021-04-30",
                "status": "VALID",
            },
            {
                **_held("xuhui", "310104"),
                **_entity_ref(E_JA, reg[E_JA]),
                "record_id": "XH-L-1",
                "licence_type": "食品经营许可",
                "department_code": D_XH,
                "decision_date": "2017-03-01",
                "valid_to": "2022-02-28",
                "status": "VALID",
            },
            {
                **_held("city", "310000"),
                **_entity_ref(E_XH, reg[E_XH]),
                "record_id": "CITY-L-1",
                "licence_type": "公共场所卫生许可",
                "department_code": D_ENV,
                "decision_date": "2017-01-05",
                "valid_to": "2017-06-01",
                "status": "VALID",
            },
        ],
        LINEAGE,
    )
    joint = {
        "kind": "JOINT",
        "joint_id": "JA-J-2017-001",
        "lead_department_code": D_JA,
        "participant_department_codes": [D_ENV, D_SAFE],
        "inspection_date": "2017-04-10",
        "department_code": D_JA,
    }
    _insert(
        cur,
        "inspections",
        [
            {
                **_held("jingan", "310106"),
                **_entity_ref(E_JA, reg[E_JA]),
                "record_id": "JA-I-1",
                "kind": "ROUTINE",
                "department_code": D_JA,
                "inspection_date": "2017-02-01",
                "result": "RECTIFY_ORDERED",
            },
            {
                **_held("jingan", "310106"),
                **_entity_ref(E_JA, reg[E_JA]),
                "record_id": "JA-I-2",
                **joint,
                "items_checked": 17,
                "result": "RECTIFY_ORDERED",
            },
            {
                **_held("jingan", "310106"),
                **_entity_ref(E_XH, reg[E_XH]),
                "record_id": "JA-I-3",
                **joint,
                "items_checked": 17,
                "result": "NO_ISSUE",
            },
            {
                **_held("jingan", "310106"),
                **_entity_ref(E_PD, reg[E_PD]),
                "record_id": "JA-I-4",
                **joint,
                "items_checked": 15,
                "result": "CASE_OPENED",
            },
            {
                **_held("xuhui", "310104"),
                **_entity_ref(E_XH, reg[E_XH]),
                "record_id": "XH-I-1",
                "kind": "RANDOM",
                "plan_id": "RP-2017-01",
                "department_code": D_XH,
                "inspection_date": "2017-04-01",
                "result": "REFUSED",
            },
            {
                **_held("xuhui", "310104"),
                **_entity_ref(E_CM, reg[E_CM]),
                "record_id": "XH-I-2",
                "kind": "RANDOM",
                "plan_id": "RP-2017-01",
                "department_code": D_XH,
                "inspection_date": "2017-04-02",
                "result": "NO_ISSUE",
            },
        ],
        LINEAGE,
    )
    penalties = [
        # 静安: one penalty over ¥100,000 -> red; decided on the latest day, so it sets the as-of day
        {
            **_held("jingan", "310106"),
            **_entity_ref(E_JA, reg[E_JA]),
            "record_id": "JA-P-1",
            "department_code": D_JA,
            "decision_date": "2017-06-30",
            "fine_amount": Decimal("150000.00"),
            "status": "EFFECTIVE",
            "penalty_kinds": ["罚款"],
        },
        # 黄浦: fines + confiscation over ¥500,000 -> black
        {
            **_held("huangpu", "310101"),
            **_entity_ref(E_HP, reg[E_HP]),
            "record_id": "HP-P-1",
            "department_code": D_HP,
            "decision_date": "2016-11-11",
            "fine_amount": Decimal("400000.00"),
            "confiscated_amount": Decimal("100000.01"),
            "status": "EXECUTED",
        },
        # 崇明: a penalty older than 3 years -> no longer counts
        {
            **_held("chongming", "310151"),
            **_entity_ref(E_CM, reg[E_CM]),
            "record_id": "CM-P-1",
            "decision_date": "2013-05-05",
            "fine_amount": Decimal("2000.00"),
            "status": "EFFECTIVE",
        },
    ]
    # 浦东: 5 penalties in effect + 1 revoked (held by 徐汇: cross-district) -> yellow, not red
    for i in range(1, 7):
        penalties.append(
            {
                **_held("xuhui", "310104"),
                **_entity_ref(E_PD, reg[E_PD]),
                "record_id": f"XH-P-{i}",
                "department_code": D_XH,
                "decision_date": f"2017-0{i}-15",
                "fine_amount": Decimal("1000.00"),
                "status": "REVOKED" if i == 6 else "EFFECTIVE",
            }
        )
    _insert(cur, "penalties", penalties, LINEAGE)
    _insert(
        cur,
        "abnormal_list",
        [
            {
                **_entity_ref(E_XH, reg[E_XH]),
                "listed_date": "2017-01-01",
                "listed_reason": "未按规定公示年报",
            },
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "serious_violations",
        [
            {**_entity_ref(E_CM, reg[E_CM]), "listed_date": "2015-01-01", "removed_date": "2016-06-01"},
        ],
        LINEAGE,
    )
    pushes = [
        ("N1", E_JA, D_XH, "2017-03-01 01:00:00+00", "ISSUED", "2017-03-04 01:00:00+00"),
        ("N2", E_JA, D_XH, "2017-03-02 01:00:00+00", "REFUSED", "2017-03-05 13:00:00+00"),
        ("N3", E_JA, D_XH, "2017-03-03 01:00:00+00", "NO_FEEDBACK", None),  # overdue
        (
            "N4",
            E_JA,
            D_XH,
            "2017-03-31 18:00:00+00",
            "NOT_NEEDED",
            "2017-05-20 00:00:00+00",
        ),  # April in Beijing, late
        ("N5", E_XH, D_JA, "2017-06-20 02:00:00+00", "NO_FEEDBACK", None),  # not yet overdue
    ]
    _insert(
        cur,
        "dual_notifications",
        [
            {
                **_entity_ref(u, reg[u]),
                "notification_id": n,
                "pushed_department_code": d,
                "pushed_at": p,
                "feedback_status": s,
                "feedback_at": f,
            }
            for n, u, d, p, s, f in pushes
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "random_plans",
        [
            {
                "plan_id": "RP-2017-01",
                "plan_name": "2017年餐饮抽查",
                "lead_department_code": D_XH,
                "population": 200,
                "sampling_ratio": Decimal("0.01"),
                "start_date": "2017-03-01",
                "end_date": "2017-05-31",
                "results_published_date": "2017-06-15",
            },
            {
                "plan_id": "RP-2017-02",
                "plan_name": "2017年广告抽查",
                "lead_department_code": D_JA,
                "population": 1000,
                "sampling_ratio": Decimal("0.05"),
                "start_date": "2017-04-01",
                "end_date": "2017-05-01",
            },
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "random_draws",
        [
            {
                **_entity_ref(E_XH, reg[E_XH]),
                "plan_id": "RP-2017-01",
                "drawn_at": "2017-03-01 02:00:00+00",
                "inspector_ids": ["INSP-0001", "INSP-0002"],
            },
            {**_entity_ref(E_CM, reg[E_CM]), "plan_id": "RP-2017-01", "drawn_at": "2017-03-01 02:00:00+00"},
            {**_entity_ref(E_JA, reg[E_JA]), "plan_id": "RP-2017-02", "drawn_at": "2017-04-01 02:00:00+00"},
        ],
        LINEAGE,
    )
    _insert(
        cur,
        "website_filings",
        [
            {
                **_entity_ref(E_PD, reg[E_PD]),
                "domain": "pd-licai.example.cn",
                "homepage_text": (
                    "欢迎访问本公司网站。我们提供稳健的理财产品，预期年化收益率高达12%，保本保息，欢迎咨询。"
                ),
            },
            {
                **_entity_ref(E_JA, reg[E_JA]),
                "domain": "ja-food.example.cn",
                "homepage_text": "本店提供本帮菜。",
            },
        ],
        LINEAGE,
    )
    runs = [
        dict(
            source="jingan",
            delivery_date="2017-06-30",
            feed="licences",
            _file="jingan/2017-06-30/licences.jsonl",
            status="accepted",
            rows_in=10,
            rows_accepted=8,
            rows_duplicate=1,
            rows_quarantined=1,
            rows_late=2,
            quarantined_by_rule={"uscc_unresolved": 1},
        ),
        dict(
            source="jingan",
            delivery_date="2017-06-30",
            feed="penalties",
            _file="jingan/2017-06-30/penalties.jsonl",
            status="rejected",
            reason="sha256_mismatch: the file's sha256 differs from its manifest entry",
            rows_in=0,
            rows_accepted=0,
            rows_duplicate=0,
            rows_quarantined=0,
            rows_late=0,
            quarantined_by_rule={},
        ),
        dict(
            source="xuhui",
            delivery_date="2017-06-28",
            feed="inspections",
            _file="xuhui/2017-06-28/inspections.csv",
            status="accepted",
            rows_in=5,
            rows_accepted=3,
            rows_duplicate=0,
            rows_quarantined=2,
            rows_late=0,
            quarantined_by_rule={"date_impossible": 1, "value_unknown": 1},
        ),
    ]
    _insert(
        cur,
        "ingest_runs",
        [
            {
                **r,
                "ingest_run_id": "e2e",
                "file_sha256": "1" * 64,
                "_file_sha256": "1" * 64,
                "expectations_passed": True,
                "finished_at": "2017-06-30 12:00:00+00",
            }
            for r in runs
        ],
    )
    _insert(
        cur,
        "quarantine_rows",
        [
            {
                "_table": "entities",
                "_source": "city",
                "_delivery_date": "2017-06-30",
                "_file": "city/2017-06-30/entities.csv",
                "_file_sha256": "2" * 64,
                "_row_number": 7,
                "_ingest_run_id": "e2e",
                "rule_ids": ["uscc_unresolved"],
                "reasons": ["bad check character"],
                "raw": {"法定代表人证件号码": "310101198001011234"},
            },
        ],
    )


@contextmanager
def _in_database(name: str):
    """The project's settings point at database `name` within the block (dbt, bootstrap)."""
    saved = os.environ.get("PGDATABASE")
    os.environ["PGDATABASE"] = name
    settings.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PGDATABASE", None)
        else:
            os.environ["PGDATABASE"] = saved
        settings.cache_clear()


@pytest.fixture(scope="module")
def built():
    """A fresh database with hand-made lake rows and every mart built."""
    from lakehouse.serving.marts import run_dbt, source_freshness

    catalog = load_catalog()
    admin = _conn(dbname="postgres")
    admin.cursor().execute(f"drop database if exists {DB} with (force)")
    admin.cursor().execute(f"create database {DB}")
    admin.close()
    with _in_database(DB):
        warehouse.bootstrap()
        warehouse.ensure_lake_tables(catalog)
        loader = _conn("lakehouse_loader")  # the rows go in as the pipeline writes them
        _load_rows(loader.cursor())
        loader.close()
        run_dbt(["build"])  # as lakehouse_transformer (lakehouse.serving.marts)
        run_dbt(["docs", "generate"])
        FRESHNESS.update(source_freshness())
    conn = _conn()
    yield conn
    conn.close()


def _rows(conn, sql, *args):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_credit_classes(built):
    classes = dict(_rows(built, "select uscc, credit_class from marts.fct_credit_risk"))
    assert classes == {E_JA: "red", E_XH: "yellow", E_PD: "yellow", E_CM: "green", E_HP: "black"}
    (as_of,) = _rows(built, "select distinct as_of_date::text from marts.fct_credit_risk")[0]
    assert as_of == "2017-06-30"  # the latest decision date in the data, not today
    rules, evidence = _rows(
        built, "select rule_ids, evidence_ids from marts.fct_credit_risk where uscc = %s", E_PD
    )[0]
    assert rules == ["tj2017_yellow_penalties_1_to_5"]
    assert "penalties:xuhui:XH-P-6" not in evidence and len(evidence) == 5  # revoked penalty is no evidence
    history = _rows(
        built,
        "select changed_on::text, previous_class, credit_class from marts.fct_credit_risk_history "
        "where uscc = %s order by changed_on",
        E_CM,
    )
    # yellow for the 2013 penalty; red while on the serious-violation list (the penalty ages out on
    # 2016-05-05 meanwhile, which changes nothing); green once removed
    assert history == [
        ("2013-05-05", "green", "yellow"),
        ("2015-01-01", "yellow", "red"),
        ("2016-06-01", "red", "green"),
    ]


def test_entity_profile(built):
    row = _rows(
        built,
        "select valid_licences, inspections_3y, inspections_with_problems_3y, penalties_3y, "
        "fines_total_3y, holding_districts, on_abnormal_list, on_serious_list "
        "from marts.dim_entity_profile where uscc = %s",
        E_JA,
    )[0]
    assert row == (2, 2, 2, 1, Decimal("150000.00"), ["310104", "310106"], False, False)
    (n,) = _rows(built, "select count(*) from marts.dim_entity_profile")[0]
    assert n == 5
    assert _rows(built, "select on_abnormal_list from marts.dim_entity_profile where uscc = %s", E_XH) == [
        (True,)
    ]


def test_cross_district(built):
    rows = _rows(
        built,
        "select registered_district, holding_district, feed, sum(records)::int "
        "from marts.fct_cross_district_supervision group by 1, 2, 3 order by 1, 2, 3",
    )
    assert rows == [
        ("310104", "310106", "inspections", 1),  # 徐汇 entity inspected by 静安 (joint)
        ("310106", "310104", "licences", 1),  # 静安 entity licensed by 徐汇
        ("310115", "310104", "penalties", 6),  # 浦东 entity penalised by 徐汇
        ("310115", "310106", "inspections", 1),
        ("310151", "310104", "inspections", 1),
    ]


def test_funnel(built):
    rows = _rows(
        built,
        "select registered_district, pushed_month::text, pushed, answered, issued, refused, "
        "not_needed, unanswered, overdue from marts.fct_dual_notification_funnel "
        "order by 1, 2",
    )
    assert rows == [
        ("310104", "2017-06-01", 1, 0, 0, 0, 0, 1, 0),
        ("310106", "2017-03-01", 3, 2, 1, 1, 0, 1, 1),
        ("310106", "2017-04-01", 1, 1, 0, 0, 1, 0, 1),
    ]


def test_random_and_joint(built):
    plans = dict(
        (r[0], r[1:])
        for r in _rows(
            built,
            "select plan_id, drawn, inspected_entities, results_published_on_time, drawn_matches_ratio "
            "from marts.fct_random_inspection_coverage",
        )
    )
    assert plans == {"RP-2017-01": (2, 2, True, True), "RP-2017-02": (1, 0, False, False)}
    joint = _rows(
        built,
        "select lead_department_code, participating_department_codes, entities, items_checked, "
        "entities_with_problems, rectification_orders from marts.fct_joint_inspections",
    )
    assert joint == [(D_JA, [D_ENV, D_SAFE], 3, 17, 2, 1)]


def test_collection_quality_and_keywords(built):
    rows = _rows(
        built,
        "select source, feed, files_rejected, rows_received, rows_quarantined, quarantined_by_rule, "
        "rows_reconcile, days_since_last_delivery from marts.fct_collection_quality order by 1, 2",
    )
    assert rows[0][:4] == ("jingan", "licences", 0, 10)
    assert rows[1][2] == 1 and rows[2][5] == {"date_impossible": 1, "value_unknown": 1}
    assert all(r[6] for r in rows) and rows[2][7] == 2
    words = dict(_rows(built, "select keyword, snippet from marts.fct_risk_keyword_warnings"))
    assert set(words) == {"理财", "年化收益率", "保本"}
    assert "年化收益率高达12%" in words["年化收益率"]


def test_source_freshness_reports_every_source(built):
    # the hand-made rows were ingested "in 2017": every source with a freshness rule is stale
    assert FRESHNESS["lake.penalties"] == "error" and FRESHNESS["lake.ingest_runs"] == "error"
    assert "lake.quarantine_rows" not in FRESHNESS  # empty on a good day: no freshness rule
    assert len(FRESHNESS) == 12


def test_run_dbt_raises_a_clear_error():
    from lakehouse.serving.marts import DbtError, run_dbt

    with pytest.raises(DbtError, match="no_such_macro"):
        run_dbt(["run-operation", "no_such_macro"])


def _can_read(user: str, sql: str) -> bool:
    conn = _conn(user=user)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            cur.fetchall()
        return True
    except psycopg2.errors.InsufficientPrivilege:
        return False
    finally:
        conn.close()


def test_analyst_reads_marts_only(built):
    assert _can_read("lakehouse_analyst", "select * from marts.dim_entity_profile")
    assert _can_read("lakehouse_analyst", "select * from marts.fct_department_workload")
    assert not _can_read("lakehouse_analyst", "select uscc from lake.entities")
    assert not _can_read("lakehouse_analyst", "select _table from lake.quarantine_rows")
    assert not _can_read("lakehouse_analyst", "select * from staging.stg_lake__entities")


def test_dashboard_reads_contracted_marts_only(built):
    for mart in CONTRACTED_MARTS:
        assert _can_read("lakehouse_dashboard", f"select * from marts.{mart}"), mart
    assert not _can_read("lakehouse_dashboard", "select * from marts.fct_department_workload")
    assert not _can_read("lakehouse_dashboard", "select * from marts.fct_entity_district_records")
    assert not _can_read("lakehouse_dashboard", "select uscc from lake.entities")


def test_transformer_reads_personal_columns_masked_only(built):
    assert _can_read("lakehouse_transformer", "select uscc, name from lake.entities")
    ids = dict(_rows(_conn("lakehouse_transformer"),
                     "select uscc, legal_representative_id_number from lake.entities where uscc in (%s, %s)",
                     E_JA, E_XH))
    assert ids == {E_JA: "310101********1234", E_XH: "310104********2345"}
    assert not _can_read("lakehouse_transformer", "select raw from lake.quarantine_rows")
    assert not _can_read("lakehouse_transformer", "select * from private.entities")


def test_no_model_column_is_personal(built):
    personal = {c.name for t in load_catalog().tables.values() for c in t.all_columns if c.pii} | {"raw"}
    cols = _rows(
        built,
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema in ('staging', 'intermediate', 'marts')",
    )
    assert cols
    leaks = [
        c
        for c in cols
        if not c[2].endswith("_masked")
        and (c[2] in personal or "id_number" in c[2] or c[2].startswith("legal_rep") or "inspector" in c[2])
    ]
    assert leaks == []


# --------------------------------------------------------------------------- authentication

CLEAR_IDS = ["310101198001011234", "310104199002022345"]  # the legal representatives' ID numbers above
CLEAR_INSPECTORS = ["INSP-0001", "INSP-0002"]


def _login(user: str, password: str | None):
    cfg = settings()
    return psycopg2.connect(host=cfg.pg_host, port=cfg.pg_port, user=user, dbname=DB, password=password or "",
                            connect_timeout=5)


@pytest.mark.parametrize("user", sorted(ROLE_OF_USER))
def test_login_needs_the_roles_own_password(built, user):
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _login(user, None)
    others = [credentials.pg_credentials(r)[1] for u, r in ROLE_OF_USER.items() if u != user]
    for password in others:
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            _login(user, password)
    _login(user, credentials.pg_credentials(ROLE_OF_USER[user])[1]).close()


def test_unix_socket_needs_a_password_too(built):
    sock = settings().home / "postgres" / "socket"
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(host=str(sock), port=settings().pg_port, user=ADMIN, dbname=DB, password="")
    assert not sock.stat().st_mode & 0o077, "the socket directory is open to other users"


def test_pg_hba_has_no_trust_line():
    hba = (settings().home / "postgres" / "data" / "pg_hba.conf").read_text()
    methods = [line.split()[-1] for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert methods and set(methods) == {"scram-sha-256"}


# --------------------------------------------------------------------------- each role: its job only

def _attempt(user: str, sql: str) -> bool:
    conn = _conn(user)
    try:
        with conn.cursor() as cur:
            cur.execute("begin")
            cur.execute(sql)
            cur.execute("rollback")
        return True
    except psycopg2.Error:
        return False
    finally:
        conn.close()


ACTIONS = {
    "read lake": "select count(*) from lake.penalties",
    "read marts": "select count(*) from marts.dim_entity_profile",
    "read private": "select count(*) from private.entities",
    "write lake": "insert into lake.mart_builds (status) values ('x')",
    "write marts": "delete from marts.dim_entity_profile",
    "ddl lake": "create table lake.t_probe (x int)",
    "ddl marts": "create table marts.t_probe (x int)",
    "ddl public": "create table public.t_probe (x int)",
    "copy program": "copy (select 1) to program 'true'",
    "create role": "create role probe_role",
}
ALLOWED = {
    "lakehouse_loader": {"read lake", "write lake"},
    "lakehouse_transformer": {"read lake", "read marts", "write marts", "ddl marts"},
    "lakehouse_analyst": {"read marts"},
    "lakehouse_dashboard": {"read marts"},
    "lakehouse_privacy_officer": {"read private"},
    ADMIN: set(ACTIONS),
}


@pytest.mark.parametrize("user", sorted(ALLOWED))
def test_each_role_can_do_exactly_its_job(built, user):
    got = {action for action, sql in ACTIONS.items() if _attempt(user, sql)}
    assert got == ALLOWED[user]


def test_airflows_role_cannot_open_the_warehouse(built):
    """Airflow's metadata role owns its own database only (airflow-init)."""
    user, password = credentials.pg_credentials("airflow")
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        _login(user, password)


def test_only_the_admin_is_superuser_or_runs_programs(built):
    rows = _rows(built, "select rolname from pg_roles where rolname like 'lakehouse%%' and (rolsuper or "
                        "pg_has_role(oid, 'pg_execute_server_program', 'member'))")
    assert rows == [(ADMIN,)]


def test_public_has_no_privilege_on_the_project_schemas(built):
    rows = _rows(built, "select nspname, array_to_string(nspacl, ',') from pg_namespace "
                        "where nspname in ('lake', 'staging', 'intermediate', 'marts', 'private', 'public')")
    assert {n for n, _ in rows} >= {"lake", "staging", "intermediate", "marts", "private"}
    for name, acl in rows:
        grants_to_public = [a for a in (acl or "").split(",") if a.startswith("=")]
        assert grants_to_public in ([], ["=U/pg_database_owner"]), (name, acl)  # public: usage only


# --------------------------------------------------------------------------- personal data

def _everything_readable_as(user: str) -> str:
    """Every row of every table and view the user may read, as one text."""
    conn = _conn(user)
    out = []
    with conn.cursor() as cur:
        cur.execute("""select table_schema, table_name from information_schema.tables
                       where table_schema not in ('pg_catalog', 'information_schema')""")
        for schema, table in cur.fetchall():
            cur.execute("select has_table_privilege(%s, 'select')", (f'"{schema}"."{table}"',))
            if cur.fetchone()[0]:
                cur.execute(f'select t::text from "{schema}"."{table}" t')
                out += [r[0] for r in cur.fetchall()]
            else:  # column privileges only: read those columns
                cur.execute("""select column_name from information_schema.column_privileges
                               where table_schema = %s and table_name = %s and privilege_type = 'SELECT'
                                 and grantee in (current_user, 'PUBLIC')""", (schema, table))
                cols = [c for (c,) in cur.fetchall()]
                if cols:
                    cur.execute(f'select row({", ".join(chr(34) + c + chr(34) for c in cols)})::text '
                                f'from "{schema}"."{table}"')
                    out += [r[0] for r in cur.fetchall()]
    conn.close()
    return "\n".join(out)


@pytest.mark.parametrize("user", ["lakehouse_analyst", "lakehouse_dashboard", "lakehouse_transformer",
                                  "lakehouse_loader"])
def test_no_clear_personal_value_is_readable(built, user):
    seen = _everything_readable_as(user)
    assert seen  # the role reads something: the test is not vacuous
    for clear in CLEAR_IDS + CLEAR_INSPECTORS + ["张三", "李四"]:
        assert clear not in seen, f"{user} can read {clear}"


def test_privacy_officer_reads_the_clear_values(built):
    conn = _conn("lakehouse_privacy_officer")
    ids = dict(_rows(conn, "select uscc, legal_representative_id_number from private.entities "
                           "where legal_representative_id_number is not null"))
    assert ids == {E_JA: CLEAR_IDS[0], E_XH: CLEAR_IDS[1]}
    assert _rows(conn, "select inspector_ids from private.random_draws where inspector_ids is not null") == [
        (CLEAR_INSPECTORS,)]
    [(raw,)] = _rows(conn, "select raw from private.quarantine_rows")
    assert raw == {"法定代表人证件号码": CLEAR_IDS[0]}
    assert not _can_read("lakehouse_privacy_officer", "select * from private.pseudonym_key")


def test_masked_form_in_the_marts_matches_the_source_digits(built):
    masked = dict(_rows(_conn("lakehouse_analyst"),
                        "select uscc, legal_representative_id_masked from marts.dim_entity_profile "
                        "where legal_representative_id_masked is not null"))
    assert set(masked) == {E_JA, E_XH}
    for uscc, clear in ((E_JA, CLEAR_IDS[0]), (E_XH, CLEAR_IDS[1])):
        shown = masked[uscc]
        assert shown == clear[:6] + "*" * 8 + clear[-4:] and len(shown) == len(clear)


def test_keyed_hash_joins_and_matches_hmac_of_the_secret_key(built):
    import hashlib
    import hmac

    key = bytes.fromhex(credentials.pseudonym_key())
    rows = dict(_rows(_conn("lakehouse_loader"),
                      "select uscc, legal_representative_id_number_hmac from lake.entities "
                      "where legal_representative_id_number_hmac is not null"))
    assert rows == {u: hmac.new(key, c.encode(), hashlib.sha256).hexdigest()
                    for u, c in ((E_JA, CLEAR_IDS[0]), (E_XH, CLEAR_IDS[1]))}


def test_republishing_keeps_private_in_step(built):
    """Delete + insert (how publish applies a change) and truncate move the clear values along."""
    loader = _conn("lakehouse_loader")
    cur = loader.cursor()
    cur.execute("begin")
    cur.execute("delete from lake.entities where uscc = %s", (E_XH,))
    _insert(cur, "entities", [{"uscc": E_XH, "name": "徐汇某小吃店", "legal_representative_id_number":
                               "310104199002029999"}], LINEAGE)
    cur.execute("select legal_representative_id_number from lake.entities where uscc = %s", (E_XH,))
    assert cur.fetchone() == ("310104********9999",)
    officer = _conn("lakehouse_privacy_officer")
    # uncommitted: the officer still sees the old value; after rollback nothing changed
    assert _rows(officer, "select legal_representative_id_number from private.entities where uscc = %s",
                 E_XH) == [(CLEAR_IDS[1],)]
    cur.execute("rollback")
    loader.close()
    officer.close()


def test_selected_build_keeps_the_views_it_does_not_rebuild(built):
    """`lakehouse marts --select +fct_x` replaces the views it selects in place:
    dbt's default swap dropped the old view with CASCADE, taking every view
    built on it (and outside the selection) with it, and two threads cascading
    into the same view deadlocked (macros/view_in_place.sql)."""
    from lakehouse.serving.marts import run_dbt

    views = ("select table_schema || '.' || table_name from information_schema.views "
             "where table_schema in ('staging', 'intermediate') order by 1")
    before = _rows(built, views)
    assert len(before) > 10
    count = "select count(*) from marts.fct_department_workload"
    rows_before = _rows(built, count)
    with _in_database(DB):
        for _ in range(2):
            run_dbt(["build", "--select", "+fct_department_workload"])
    assert _rows(built, views) == before
    assert _rows(built, count) == rows_before
    assert _can_read("lakehouse_analyst", "select count(*) from marts.fct_department_workload")
