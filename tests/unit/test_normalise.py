"""Field parsers and the row rules, with their boundaries."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.identifiers import USCC_CHARSET, is_valid_uscc, normalise_identifier, uscc_check_char
from lakehouse.ingest.normalise import (
    entity_identifier,
    make_row_normaliser,
    missing_required_columns,
    name_key,
    normalise_row,
    parse_amount,
    parse_date,
    parse_int,
    parse_list,
    parse_ratio,
    parse_timestamp,
    reject_missing_required_columns,
    unknown_columns,
)
from lakehouse.ingest.normalise.headers import conflicting_headers, reject_conflicting_headers
from lakehouse.ingest.readers import FileRejected, RawRow

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DAY = dt.date(2017, 4, 14)
UTC = dt.timezone.utc
BODY = "91310106MA1FL0XX1"
USCC = BODY + uscc_check_char(BODY)


@pytest.fixture(scope="module")
def cat():
    return load_catalog(SCHEMAS)


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    "text",
    [
        "2017-04-14",
        "20170414",
        "2017年4月14日",
        "2017年04月14日",
        " 2017-04-14 ",
        "2017/4/14",
        "2017-04-14 00:00:00",
        "2017-04-14T09:30:00+08:00",
        "２０１７－０４－１４",
        "2017-4-14",
    ],
)
def test_parse_date_forms(text):
    assert parse_date(text) == dt.date(2017, 4, 14)


@pytest.mark.parametrize(
    "text", ["0000-00-00", "2017-02-30", "00000000", "2017年13月1日", "yesterday", "2017-04"]
)
def test_parse_date_rejects(text):
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize(
    "text",
    [
        "2017-04-14 09:30:00",
        "20170414093000",
        "2017-04-14T09:30:00+08:00",
        "2017-04-14T01:30:00Z",
        "2017-04-14T01:30:00+00:00",
        "2017年4月14日 09:30:00",
    ],
)
def test_parse_timestamp_to_utc(text):
    assert parse_timestamp(text) == dt.datetime(2017, 4, 14, 1, 30, tzinfo=UTC)


def test_parse_timestamp_date_only_is_beijing_midnight():
    assert parse_timestamp("2017-04-14") == dt.datetime(2017, 4, 13, 16, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0000-00-00 00:00:00", "2017-04-14 25:00:00", "20170414", "soon"])
def test_parse_timestamp_rejects(text):
    if text == "20170414":  # a bare date is accepted as local midnight
        assert parse_timestamp(text) == dt.datetime(2017, 4, 13, 16, tzinfo=UTC)
        return
    with pytest.raises(ValueError):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text,unit,yuan",
    [
        ("5000", "yuan", "5000"),
        ("5000.50", "yuan", "5000.50"),
        ("5,000.00", "yuan", "5000.00"),
        ("5000元", "yuan", "5000"),
        ("5,000元", "yuan", "5000"),
        ("0.5万元", "yuan", "5000"),
        ("¥1,000", "yuan", "1000"),
        ("1，234，567.5元", "yuan", "1234567.5"),
        ("-5,000.00", "yuan", "-5000"),
        ("0.5", "10k_yuan", "5000"),
        ("0.1234", "10k_yuan", "1234"),
        ("12元", "10k_yuan", "12"),
        ("-3", "yuan", "-3"),
        ("５０００元", "yuan", "5000"),
    ],
)
def test_parse_amount(text, unit, yuan):
    assert parse_amount(text, unit) == Decimal(yuan)


@pytest.mark.parametrize(
    "text", ["abc", "5000圆", "NaN", "1.2.3", "", "5,000,00", "五千", "约5000", "N/A", "50,00"]
)
def test_parse_amount_rejects(text):
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize(
    "text,value",
    [("5%", "0.05"), ("0.05", "0.05"), ("５％", "0.05"), ("100%", "1"), ("5", "0.05"), ("0", "0")],
)
def test_parse_ratio(text, value):
    assert parse_ratio(text) == Decimal(value)


@pytest.mark.parametrize("text", ["150%", "-0.1", "five"])
def test_parse_ratio_rejects(text):
    with pytest.raises(ValueError):
        parse_ratio(text)


def test_parse_int():
    assert [parse_int(t) for t in ["17", " 17 ", "1,234", "17.0", "１７"]] == [17, 17, 1234, 17, 17]
    for bad in ["17.5", "x", "NaN"]:
        with pytest.raises(ValueError):
            parse_int(bad)


@pytest.mark.parametrize(
    "text",
    [
        "警告；罚款",
        "警告;罚款",
        "警告,罚款",
        "警告，罚款",
        " 警告 ；；罚款 ；",
        '["警告","罚款"]',
        '["警告", "", "罚款"]',
    ],
)
def test_parse_list(text):
    assert parse_list(text) == ["警告", "罚款"]


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "sent",
    [
        USCC,
        USCC.lower(),
        f"\u3000{USCC}\u3000",
        f" {USCC[:6]} {USCC[6:]} ",
        normalise_identifier(USCC).translate({ord(c): ord(c) + 0xFEE0 for c in USCC}),
    ],
)
def test_uscc_variants_normalise_to_valid_code(sent):
    ident = entity_identifier(sent)
    assert ident.uscc_as_sent == sent
    assert ident.uscc_normalised == USCC and ident.uscc_check_ok and ident.reg_no is None


def test_uscc_wrong_check_char_fails():
    wrong = BODY + next(c for c in USCC_CHARSET if c != USCC[-1])
    ident = entity_identifier(wrong)
    assert ident.uscc_normalised == wrong and not ident.uscc_check_ok and ident.reg_no is None


def test_uscc_wrong_length_and_sci_notation():
    assert not entity_identifier(USCC[:-1]).uscc_check_ok
    sci = entity_identifier("9.13101E+17")
    assert sci.uscc_normalised == "9.13101E+17" and not sci.uscc_check_ok and sci.reg_no is None


def test_fifteen_digit_registration_number():
    ident = entity_identifier(" 310106000123456 ")
    assert ident.reg_no == "310106000123456" and not ident.uscc_check_ok
    assert entity_identifier("３１０１０６０００１２３４５６").reg_no == "310106000123456"
    assert entity_identifier("31010600012345").reg_no is None


def test_fast_path_matches_reference_check():
    rng = random.Random(7)
    for _ in range(2000):
        body = "".join(rng.choice(USCC_CHARSET) for _ in range(17))
        code = body + (uscc_check_char(body) if rng.random() < 0.5 else rng.choice(USCC_CHARSET + "IOZ"))
        sent = code.lower() if rng.random() < 0.3 else code
        assert entity_identifier(sent).uscc_check_ok == is_valid_uscc(normalise_identifier(sent))


def test_name_key():
    assert (
        name_key("上海（某某）餐饮 有限公司 ")
        == name_key("上海(某某)餐饮有限公司")
        == "上海(某某)餐饮有限公司"
    )
    assert name_key("\u3000") is None and name_key(None) is None


# --------------------------------------------------------------------------- rows

S_PEN = [
    "记录编号",
    "统一社会信用代码",
    "主体名称",
    "处罚决定日期",
    "罚款金额",
    "没收金额",
    "状态",
    "处罚种类",
    "更新时间",
]


def s_pen(**over: str | None) -> RawRow:
    base = {
        "记录编号": "HP-1",
        "统一社会信用代码": USCC,
        "主体名称": "上海某某 ",
        "处罚决定日期": "2017-04-11",
        "罚款金额": "5000.00",
        "没收金额": "",
        "状态": "有效",
        "处罚种类": "警告；罚款",
        "更新时间": "2017-04-14 09:30:00",
    }
    base.update(over)
    return RawRow(1, base)


def pen(cat, row: RawRow, source: str = "huangpu", day: dt.date = DAY):
    return normalise_row(row, "penalties", source, cat, day)


def rules(result) -> list[tuple[str, str]]:
    return [(b.rule_id, b.field) for b in result.broken]


def test_good_s_row(cat):
    r = pen(cat, s_pen())
    assert r.broken == [] and r.flags == []
    v = r.values
    assert v["record_id"] == "HP-1" and v["entity_name"] == "上海某某 "  # name kept as sent
    assert v["decision_date"] == dt.date(2017, 4, 11)
    assert v["fine_amount"] == Decimal("5000.00") and v["confiscated_amount"] is None
    assert v["status"] == "EFFECTIVE" and v["penalty_kinds"] == ["警告", "罚款"]
    assert v["updated_at"] == dt.datetime(2017, 4, 14, 1, 30, tzinfo=UTC)
    assert v["source"] == "huangpu" and v["holding_district"] == "310101"
    assert v["uscc_as_sent"] == USCC and r.uscc_check_ok and r.name_key == "上海某某"
    assert r.event_day == dt.date(2017, 4, 11)


@pytest.mark.parametrize(
    "date,rule",
    [
        ("1948-12-31", "date_impossible"),
        ("1949-01-01", None),
        ("2017-04-14", None),
        ("2017-04-15", "date_impossible"),
        ("0000-00-00", "date_impossible"),
        ("2017-02-29", "date_impossible"),
    ],
)
def test_event_date_bounds(cat, date, rule):
    r = pen(cat, s_pen(处罚决定日期=date))
    assert rules(r) == ([(rule, "decision_date")] if rule else [])
    if rule:
        assert r.values["decision_date"] is None and r.event_day is None
        assert date in r.broken[0].detail or date.replace("-", "") in r.broken[0].detail


def test_late_boundary(cat):
    assert pen(cat, s_pen(处罚决定日期=str(DAY - dt.timedelta(days=60)))).flags == []
    assert pen(cat, s_pen(处罚决定日期=str(DAY - dt.timedelta(days=61)))).flags == ["late"]


@pytest.mark.parametrize(
    "fine,ok",
    [
        ("100000000", True),
        ("100,000,000.00", True),
        ("100000000.01", False),
        ("0", True),
        ("-0.01", False),
        ("abc", False),
    ],
)
def test_amount_threshold_s(cat, fine, ok):
    r = pen(cat, s_pen(罚款金额=fine))
    assert rules(r) == ([] if ok else [("amount_invalid", "fine_amount")])
    if ok:
        assert r.values["fine_amount"] == Decimal(fine.replace(",", ""))


def test_required_missing(cat):
    r = pen(cat, s_pen(记录编号="  ", 处罚决定日期=None))
    assert sorted(rules(r)) == [("required_missing", "decision_date"), ("required_missing", "record_id")]


def test_value_unknown(cat):
    r = pen(cat, s_pen(状态="生效"))
    assert rules(r) == [("value_unknown", "status")] and "生效" in r.broken[0].detail
    assert pen(cat, s_pen(状态=" 已履行 ")).values["status"] == "EXECUTED"


def test_p_row_amounts_in_10k_yuan(cat):
    hdr = {
        "JLBH": "MH-1",
        "TYSHXYDM": USCC,
        "ZTMC": "闵行",
        "CFRQ": "20170411",
        "FKJE": "0.5",
        "MSJE": "10000",
        "ZT": "已履行",
        "CFZL": "警告,罚款",
        "GXSJ": "20170414093000",
    }
    r = normalise_row(RawRow(1, hdr), "penalties", "minhang", cat, DAY)
    assert r.broken == []
    assert r.values["fine_amount"] == Decimal("5000.00") and r.values["confiscated_amount"] == Decimal(
        "100000000"
    )
    assert r.values["decision_date"] == dt.date(2017, 4, 11)
    assert r.values["updated_at"] == dt.datetime(2017, 4, 14, 1, 30, tzinfo=UTC)
    assert r.values["penalty_kinds"] == ["警告", "罚款"] and r.values["holding_district"] == "310112"
    r = normalise_row(RawRow(1, {**hdr, "MSJE": "10000.0001"}), "penalties", "minhang", cat, DAY)
    assert rules(r) == [("amount_invalid", "confiscated_amount")]


def test_j_row_nested_and_arrays(cat):
    raw = {
        "recordId": "JA-1",
        "entity.uscc": USCC.lower(),
        "entity.name": "静安某某",
        "decisionDate": "2017-04-11",
        "fineAmount": "5,000.00",
        "penaltyKinds": '["警告","罚款"]',
        "status": "EXECUTED",
        "updatedAt": "2017-04-14T09:30:00+08:00",
    }
    r = normalise_row(RawRow(3, raw), "penalties", "jingan", cat, DAY)
    assert r.broken == [] and r.row_number == 3
    assert r.values["fine_amount"] == Decimal("5000.00") and r.values["status"] == "EXECUTED"
    assert r.values["penalty_kinds"] == ["警告", "罚款"] and r.uscc_normalised == USCC
    assert r.values["updated_at"] == dt.datetime(2017, 4, 14, 1, 30, tzinfo=UTC)


def test_j_inspection_joint(cat):
    raw = {
        "recordId": "JA-I-1",
        "entity.uscc": USCC,
        "entity.name": "饭店",
        "inspectionDate": "2017-04-10",
        "kind": "JOINT",
        "joint.id": "LH-1",
        "joint.lead": "11310106A",
        "joint.participants": '["B","C"]',
        "itemsChecked": "17",
        "result": "RECTIFY_ORDERED",
    }
    r = normalise_row(RawRow(1, raw), "inspections", "jingan", cat, DAY)
    assert r.broken == []
    assert (
        r.values["kind"],
        r.values["joint_id"],
        r.values["participant_department_codes"],
        r.values["items_checked"],
        r.values["result"],
    ) == ("JOINT", "LH-1", ["B", "C"], 17, "RECTIFY_ORDERED")


@pytest.mark.parametrize(
    "fine,yuan", [("5000元", "5000.00"), ("0.5万元", "5000.00"), ("5000", "5000.00"), ("1234.5", "1234.50")]
)
def test_x_amounts(cat, fine, yuan):
    raw = {
        "记录编号": "JS-1",
        "统一社会信用代码": "9.13101E+17",
        "主体名称": "金山",
        "处罚决定日期": "2017年4月9日",
        "罚款金额": fine,
    }
    r = normalise_row(RawRow(1, raw), "penalties", "jinshan", cat, DAY)
    assert r.broken == [] and r.values["fine_amount"] == Decimal(yuan)
    assert r.values["decision_date"] == dt.date(2017, 4, 9)
    assert not r.uscc_check_ok and r.uscc_normalised == "9.13101E+17" and r.reg_no is None


def test_licence_type_flag_and_future_valid_to(cat):
    base = {
        "记录编号": "L1",
        "统一社会信用代码": USCC,
        "主体名称": "某",
        "许可类别": "食品经营许可",
        "许可决定日期": "2017-04-01",
        "有效期自": "2017-04-01",
        "有效期至": "2022-03-31",
        "状态": "有效",
    }
    r = normalise_row(RawRow(1, base), "licences", "xuhui", cat, DAY)
    assert r.broken == [] and r.flags == [] and r.values["valid_to"] == dt.date(2022, 3, 31)
    r = normalise_row(RawRow(1, {**base, "许可类别": "烟草专卖许可"}), "licences", "xuhui", cat, DAY)
    assert r.flags == ["unknown_licence_type"] and r.values["licence_type"] == "烟草专卖许可"
    r = normalise_row(RawRow(1, {**base, "有效期自": "0000-00-00"}), "licences", "xuhui", cat, DAY)
    assert rules(r) == [("date_impossible", "valid_from")]


def test_entities_registry_row_districts(cat):
    raw = {
        "统一社会信用代码": f" {USCC.lower()} ",
        "注册号": "310108000123456",
        "主体名称": "上海（闸北）某某",
        "曾用名": "旧名一；旧名二",
        "主体类型": "企业",
        "登记区县代码": "310108",
        "注册资本（万元）": "100",
        "成立日期": "2003-05-06",
        "登记状态": "存续",
        "更新时间": "2017-04-01 08:00:00",
    }
    r = normalise_row(RawRow(1, raw), "entities", "city", cat, DAY)
    assert r.broken == [] and r.flags == ["legacy_district"]
    v = r.values
    assert v["uscc"] == USCC and v["reg_no"] == "310108000123456" and r.uscc_check_ok
    assert v["registered_district"] == "310106" and v["former_names"] == ["旧名一", "旧名二"]
    assert v["registered_capital_10k_yuan"] == Decimal("100.0000") and v["entity_type"] == "企业"
    assert r.name_key == "上海(闸北)某某"
    r = normalise_row(RawRow(1, {**raw, "登记区县代码": "310199"}), "entities", "city", cat, DAY)
    assert r.flags == ["unknown_district"] and r.values["registered_district"] == "310199"
    r = normalise_row(RawRow(1, {**raw, "登记区县代码": "310230"}), "entities", "city", cat, DAY)
    assert r.values["registered_district"] == "310151"
    r = normalise_row(RawRow(1, {**raw, "登记区县代码": "310101"}), "entities", "city", cat, DAY)
    assert r.flags == [] and r.values["registered_district"] == "310101"


def test_timestamp_event_uses_beijing_day(cat):
    def pushed(ts: str):
        raw = {
            "告知编号": "N1",
            "统一社会信用代码": USCC,
            "主体名称": "某",
            "推送时间": ts,
            "反馈状态": "已办证",
        }
        return normalise_row(RawRow(1, raw), "dual_notifications", "city", cat, DAY)

    ok = pushed("2017-04-14 23:59:59")
    assert ok.broken == [] and ok.event_day == DAY and ok.values["feedback_status"] == "ISSUED"
    assert rules(pushed("2017-04-15 00:00:00")) == [("date_impossible", "pushed_at")]


def test_random_plan_ratio(cat):
    raw = {
        "计划编号": "P1",
        "抽查比例": "5%",
        "对象总数": "1,200",
        "开始日期": "2017-03-01",
        "配合部门代码": "A；B",
    }
    r = normalise_row(RawRow(1, raw), "random_plans", "city", cat, DAY)
    assert r.broken == []
    assert (r.values["sampling_ratio"], r.values["population"], r.values["participant_department_codes"]) == (
        Decimal("0.050000"),
        1200,
        ["A", "B"],
    )
    r = normalise_row(RawRow(1, {**raw, "抽查比例": "150%"}), "random_plans", "city", cat, DAY)
    assert rules(r) == [("amount_invalid", "sampling_ratio")]


def test_extra_columns_and_renames(cat):
    header = [*S_PEN, "备注"]
    renamed = [("罚没款金额" if h == "罚款金额" else h) for h in header]
    after = dt.date(2017, 3, 1)
    r = make_row_normaliser("penalties", "xuhui", cat, after, renamed)(s_pen(**{"罚没款金额": "7", "备注": "新列"}))
    assert r.values["fine_amount"] == Decimal("7.00")  # the renamed header is in force from its day
    assert r.extra_columns == {"备注": "新列"}  # an unknown column is kept, not dropped
    # the template's standard header keeps working after the rename: it is an alias, not replaced
    std = make_row_normaliser("penalties", "xuhui", cat, after, header)(s_pen(罚款金额="1", 备注="新列"))
    assert std.values["fine_amount"] == Decimal("1.00") and std.extra_columns == {"备注": "新列"}
    # before its day the new header is unknown
    before = make_row_normaliser("penalties", "xuhui", cat, dt.date(2017, 2, 28), renamed)(
        s_pen(**{"罚没款金额": "7", "备注": "新列"}))
    assert before.values["fine_amount"] is None and before.extra_columns == {"罚没款金额": "7", "备注": "新列"}
    pen, xuhui = cat.tables["penalties"], cat.sources["xuhui"]
    assert unknown_columns(header, pen, xuhui, after) == ["备注"]
    assert unknown_columns(renamed, pen, xuhui, after) == ["备注"]
    assert unknown_columns(renamed, pen, xuhui, dt.date(2017, 2, 28)) == ["罚没款金额", "备注"]


def test_both_headers_of_a_renamed_field_reject_the_file(cat):
    pen, xuhui = cat.tables["penalties"], cat.sources["xuhui"]
    both = [*S_PEN, "罚没款金额"]
    assert conflicting_headers(both, pen, xuhui, dt.date(2017, 3, 1)) == {"fine_amount": ["罚款金额", "罚没款金额"]}
    assert conflicting_headers(both, pen, xuhui, dt.date(2017, 2, 28)) == {}   # not yet a rename: just unknown
    with pytest.raises(FileRejected) as info:
        reject_conflicting_headers("landing/xuhui/2017-03-01/penalties.csv", both, pen, xuhui, dt.date(2017, 3, 1))
    assert info.value.reason_code == "conflicting_headers"
    assert "'罚款金额' and '罚没款金额'" in info.value.message and "fine_amount" in info.value.message
    assert "landing/xuhui/2017-03-01/penalties.csv" in info.value.message


def test_missing_required_columns(cat):
    t, src = cat.tables["penalties"], cat.sources["huangpu"]
    assert missing_required_columns(S_PEN, t, src, DAY) == []
    assert missing_required_columns([h for h in S_PEN if h != "记录编号"], t, src, DAY) == ["记录编号"]
    assert missing_required_columns([h for h in S_PEN if h != "统一社会信用代码"], t, src, DAY) == [
        "统一社会信用代码"
    ]
    # minhang renamed JCRQ -> JCSJ on 2017-02-01: either name satisfies the requirement from then on,
    # and a file with neither is told the new name
    insp, minhang = cat.tables["inspections"], cat.sources["minhang"]
    hdr = list(cat.templates["P"].headers["inspections"])
    renamed = [("JCSJ" if h == "JCRQ" else h) for h in hdr]
    neither = [h for h in hdr if h != "JCRQ"]
    assert missing_required_columns(hdr, insp, minhang, dt.date(2017, 1, 31)) == []
    assert missing_required_columns(hdr, insp, minhang, dt.date(2017, 2, 1)) == []
    assert missing_required_columns(renamed, insp, minhang, dt.date(2017, 2, 1)) == []
    assert missing_required_columns(renamed, insp, minhang, dt.date(2017, 1, 31)) == ["JCRQ"]
    assert missing_required_columns(neither, insp, minhang, dt.date(2017, 2, 1)) == ["JCSJ"]
    with pytest.raises(FileRejected) as info:
        reject_missing_required_columns(
            "landing/minhang/2017-02-01/inspections.txt", neither, insp, minhang, dt.date(2017, 2, 1)
        )
    assert info.value.reason_code == "missing_required_column"
    assert "JCSJ" in info.value.message and "landing/minhang/2017-02-01/inspections.txt" in info.value.message
