"""The committed expectation suites are exactly what schemas/ derives, so a
column's rules live in one place."""

import json

from lakehouse.catalog import load_catalog
from lakehouse.config import settings
from lakehouse.ingest.quality.suites import derive_suite, load_suite


def test_committed_suites_match_the_schemas():
    catalog = load_catalog()
    for name, table in catalog.tables.items():
        committed = load_suite(name)
        derived = json.loads(json.dumps(derive_suite(table, catalog), ensure_ascii=False))
        assert committed == derived, f"expectations/{name}.json is stale: run `lakehouse suites`"
    assert {p.stem for p in settings().expectations_dir.glob("*.json")} == set(catalog.tables)


def test_suite_encodes_keys_vocabularies_and_amount_bounds():
    catalog = load_catalog()
    suite = derive_suite(catalog.tables["penalties"], catalog)
    kinds = {(e["type"], str(e["kwargs"].get("column") or e["kwargs"].get("column_list"))): e for e in suite["expectations"]}
    assert kinds[("expect_compound_columns_to_be_unique", "['source', 'record_id']")]["meta"]["critical"]
    status = kinds[("expect_column_values_to_be_in_set", "status")]
    assert status["kwargs"]["value_set"] == ["EFFECTIVE", "REVOKED", "EXECUTED"]
    fine = kinds[("expect_column_values_to_be_between", "fine_amount")]
    assert fine["kwargs"]["max_value"] == 100000000 and fine["meta"]["critical"]
