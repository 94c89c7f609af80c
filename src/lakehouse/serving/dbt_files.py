"""The dbt project's files that follow from schemas/, written before every
dbt command (marts.py), never kept by hand: the districts seed (the
districts follow from schemas/sources/; not in git) and the lake sources'
YAML (every published table and column, with its PostgreSQL type,
description, allowed values and personal-data mark, from schemas/tables/ and
the ops tables; committed to be read, and tests/unit/test_dbt_project.py
holds it equal to what the catalog gives)."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import yaml

from lakehouse.catalog import Catalog, Table, load_catalog
from lakehouse.catalog.ops_tables import PUBLISHED
from lakehouse.config import REPO_ROOT
from lakehouse.serving.warehouse import lake_columns

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DISTRICTS_SEED_COLUMNS = ("district_code", "source_code", "district_name", "legacy_codes", "is_city")
SOURCES_YML = Path("models") / "staging" / "lake" / "_lake__sources.yml"
ROW_HASH_DESCRIPTION = "hash of the row's business columns (change detection)"
LAKE_DESCRIPTION = (
    "Silver tables published from Delta to PostgreSQL (one row per natural key, latest version), plus the ingest "
    "ops tables. Columns are defined once in schemas/tables/*.yaml. Freshness is measured on _ingested_at "
    "(ingest_runs: finished_at): the daily district feeds and the run log should change every day (warn after 2 "
    "days, error after 7); the city's registry, reference and list tables only change when their content does "
    "(warn after 35 days, error after 62); the quarantine is empty on a good day, so it has no freshness.")
DAILY = {"warn_after": {"count": 2, "period": "day"}, "error_after": {"count": 7, "period": "day"}}
ON_CHANGE = {"warn_after": {"count": 35, "period": "day"}, "error_after": {"count": 62, "period": "day"}}


def districts_seed_csv(catalog: Catalog | None = None) -> str:
    """The districts seed (seeds/_seeds.yml): one row per division of the catalog's
    registry, with the abolished codes merged into it (`;`-separated), and
    which of them is the city itself (is_city: what its records are held by)."""
    catalog = catalog if catalog is not None else load_catalog()
    merged: dict[str, list[str]] = {}
    for old, new in sorted(catalog.legacy_districts.items()):
        merged.setdefault(new, []).append(old)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DISTRICTS_SEED_COLUMNS)
    for code, district in catalog.districts.items():
        writer.writerow([code, district.code, district.name, ";".join(merged.get(code, [])),
                         str(code == catalog.city_code).lower()])
    return out.getvalue()


def sources_yml(catalog: Catalog | None = None) -> str:
    """models/staging/lake/_lake__sources.yml: the lake source, every published table."""
    catalog = catalog if catalog is not None else load_catalog()
    tables = [_silver_source(t) for _, t in sorted(catalog.tables.items())]
    for ops in PUBLISHED[::-1]:      # the run log, then the quarantine
        config: dict = {"loaded_at_field": ops.loaded_at}
        if not ops.daily:
            config["freshness"] = None
        tables.append({"name": ops.pg_name, "description": ops.description, "config": config})
    doc = {"version": 2, "sources": [{"name": "lake", "schema": "lake", "description": LAKE_DESCRIPTION,
                                      "config": {"freshness": DAILY}, "tables": tables}]}
    header = "# Generated from schemas/ by lakehouse.serving.dbt_files (before every dbt command): do not edit.\n"
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=118)


def _silver_source(table: Table) -> dict:
    config: dict = {"loaded_at_field": "_ingested_at"}
    if not table.district_held:     # the city's registry, reference and list tables change with their content
        config["freshness"] = ON_CHANGE
    source: dict = {"name": table.name, "description": table.description, "config": config}
    if len(table.key) > 1:
        source["data_tests"] = [{"unique_combination_of_columns": {"arguments": {
            "combination_of_columns": list(table.key)}}}]
    types = dict(lake_columns(table))
    columns = []
    for c in table.all_columns:
        column: dict = {"name": c.name}
        if c.description:
            column["description"] = c.description
        column["data_type"] = types[c.name]
        tests: list = ["unique", "not_null"] if table.key == [c.name] else []
        if c.values:
            tests.append({"accepted_values": {"arguments": {"values": list(c.values)}}})
        if tests:
            column["data_tests"] = tests
        if c.pii:
            column["meta"] = {"pii": True}
        columns.append(column)
    columns.append({"name": "_row_hash", "description": ROW_HASH_DESCRIPTION, "data_type": types["_row_hash"]})
    source["columns"] = columns
    return source


def write_generated(project_dir: Path | None = None, catalog: Catalog | None = None) -> list[Path]:
    """Write both files into the dbt project (only what changed; atomically)."""
    project = Path(project_dir or DBT_PROJECT_DIR)
    catalog = catalog if catalog is not None else load_catalog()
    return [_write(project / "seeds" / "districts.csv", districts_seed_csv(catalog)),
            _write(project / SOURCES_YML, sources_yml(catalog))]


def _write(path: Path, text: str) -> Path:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path
