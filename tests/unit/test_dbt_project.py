"""The dbt project agrees with schemas/ (one place for each fact) and never names a
personal column. No database needed."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import yaml

from lakehouse.catalog import load_catalog
from lakehouse.config import REPO_ROOT

DBT = REPO_ROOT / "dbt_project"
STAGING = DBT / "models" / "staging" / "lake"


def _sources() -> dict[str, dict]:
    doc = yaml.safe_load((STAGING / "_lake__sources.yml").read_text(encoding="utf-8"))
    (lake,) = [s for s in doc["sources"] if s["name"] == "lake"]
    return {t["name"]: t for t in lake["tables"]}


def _personal_columns() -> set[str]:
    return {c.name for t in load_catalog().tables.values() for c in t.all_columns if c.pii}


def test_every_lake_table_is_a_source_with_the_catalog_columns():
    sources = _sources()
    for name, table in load_catalog().tables.items():
        assert name in sources, f"lake.{name} is not declared in {STAGING / '_lake__sources.yml'}"
        declared = [c["name"] for c in sources[name]["columns"]]
        assert declared == [c.name for c in table.all_columns] + ["_row_hash"], name
        assert (STAGING / f"stg_lake__{name}.sql").exists(), f"no staging model for lake.{name}"
    assert {"ingest_runs", "quarantine_rows"} <= set(sources)


def test_no_model_selects_a_personal_column():
    personal = _personal_columns() | {"raw"}
    assert {"legal_representative_id_number", "inspector_ids"} <= personal
    for sql in (DBT / "models").rglob("*.sql"):
        text = re.sub(r"\{#.*?#\}|--[^\n]*", "", sql.read_text(encoding="utf-8"), flags=re.S)
        # lake.* holds personal columns masked: a model may take one only as <column>_masked
        text = re.sub(r"\b([a-z_]+) as \1_masked\b", "", text)
        words = set(re.findall(r"[a-z_]+", text))
        assert not words & personal, f"{sql} names personal column(s) {words & personal}"
        assert not re.search(
            r"select\s+\*\s+from\s+\{\{\s*source\('lake',\s*'(entities|random_draws|quarantine_rows)'", text
        ), f"{sql} selects * from a table with personal columns"


def test_credit_rules_fixture_is_version_1_of_the_seed():
    def rows(path: Path):
        with path.open(encoding="utf-8") as f:
            return [r for r in csv.DictReader(f) if r["version"] == "1"]

    seed = rows(DBT / "seeds" / "credit_rules.csv")
    assert seed and seed == rows(DBT / "tests" / "fixtures" / "credit_rules_v1.csv")


def test_contracted_marts_grant_the_dashboard_and_others_do_not():
    contracted = set()
    for path in (DBT / "models" / "marts").glob("*.yml"):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            config = model.get("config", {})
            grants = config.get("grants", {}).get("select", [])
            if config.get("contract", {}).get("enforced"):
                contracted.add(model["name"])
                assert "lakehouse_dashboard" in grants and "lakehouse_analyst" in grants, model["name"]
                assert all(c.get("data_type") for c in model["columns"]), model["name"]
            else:
                assert "lakehouse_dashboard" not in grants, model["name"]
    assert {
        "dim_entity_profile",
        "fct_credit_risk",
        "fct_dual_notification_funnel",
        "fct_collection_quality",
    } <= contracted
