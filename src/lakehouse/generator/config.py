"""Everything the generator reads from `schemas/` (one place for each fact):
sources, districts, headers per template and feed, value vocabularies,
known renames, rule thresholds and table definitions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import yaml

from lakehouse.catalog import load_catalog

DISTRICT_FEEDS = ("licences", "inspections", "penalties")
CITY_FEEDS = (
    "entities",
    "departments",
    "abnormal_list",
    "serious_violations",
    "dual_notifications",
    "random_plans",
    "random_draws",
    "website_filings",
)


def schemas_dir() -> Path:
    env = os.environ.get("LAKEHOUSE_SCHEMAS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "schemas"


def _load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass(frozen=True)
class Rename:
    feed: str
    since: date
    header: str
    field: str


@dataclass(frozen=True)
class Source:
    code: str
    name: str
    division_code: str
    template: str
    feeds: tuple[str, ...]
    renames: tuple[Rename, ...] = ()


@dataclass(frozen=True)
class Template:
    code: str
    file: str
    encoding: str | None
    # feed -> ordered list of (header as sent, canonical field)
    headers: dict[str, list[tuple[str, str]]]
    # "table.field" -> {canonical: sent}
    values_out: dict[str, dict[str, str]]
    sheet_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    event_date: str | None
    entity_ref: bool
    district_held: bool
    types: dict[str, str]  # field -> type
    required: tuple[str, ...]
    vocab: dict[str, tuple[str, ...]]
    parse_address: bool = False  # address -> address_district, address_road, ... (schemas/tables/_common.yaml)


@dataclass(frozen=True)
class Schemas:
    sources: dict[str, Source]
    templates: dict[str, Template]
    tables: dict[str, Table]
    districts: dict[str, str]  # division code -> source code (incl. 310000 city)
    district_names: dict[str, str]  # division code -> Chinese name
    legacy: dict[str, str]
    known_licence_types: tuple[str, ...]
    late_after_days: int
    min_event_date: date
    max_amount_yuan: int
    rule_actions: dict[str, str]


def _template(raw: dict, s_raw: dict | None) -> Template:
    headers_raw = raw.get("headers") or (s_raw or {}).get("headers")
    values_raw = raw.get("values") or (s_raw or {}).get("values") or {}
    headers = {feed: [(h, f) for h, f in cols.items()] for feed, cols in headers_raw.items()}
    values_out = {k: {canon: sent for sent, canon in m.items()} for k, m in values_raw.items()}
    return Template(
        code=raw["template"],
        file=raw["file"],
        encoding=raw.get("encoding"),
        headers=headers,
        values_out=values_out,
        sheet_names=raw.get("sheet_names", {}),
    )


@lru_cache(maxsize=4)
def load_schemas(root: str | None = None) -> Schemas:
    base = Path(root) if root else schemas_dir()
    ref = _load(base / "reference.yaml")
    rules = _load(base / "rules.yaml")
    s_raw = _load(base / "templates" / "S.yaml")
    templates = {}
    for code in ("S", "P", "J", "X"):
        raw = _load(base / "templates" / f"{code}.yaml")
        templates[code] = _template(raw, s_raw if code != "S" else None)
    sources = {}
    for path in sorted((base / "sources").glob("*.yaml")):
        raw = _load(path)
        renames = tuple(
            Rename(r["feed"], date.fromisoformat(str(r["since"])), r["header"], r["field"])
            for r in raw.get("renames") or []
        )
        sources[raw["code"]] = Source(
            raw["code"], raw["name"], str(raw["division_code"]), raw["template"], tuple(raw["feeds"]), renames
        )
    common = _load(base / "tables" / "_common.yaml") or {}
    ref_required = tuple(c["name"] for c in common.get("entity_ref", []) if c.get("required"))
    tables = {}
    for path in sorted((base / "tables").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        raw = _load(path)
        cols = raw["columns"]
        tables[raw["name"]] = Table(
            name=raw["name"],
            key=tuple(raw["key"]),
            event_date=raw.get("event_date"),
            entity_ref=bool(raw.get("entity_ref")),
            district_held=bool(raw.get("district_held")),
            types={c["name"]: c["type"] for c in cols},
            required=tuple(c["name"] for c in cols if c.get("required"))
            + (ref_required if raw.get("entity_ref") else ()),
            vocab={c["name"]: tuple(c["values"]) for c in cols if c.get("values")},
            parse_address=bool(raw.get("parse_address")),
        )
    th = rules["thresholds"]
    registry = load_catalog(base).districts
    return Schemas(
        sources=sources,
        templates=templates,
        tables=tables,
        # the division registry follows from sources/ (the catalog derives it)
        districts={div: d.code for div, d in registry.items()},
        district_names={div: d.name for div, d in registry.items()},
        legacy={str(k): str(v) for k, v in ref["legacy_districts"].items()},
        known_licence_types=tuple(rules["known_licence_types"]),
        late_after_days=int(th["late_after_days"]),
        min_event_date=date.fromisoformat(str(th["min_event_date"])),
        max_amount_yuan=int(th["max_amount_yuan"]),
        rule_actions={k: v["action"] for k, v in rules["rules"].items()},
    )


def source_order(schemas: Schemas) -> list[str]:
    """Sources in division-code order, city first: a fixed order for deterministic output."""
    return sorted(schemas.sources, key=lambda s: schemas.sources[s].division_code)
