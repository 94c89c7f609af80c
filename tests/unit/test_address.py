"""Address parsing: every form the sources send, and the row normaliser's
address_* columns and `address_unparsed` flag."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.ingest.normalise import normalise_row
from lakehouse.ingest.normalise.address import ParsedAddress, parse_address
from lakehouse.ingest.readers import RawRow

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DAY = dt.date(2017, 4, 14)


@pytest.fixture(scope="module")
def cat():
    return load_catalog(SCHEMAS)


def P(district, road, number=None, *, lane=None, building=None, floor=None, room=None) -> ParsedAddress:
    return ParsedAddress(district, road, lane, number, building, floor, room)


@pytest.mark.parametrize(
    "text,want",
    [
        # with and without 上海市 / 上海
        ("上海市静安区南京西路1266号", P("310106", "南京西路", "1266")),
        ("静安区南京西路1266号", P("310106", "南京西路", "1266")),
        ("上海静安区南京西路1266号", P("310106", "南京西路", "1266")),
        # full-width digits, letters and blanks
        ("上海市静安区南京西路１２６６号２座１５层１５０１室",
         P("310106", "南京西路", "1266", building="2", floor="15", room="1501")),
        ("静安区 南京西路 1266号　Ａ座", P("310106", "南京西路", "1266", building="A")),
        # building name between number and building; 栋 / 幢 / 座 / 号楼
        ("上海市静安区南京西路1266号恒隆广场2座3501室",
         P("310106", "南京西路", "1266", building="2", room="3501")),
        ("徐汇区漕溪北路88号3栋", P("310104", "漕溪北路", "88", building="3")),
        ("徐汇区漕溪北路88号3幢201室", P("310104", "漕溪北路", "88", building="3", room="201")),
        ("徐汇区漕溪北路88号3号楼12楼", P("310104", "漕溪北路", "88", building="3", floor="12")),
        ("普陀区曹杨路100号b栋", P("310107", "曹杨路", "100", building="B")),
        # floor 层 / 楼, basement; room alone
        ("长宁区天山路8号15层", P("310105", "天山路", "8", floor="15")),
        ("长宁区天山路8号B1层", P("310105", "天山路", "8", floor="B1")),
        ("长宁区天山路8号1501室", P("310105", "天山路", "8", room="1501")),
        # lanes (弄): with a number in the lane, or only a building
        ("黄浦区淮海中路100弄3号", P("310101", "淮海中路", "3", lane="100")),
        ("黄浦区淮海中路100弄3号楼501室", P("310101", "淮海中路", lane="100", building="3", room="501")),
        # roads: 路 / 街 / 大道 / 公路 / 大街; number ranges
        ("浦东新区世纪大道100号", P("310115", "世纪大道", "100")),
        ("宝山区沪太公路1号", P("310113", "沪太公路", "1")),
        ("青浦区朱家角镇西井街5号", P("310118", "西井街", "5")),
        ("松江区九亭镇九亭大街12-14号", P("310117", "九亭大街", "12-14")),
        # a town or sub-district between district and road is skipped; 镇 starting a road is a road
        ("嘉定区安亭镇墨玉路100号", P("310114", "墨玉路", "100")),
        ("静安区静安寺街道南京西路1号", P("310106", "南京西路", "1")),
        ("静安区镇宁路405号", P("310106", "镇宁路", "405")),
        # legacy district names -> today's district
        ("上海市卢湾区淮海中路300号", P("310101", "淮海中路", "300")),
        ("闸北区共和新路1000号", P("310106", "共和新路", "1000")),
        ("上海市南汇区人民路5号", P("310115", "人民路", "5")),
        ("上海市崇明县城中路9号", P("310151", "城中路", "9")),
        ("崇明区城中路9号", P("310151", "城中路", "9")),
    ],
)
def test_address_forms(cat, text, want):
    assert parse_address(text, cat.address_district_names) == want


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "不详",
        "上海市",
        "静安区",                       # no road
        "静安区南京西路",                # no number
        "上海市南京西路1266号",          # no district
        "火星区南京西路1号",             # no known district
        "静安区南京西路1266号附近",      # text left over
        "静安区南京西路1266号（近石门一路）",
        "北京市朝阳区建国路1号",
    ],
)
def test_unparseable_addresses(cat, text):
    assert parse_address(text, cat.address_district_names) is None


def test_the_city_is_not_a_district(cat):
    assert "上海市" not in cat.address_district_names
    assert cat.address_district_names["闸北区"] == "310106"
    assert cat.address_district_names["浦东新区"] == "310115"
    assert all(2 <= len(name) <= 6 for name in cat.address_district_names)   # what the parser looks up


LICENCE = {
    "记录编号": "L1",
    "统一社会信用代码": "91310106MA1FL0XX1X",
    "主体名称": "某",
    "许可类别": "食品经营许可",
    "许可决定日期": "2017-04-01",
    "状态": "有效",
}


def test_row_normaliser_fills_the_parts_beside_the_address(cat):
    sent = "上海市闸北区共和新路１０００号２号楼３０１室"
    r = normalise_row(RawRow(1, {**LICENCE, "经营场所": sent}), "licences", "xuhui", cat, DAY)
    v = r.values
    assert "address_unparsed" not in r.flags and v["address"] == sent   # the address as sent stays
    assert (v["address_district"], v["address_road"], v["address_lane"], v["address_number"],
            v["address_building"], v["address_floor"], v["address_room"]) == (
        "310106", "共和新路", None, "1000", "2", None, "301")


def test_row_normaliser_flags_an_unparseable_address_and_keeps_the_row(cat):
    r = normalise_row(RawRow(1, {**LICENCE, "经营场所": "详见营业执照"}), "licences", "xuhui", cat, DAY)
    assert r.broken == [] and "address_unparsed" in r.flags
    assert r.values["address"] == "详见营业执照" and r.values["address_road"] is None


def test_an_empty_address_is_not_flagged(cat):
    r = normalise_row(RawRow(1, {**LICENCE, "经营场所": ""}), "licences", "xuhui", cat, DAY)
    assert "address_unparsed" not in r.flags and r.values["address_district"] is None


def test_parsed_columns_are_described_once_for_the_three_place_tables(cat):
    parsed = {name for name, t in cat.tables.items() if t.parse_address}
    assert parsed == {"licences", "inspections", "entities"}
    for name in parsed:
        cols = cat.tables[name].column_names
        assert all(f"address_{p}" in cols for p in ("district", "road", "number", "building", "room"))
        assert not any(c.startswith("address_") for c in cat.tables[name].feed_fields)   # never sent
    assert "address_unparsed" in cat.rules and cat.rules["address_unparsed"].action == "flag"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from lakehouse.generator import generate

    root = tmp_path_factory.mktemp("city")
    generate(out=root / "landing", truth=root / "truth", preset="small", days=2, seed=11, progress=False)
    return root / "truth"


def _silver(truth, table):
    import json

    return [json.loads(line) for line in (truth / "silver" / f"{table}.jsonl").read_text("utf-8").splitlines()]


def test_the_answer_file_says_what_every_generated_address_parses_to(cat, generated):
    from lakehouse.ingest.normalise.address import PARTS

    names, checked, unparsed = cat.address_district_names, 0, 0
    forms = {"legacy": 0, "fullwidth": 0, "no_city": 0, "lane": 0, "building": 0, "room": 0}
    for table in ("entities", "licences", "inspections"):
        for row in _silver(generated, table):
            want = tuple(row[f"address_{p}"] for p in PARTS)
            got = parse_address(row["address"], names)
            if "address_unparsed" in row["flags"]:
                unparsed += 1
                assert got is None and want == (None,) * len(PARTS), row["address"]
                continue
            assert got is not None and tuple(got) == want, (row["address"], got, want)
            checked += 1
            text = row["address"]
            forms["legacy"] += any(n in text for n in ("卢湾区", "闸北区", "南汇区", "崇明县"))
            forms["fullwidth"] += any("０" <= ch <= "９" for ch in text)
            forms["no_city"] += not text.startswith("上海")
            forms["lane"] += got.lane is not None
            forms["building"] += got.building is not None
            forms["room"] += got.room is not None
    assert checked > 1000 and unparsed > 0
    assert all(forms.values()), forms   # every form turns up


def test_generated_buildings_hold_several_entities_and_some_many(generated):
    from collections import Counter

    per_building = Counter((r["address_district"], r["address_road"], r["address_lane"], r["address_number"],
                            r["address_building"]) for r in _silver(generated, "entities") if r["address_road"])
    sizes = sorted(per_building.values(), reverse=True)
    assert sizes[0] >= 20 and sum(s >= 2 for s in sizes) >= 50, sizes[:10]
