"""A new district is one YAML file in schemas/sources/: the division registry,
the reader dispatch, the row rules and the districts reference dbt reads all
follow from it (issue 15). No database needed."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from lakehouse.catalog import CatalogError, District, load_catalog
from lakehouse.ingest.normalise import normalise_row
from lakehouse.ingest.normalise.row import make_row_normaliser
from lakehouse.ingest.readers import RawRow, read_delivery_file
from lakehouse.serving.dbt_files import DISTRICTS_SEED_COLUMNS, districts_seed_csv, write_generated

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# an 18th district with a division code no file in schemas/ names
NEW_CODE, NEW_NAME, NEW_DIVISION = "lingang", "临港新区", "310119"
DAY = dt.date(2017, 4, 14)


@pytest.fixture()
def schemas_18(tmp_path: Path) -> Path:
    """The repo's schemas/ plus one district: a copy of huangpu.yaml with a new code, name and division."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    text = (root / "sources" / "huangpu.yaml").read_text(encoding="utf-8")
    for old, new in (("code: huangpu", f"code: {NEW_CODE}"), ("name: 黄浦区", f"name: {NEW_NAME}"),
                     ('division_code: "310101"', f'division_code: "{NEW_DIVISION}"')):
        assert old in text
        text = text.replace(old, new)
    (root / "sources" / f"{NEW_CODE}.yaml").write_text(text, encoding="utf-8")
    return root


def test_the_new_file_is_in_the_division_registry(schemas_18):
    before, after = load_catalog(SCHEMAS), load_catalog(schemas_18)
    assert NEW_DIVISION not in before.districts
    assert len(after.sources) == len(before.sources) + 1 == 18
    assert after.districts[NEW_DIVISION] == District(code=NEW_CODE, name=NEW_NAME)
    assert {k: v for k, v in after.districts.items() if k != NEW_DIVISION} == before.districts
    # the address parser knows its name as a district
    assert after.address_district_names[NEW_NAME] == NEW_DIVISION


def test_the_new_district_is_read_by_its_template(schemas_18, tmp_path):
    """The ingest's dispatch (staging._read_checked): source -> template -> reader -> row normaliser."""
    cat = load_catalog(schemas_18)
    source = cat.sources[NEW_CODE]
    template = cat.template_of(source)
    assert template.format == "csv"
    header_of = {field: h for h, field in source.header_map("penalties", DAY).items()}
    row = {"record_id": "LG-1", "uscc_as_sent": "91310000MA1FL0XX5B", "entity_name": "上海某某有限公司",
           "decision_date": "2017-04-11", "fine_amount": "5000.00", "status": "有效",
           "penalty_kinds": "罚款", "updated_at": "2017-04-14 09:30:00"}
    assert set(row) <= set(header_of), sorted(set(row) - set(header_of))
    header = [header_of[f] for f in row]
    path = tmp_path / template.file_name("penalties")
    with path.open("w", encoding=template.encoding, newline="") as f:
        csv.writer(f).writerows([header, list(row.values())])

    delivered = read_delivery_file(path, template, "penalties")
    assert [r.values for r in delivered.rows] == [dict(zip(header, row.values(), strict=True))]
    normalised = make_row_normaliser("penalties", NEW_CODE, cat, DAY, delivered.header)(delivered.rows[0])
    assert normalised.values["source"] == NEW_CODE
    assert normalised.values["holding_district"] == NEW_DIVISION
    assert normalised.values["record_id"] == "LG-1" and str(normalised.values["fine_amount"]) == "5000.00"


def test_the_new_division_code_is_a_known_district(schemas_18):
    """A registry row registered in the new district is flagged unknown_district only without its file."""
    header = {h: f for h, f in load_catalog(SCHEMAS).sources["city"].header_map("entities", DAY).items()}
    sent = {h: "" for h in header}
    sent[next(h for h, f in header.items() if f == "registered_district")] = NEW_DIVISION
    raw = RawRow(1, sent)
    without = normalise_row(raw, "entities", "city", load_catalog(SCHEMAS), DAY)
    with_file = normalise_row(raw, "entities", "city", load_catalog(schemas_18), DAY)
    assert "unknown_district" in without.flags
    assert "unknown_district" not in with_file.flags
    assert with_file.values["registered_district"] == NEW_DIVISION


def test_the_new_district_is_in_the_seed_dbt_reads(schemas_18, tmp_path):
    project = tmp_path / "dbt_project"
    path, sources = write_generated(project, load_catalog(schemas_18))
    assert path == project / "seeds" / "districts.csv"
    assert f"- name: {NEW_CODE}" not in sources.read_text(encoding="utf-8")   # a district is no new lake table
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == DISTRICTS_SEED_COLUMNS
    by_code = {r["district_code"]: r for r in rows}
    assert len(rows) == len(by_code) == 18
    assert by_code[NEW_DIVISION] == {"district_code": NEW_DIVISION, "source_code": NEW_CODE,
                                     "district_name": NEW_NAME, "legacy_codes": "", "is_city": "false"}
    assert [code for code, r in by_code.items() if r["is_city"] == "true"] == ["310000"]   # the city, and only it


def test_the_seed_is_the_catalog_registry_with_legacy_codes_merged():
    cat = load_catalog(SCHEMAS)
    rows = list(csv.DictReader(districts_seed_csv(cat).splitlines()))
    assert [r["district_code"] for r in rows] == list(cat.districts) == sorted(cat.districts)
    for r in rows:
        district = cat.districts[r["district_code"]]
        assert (r["source_code"], r["district_name"]) == (district.code, district.name)
    merged = {(r["district_code"], old) for r in rows for old in r["legacy_codes"].split(";") if old}
    assert merged == {(new, old) for old, new in cat.legacy_districts.items()}
    # the city is the division 上海市 (its source is named after its departments)
    assert rows[0]["district_code"] == "310000" and rows[0]["district_name"] == "上海市"
    assert cat.sources["city"].name != "上海市"


def test_writing_the_generated_files_twice_leaves_them_alone(tmp_path):
    paths = write_generated(tmp_path)
    first = [p.stat().st_mtime_ns for p in paths]
    assert [p.stat().st_mtime_ns for p in write_generated(tmp_path)] == first
    assert sorted(p.name for p in (tmp_path / "seeds").iterdir()) == ["districts.csv"]   # no temporary file left


def test_two_sources_for_one_division_fail_naming_both(schemas_18):
    path = schemas_18 / "sources" / f"{NEW_CODE}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(NEW_DIVISION, "310104"), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(schemas_18)
    for fragment in (f"sources/{NEW_CODE}.yaml", "division_code", "'310104'", "xuhui", "sources/xuhui.yaml"):
        assert fragment in str(info.value), str(info.value)


def test_a_subset_of_the_districts_loads_and_keeps_the_old_codes(tmp_path):
    """A deployment with fewer districts (chongming left out): its old code
    still maps, to a division without a source, and the registry lacks it."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    (root / "sources" / "chongming.yaml").unlink()
    cat = load_catalog(root)
    assert cat.legacy_districts["310230"] == "310151" and "310151" not in cat.districts
    assert len(cat.districts) == len(load_catalog(SCHEMAS).districts) - 1


def test_an_abolished_code_as_a_division_fails(schemas_18):
    path = schemas_18 / "sources" / f"{NEW_CODE}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(NEW_DIVISION, "310108"), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(schemas_18)
    assert "reference.yaml: legacy_districts.310108" in str(info.value)
    assert f"source {NEW_CODE!r}" in str(info.value), str(info.value)


def test_a_catalog_of_districts_only_has_no_city(tmp_path):
    """The daily-schedule test's two-source catalog: no source is the city, so no
    division is the city's, every district's name is an address district, and the
    seed marks none (dbt's cross-district rule then excludes no holder)."""
    root = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, root)
    for path in (root / "sources").glob("*.yaml"):
        if path.stem not in ("huangpu", "jingan"):
            path.unlink()
    cat = load_catalog(root)
    assert cat.city_code is None
    assert set(cat.address_district_names.values()) >= {"310101", "310106"}
    rows = list(csv.DictReader(districts_seed_csv(cat).splitlines()))
    assert [r["is_city"] for r in rows] == ["false", "false"]
