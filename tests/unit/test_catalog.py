"""schemas/ loads into typed models, is consistent, and fails loudly on typos."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from lakehouse.catalog import CatalogError, load_catalog

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(SCHEMAS)


@pytest.fixture()
def tmp_schemas(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    return root


def test_real_schemas_load(catalog):
    assert len(catalog.sources) == 17
    assert set(catalog.templates) == {"S", "P", "J", "X"}
    assert {s.template for s in catalog.sources.values()} == {"S", "P", "J", "X"}
    assert catalog.sources["minhang"].template == "P"
    assert catalog.sources["jingan"].division_code == "310106"
    assert catalog.thresholds.late_after_days == 60
    assert catalog.thresholds.min_event_date == dt.date(1949, 1, 1)
    assert catalog.legacy_districts["310108"] == "310106"
    assert "食品经营许可" in catalog.known_licence_types
    assert catalog.rules["late"].action == "flag"
    assert catalog.rules["amount_invalid"].action == "quarantine"


def test_every_source_feed_is_readable(catalog):
    for src in catalog.sources.values():
        tpl = catalog.templates[src.template]
        for feed in src.feeds:
            table = catalog.table_for_feed(feed)
            hmap = src.header_map(feed, dt.date(2017, 4, 14))
            assert set(hmap.values()) <= set(table.feed_fields)
            # every required column of the table has a header in every template
            assert set(table.required_columns) <= set(hmap.values()), (src.code, feed)
            if tpl.format == "xlsx":
                assert feed in tpl.sheet_names


def test_borrowed_headers_and_values(catalog):
    s, x, p = catalog.templates["S"], catalog.templates["X"], catalog.templates["P"]
    assert x.headers == s.headers
    assert x.values == s.values and p.values == s.values
    assert catalog.sources["jinshan"].value_map("licences", "status")["吊销"] == "REVOKED"
    assert catalog.sources["pudong"].value_map("penalties", "status")["EXECUTED"] == "EXECUTED"


def test_columns_in_stable_order_with_common(catalog):
    cols = catalog.tables["penalties"].column_names
    assert cols[:6] == [
        "source",
        "holding_district",
        "uscc",
        "uscc_as_sent",
        "resolved_by",
        "registered_district",
    ]
    assert cols[6] == "record_id"
    assert cols[-10:-8] == ["flags", "extra_columns"]
    assert cols[-2:] == ["_ingested_at", "_promoted_by_run_id"]
    assert "source" not in catalog.tables["entities"].column_names
    fine = catalog.tables["penalties"].column("fine_amount")
    assert (fine.kind, fine.scale, fine.unit) == ("decimal", 2, "yuan")
    assert catalog.tables["entities"].column("legal_representative_id_number").pii


def test_header_map_applies_renames_from_their_date(catalog):
    xuhui = catalog.sources["xuhui"]
    before = xuhui.header_map("penalties", dt.date(2017, 2, 28))
    after = xuhui.header_map("penalties", dt.date(2017, 3, 1))
    assert before["罚款金额"] == "fine_amount" and "罚没款金额" not in before
    assert after["罚没款金额"] == "fine_amount" and after["罚款金额"] == "fine_amount"   # an alias, not a swap
    pudong = catalog.sources["pudong"].header_map("licences", dt.date(2017, 2, 15))
    assert pudong["licenceCategory"] == "licence_type"


def test_new_source_is_just_a_yaml_file(tmp_schemas):
    # a new division code: the division registry follows (see test_new_district.py)
    (tmp_schemas / "sources" / "lingang.yaml").write_text(
        'code: lingang\nname: 临港新区\ndivision_code: "310119"\ntemplate: P\n'
        "feeds: [licences, penalties]\nrenames: []\nvalues:\n  licences.status: {作废: CANCELLED}\n",
        encoding="utf-8",
    )
    cat = load_catalog(tmp_schemas)
    assert len(cat.sources) == 18
    assert cat.districts["310119"].code == "lingang"
    lingang = cat.sources["lingang"]
    assert lingang.header_map("licences", dt.date(2017, 1, 1))["JLBH"] == "record_id"
    assert lingang.value_map("licences", "status")["作废"] == "CANCELLED"
    assert lingang.value_map("licences", "status")["有效"] == "VALID"


def _expect_error(root: Path, *fragments: str) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_misspelt_key_names_file_and_key(tmp_schemas):
    _edit(tmp_schemas / "sources" / "minhang.yaml", "renames:", "renamse:")
    _expect_error(tmp_schemas, "sources/minhang.yaml", "renamse")


def test_unknown_template(tmp_schemas):
    _edit(tmp_schemas / "sources" / "qingpu.yaml", "template: P", "template: Q")
    _expect_error(tmp_schemas, "sources/qingpu.yaml", "template", "'Q'")


def test_feed_not_a_table(tmp_schemas):
    _edit(tmp_schemas / "sources" / "baoshan.yaml", "feeds: [licences,", "feeds: [licenses,")
    _expect_error(tmp_schemas, "sources/baoshan.yaml", "feeds.0", "'licenses'")


def test_rename_field_not_a_column(tmp_schemas):
    _edit(tmp_schemas / "sources" / "xuhui.yaml", "field: fine_amount", "field: fine")
    _expect_error(tmp_schemas, "sources/xuhui.yaml", "renames.0.field", "'fine'")


def test_bad_rename_date(tmp_schemas):
    _edit(tmp_schemas / "sources" / "xuhui.yaml", 'since: "2017-03-01"', 'since: "2017-13-01"')
    _expect_error(tmp_schemas, "sources/xuhui.yaml", "renames.0.since")


def test_duplicate_source_code(tmp_schemas):
    text = (tmp_schemas / "sources" / "putuo.yaml").read_text(encoding="utf-8")
    (tmp_schemas / "sources" / "putuo2.yaml").write_text(text, encoding="utf-8")
    _expect_error(tmp_schemas, "sources/putuo2.yaml", "duplicate source code 'putuo'")


def test_value_map_outside_vocabulary(tmp_schemas):
    _edit(tmp_schemas / "sources" / "yangpu.yaml", "values: {}", "values: {penalties.status: {生效: ACTIVE}}")
    _expect_error(tmp_schemas, "sources/yangpu.yaml", "penalties.status", "ACTIVE")


def test_template_header_to_unknown_field(tmp_schemas):
    _edit(tmp_schemas / "templates" / "P.yaml", "JLBH: record_id", "JLBH: record_no")
    _expect_error(tmp_schemas, "templates/P.yaml", "headers.licences.JLBH", "record_no")


def test_unknown_column_type(tmp_schemas):
    _edit(
        tmp_schemas / "tables" / "licences.yaml",
        "{name: valid_to, type: date}",
        "{name: valid_to, type: datum}",
    )
    _expect_error(tmp_schemas, "tables/licences.yaml", "datum")


def test_invalid_yaml(tmp_schemas):
    (tmp_schemas / "sources" / "hongkou.yaml").write_text("code: [hongkou\n", encoding="utf-8")
    _expect_error(tmp_schemas, "sources/hongkou.yaml", "not valid YAML")
