"""The dbt project agrees with schemas/ (one place for each fact) and never names a
personal column. No database needed."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import jinja2
import yaml

from lakehouse.catalog import load_catalog
from lakehouse.config import REPO_ROOT
from lakehouse.serving.warehouse import lake_columns

DBT = REPO_ROOT / "dbt_project"
STAGING = DBT / "models" / "staging" / "lake"


def _sources() -> dict[str, dict]:
    doc = yaml.safe_load((STAGING / "_lake__sources.yml").read_text(encoding="utf-8"))
    (lake,) = [s for s in doc["sources"] if s["name"] == "lake"]
    return {t["name"]: t for t in lake["tables"]}


def _personal_columns() -> set[str]:
    return {c.name for t in load_catalog().tables.values() for c in t.all_columns if c.pii}


def _staged_sql(model: Path) -> str:
    """A staging model as dbt compiles it, for the models that call the lake_staging
    macro (the others as written): jinja with the project's two staging macros, the
    sources YAML as dbt's graph and source() naming the table."""
    text = model.read_text(encoding="utf-8")
    if "lake_staging(" not in text:
        return text
    macros = "".join((DBT / "macros" / f).read_text(encoding="utf-8") for f in ("lake_staging.sql", "lake_lineage.sql"))
    # dbt's graph gives every column a meta (empty unless the YAML sets one)
    columns = {name: {c["name"]: {"meta": {}, **c} for c in t["columns"]}
               for name, t in _sources().items() if "columns" in t}
    graph = {"sources": {f"source.supervision_marts.lake.{name}": {"columns": cols} for name, cols in columns.items()}}
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)
    return env.from_string(macros + text).render(
        source=lambda source, table: f"{source}.{table}", graph=graph, execute=True, project_name="supervision_marts")


def test_every_lake_table_is_a_source_with_the_catalog_columns_and_types():
    sources = _sources()
    for name, table in load_catalog().tables.items():
        assert name in sources, f"lake.{name} is not declared in {STAGING / '_lake__sources.yml'}"
        declared = [(c["name"], c.get("data_type")) for c in sources[name]["columns"]]
        # the PostgreSQL types of the lake DDL (warehouse.lake_columns), column by column
        expected = lake_columns(table)
        for position, (got, want) in enumerate(zip(declared, expected, strict=False)):
            assert got == want, (f"lake.{name} column {position + 1} in _lake__sources.yml is {got}, "
                                 f"schemas/ makes it {want}")
        assert len(declared) == len(expected), f"lake.{name}: {declared[len(expected):] or expected[len(declared):]}"
        assert (STAGING / f"stg_lake__{name}.sql").exists(), f"no staging model for lake.{name}"
    assert {"ingest_runs", "quarantine_rows"} <= set(sources)


def test_the_committed_sources_yaml_is_what_the_catalog_gives():
    """dbt_files writes it before every dbt command; committed (to be read), it must not drift."""
    from lakehouse.serving.dbt_files import sources_yml

    assert (STAGING / "_lake__sources.yml").read_text(encoding="utf-8") == sources_yml()


def test_personal_columns_are_marked_pii_in_the_sources():
    """lake_staging leaves out the columns marked pii, so every personal column must be."""
    sources = _sources()
    for name, table in load_catalog().tables.items():
        marked = {c["name"] for c in sources[name]["columns"] if (c.get("meta") or {}).get("pii")}
        assert marked == {c.name for c in table.all_columns if c.pii}, f"lake.{name}: meta pii in _lake__sources.yml"


def test_no_source_column_description_restates_its_name():
    for name, table in _sources().items():
        for c in table.get("columns", []):
            assert (c.get("description") or "").lower() != c["name"].replace("_", " "), f"lake.{name}.{c['name']}"


def test_staging_models_cast_each_column_to_its_declared_type():
    sql = _staged_sql(STAGING / "stg_lake__penalties.sql")
    assert "cast(fine_amount as numeric(18,2)) as fine_amount," in sql
    assert "cast(penalty_kinds as text[]) as penalty_kinds," in sql
    assert "cast(_ingested_at as timestamptz) as ingested_at" in sql and "from lake.penalties" in sql
    entities = _staged_sql(STAGING / "stg_lake__entities.sql")
    assert "cast(name as text) as entity_name," in entities and "name_keys" not in entities


def test_no_model_selects_a_personal_column():
    personal = _personal_columns() | {"raw"}
    assert {"legal_representative_id_number", "inspector_ids"} <= personal
    for sql in (DBT / "models").rglob("*.sql"):
        text = re.sub(r"\{#.*?#\}|--[^\n]*", "", _staged_sql(sql), flags=re.S)
        # lake.* holds personal columns masked: a model may take one only as <column>_masked
        # (or, from lake_staging, cast to a name ending in _masked)
        text = re.sub(r"\b([a-z_]+) as \1_masked\b|\bcast\([a-z_]+ as [a-z\[\]]+\) as [a-z_]+_masked\b", "", text)
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


def test_exposures_are_owned_by_a_role_not_a_placeholder():
    doc = yaml.safe_load((DBT / "models" / "marts" / "_exposures.yml").read_text(encoding="utf-8"))
    for exposure in doc["exposures"]:
        owner = exposure["owner"]
        assert owner.get("name"), exposure["name"]
        assert "example." not in str(owner.get("email", "")), f"{exposure['name']}: placeholder owner {owner}"
