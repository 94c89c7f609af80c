"""The schemas/ folder parsed into typed models.

Borrowed from OpenSanctions zavod: configuration is parsed once into pydantic
models with `extra="forbid"`, and cross-file consistency (a template names a
table, a rename names a column, ...) is checked at load time. A typo therefore
fails at start-up with the file and the key, not deep inside a Spark job.
Adding a source is adding `schemas/sources/<code>.yaml`; nothing here changes:
the division registry (`Catalog.districts`) is derived from the sources.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lakehouse.ingest.table_types import TYPE_NAMES, TYPE_RE

__all__ = [
    "Catalog",
    "CatalogError",
    "Column",
    "Table",
    "Template",
    "Source",
    "Rename",
    "Rule",
    "Thresholds",
    "District",
    "load_catalog",
    "default_schemas_dir",
]


class CatalogError(ValueError):
    """A schemas/ file is wrong. The message names the file and the key."""


class _Model(BaseModel):
    # forbid: an unknown (misspelt) key is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- tables

_TYPE_RE = TYPE_RE   # the one type grammar: ingest/table_types.py
ColumnKind = Literal["string", "bool", "date", "timestamp", "int", "decimal", "array", "map"]


class Column(_Model):
    name: str
    type: str
    required: bool = False
    pii: bool = False
    values: list[str] | None = None  # closed vocabulary (canonical spellings)
    description: str | None = None
    # decimal columns: what the number means. `yuan` is converted from the
    # template's amount_unit and checked against max_amount_yuan; `10k_yuan` is
    # a figure the feed states in 万元 (kept in 万元); `fraction` is 0..1.
    unit: Literal["yuan", "10k_yuan", "fraction"] | None = None
    # what the value must be found in (flag rules, not quarantine): a table
    # (e.g. departments: checked by the Spark stage) or a reference list
    # (districts: the sources' division codes; licence_types: rules.yaml), checked by normalise.
    references: str | None = None
    # computed by the pipeline (e.g. entities.name_keys), never sent by a source
    derived: bool = False

    @model_validator(mode="after")
    def _check(self) -> Column:
        if not _TYPE_RE.match(self.type):
            raise ValueError(
                f"column {self.name!r}: unknown type {self.type!r} ({TYPE_NAMES})"
            )
        if self.kind == "decimal" and self.unit is None:
            raise ValueError(f"decimal column {self.name!r} needs `unit` (yuan, 10k_yuan or fraction)")
        if self.unit is not None and self.kind != "decimal":
            raise ValueError(f"column {self.name!r}: `unit` is only for decimal columns")
        return self

    @property
    def kind(self) -> ColumnKind:
        t = self.type
        if t.startswith("decimal"):
            return "decimal"
        if t.startswith("array"):
            return "array"
        if t.startswith("map"):
            return "map"
        return t  # type: ignore[return-value]

    @property
    def scale(self) -> int | None:
        m = _TYPE_RE.match(self.type)
        return int(m.group(3)) if m and m.group(3) else None


class Table(_Model):
    name: str
    description: str = ""
    feed: str
    entity_ref: bool = False
    district_held: bool = False
    key: list[str]
    version_column: str | None = None
    event_date: str | None = None
    # the `address` column is parsed into the _common.yaml parsed_address columns
    parse_address: bool = False
    columns: list[Column]
    # filled by the catalog from _common.yaml (not written in tables/*.yaml)
    common: dict[str, list[Column]] = Field(default_factory=dict, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> Table:
        names = [c.name for c in self.all_columns]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate column(s) {dupes}")
        known = set(names)
        for k in self.key:
            if k not in known:
                raise ValueError(f"key column {k!r} is not a column")
        for attr in ("version_column", "event_date"):
            v = getattr(self, attr)
            if v is not None and v not in known:
                raise ValueError(f"{attr} {v!r} is not a column")
        if self.parse_address and "address" not in known:
            raise ValueError("parse_address needs an `address` column")
        if self.event_date and self.column(self.event_date).kind not in ("date", "timestamp"):
            raise ValueError(f"event_date {self.event_date!r} must be a date or timestamp column")
        return self

    @cached_property
    def all_columns(self) -> list[Column]:
        """Every silver column in a stable order: holding, entity, own, extras, lineage."""
        cols: list[Column] = []
        if self.district_held:
            cols += self.common.get("district_held", [])
        if self.entity_ref:
            cols += self.common.get("entity_ref", [])
        cols += self.columns
        if self.parse_address:
            cols += self.common.get("parsed_address", [])
        cols += self.common.get("extras", [])
        cols += self.common.get("lineage", [])
        return cols

    @cached_property
    def _by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.all_columns}

    def column(self, name: str) -> Column:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def has_column(self, name: str) -> bool:
        return name in self._by_name

    def columns_referencing(self, target: str) -> list[str]:
        """Own columns whose values are keys of `target` (e.g. "departments")."""
        return [c.name for c in self.columns if c.references == target]

    @cached_property
    def feed_fields(self) -> list[str]:
        """Fields a delivered file can fill: own columns plus uscc_as_sent."""
        return (["uscc_as_sent"] if self.entity_ref else []) + [c.name for c in self.columns if not c.derived]

    @cached_property
    def required_fields(self) -> list[str]:
        """Fields whose emptiness quarantines a row (`required_missing`), and
        whose column missing from a file's header rejects the file."""
        return [f for f in self.feed_fields if self.column(f).required]

    @cached_property
    def required_columns(self) -> list[str]:
        """Fields whose column a file must carry (else `missing_required_column`):
        the required fields plus, for entity tables, the identifier. A row
        missing both identifier and name is the resolution stage's
        `required_missing`, since either one can attribute it."""
        return (["uscc_as_sent"] if self.entity_ref else []) + self.required_fields

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.all_columns]


# --------------------------------------------------------------------------- templates


class Template(_Model):
    template: str
    file: str
    format: Literal["csv", "delimited", "jsonl", "xlsx"]
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int = 1
    sheet_names: dict[str, str] = Field(default_factory=dict)
    date_formats: list[str] = Field(default_factory=list)
    timestamp_formats: list[str] = Field(default_factory=list)
    timezone: str = "+08:00"  # naive timestamps are in this offset (Beijing)
    amount_unit: Literal["yuan", "10k_yuan"] = "yuan"
    list_separator: str | None = None
    null_values: list[str] = Field(default_factory=lambda: [""])
    headers: dict[str, dict[str, str]] = Field(default_factory=dict)  # feed -> {header as sent: field}
    values: dict[str, dict[str, str]] = Field(default_factory=dict)  # "table.field" -> {sent: canonical}
    headers_from: str | None = None
    values_from: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Template:
        if self.format == "delimited" and not self.delimiter:
            raise ValueError("format delimited needs `delimiter`")
        if self.format != "xlsx" and not self.encoding:
            raise ValueError(f"format {self.format} needs `encoding`")
        if not re.fullmatch(r"[+-]\d\d:\d\d", self.timezone):
            raise ValueError(f"timezone {self.timezone!r} must look like +08:00")
        return self

    def file_name(self, feed: str) -> str:
        return self.file.format(feed=feed)

    @property
    def tzinfo(self) -> dt.timezone:
        sign = -1 if self.timezone[0] == "-" else 1
        h, m = int(self.timezone[1:3]), int(self.timezone[4:6])
        return dt.timezone(sign * dt.timedelta(hours=h, minutes=m))


# --------------------------------------------------------------------------- sources


class Rename(_Model):
    feed: str
    since: dt.date
    header: str
    field: str


class Source(_Model):
    code: str
    name: str
    division_code: str
    # the division's name where `name` is not it (city.yaml: 上海市, its source being the
    # city-level departments); the division registry takes it from here
    division_name: str | None = None
    template: str
    feeds: list[str]
    renames: list[Rename] = Field(default_factory=list)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)  # "table.field" -> {sent: canonical}
    # false: a feed not connected yet (or suspended): no daily DAG, and build_marts does not
    # wait for it; the district stays a division everywhere, and a backfill still reads it
    scheduled: bool = True
    # set by the catalog after cross-checks (lets helpers answer without a catalog)
    template_model: Template | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _check(self) -> Source:
        if not re.fullmatch(r"\d{6}", self.division_code):
            raise ValueError(f"division_code {self.division_code!r} must be 6 digits")
        if len(set(self.feeds)) != len(self.feeds):
            raise ValueError("feeds lists a feed twice")
        return self

    def header_map(self, feed: str, delivery_date: dt.date) -> dict[str, str]:
        """{header as sent: field} in force on `delivery_date`: the template's
        headers, plus each rename whose `since` <= that date as an alias of
        its field. The template's own header keeps working (a source may go
        back to it); a file sending both for one field is rejected (see
        normalise.row.conflicting_headers)."""
        assert self.template_model is not None, "source not attached to a catalog"
        headers = dict(self.template_model.headers.get(feed, {}))
        for r in sorted(self.renames, key=lambda r: r.since):
            if r.feed == feed and r.since <= delivery_date:
                headers[r.header] = r.field
        return headers

    def value_map(self, table: str, field: str) -> dict[str, str]:
        """{value as sent: canonical}: the template's map, then this source's additions."""
        assert self.template_model is not None, "source not attached to a catalog"
        key = f"{table}.{field}"
        return {**self.template_model.values.get(key, {}), **self.values.get(key, {})}


# --------------------------------------------------------------------------- rules & reference


class Rule(_Model):
    action: Literal["quarantine", "flag"]
    reason: str


class Thresholds(_Model):
    late_after_days: int
    min_event_date: dt.date
    max_amount_yuan: Decimal


class District(_Model):
    code: str
    name: str


class _RulesFile(_Model):
    thresholds: Thresholds
    rules: dict[str, Rule]
    known_licence_types: list[str]


class _ReferenceFile(_Model):
    # today's districts are not here: they follow from sources/ (see _division_registry)
    legacy_districts: dict[str, str]
    legacy_district_names: dict[str, str] = Field(default_factory=dict)  # 闸北区 -> 310106


class _CommonFile(_Model):
    lineage: list[Column]
    entity_ref: list[Column]
    district_held: list[Column]
    extras: list[Column]
    parsed_address: list[Column] = Field(default_factory=list)


# Reference lists a column may name in `references` (besides tables).
REFERENCE_LISTS = frozenset({"districts", "licence_types"})

# Rule ids the code evaluates; rules.yaml must define each (and may define more).
CODE_RULES = (
    "required_missing",
    "uscc_unresolved",
    "date_impossible",
    "amount_invalid",
    "value_unknown",
    "uscc_check_exception",
    "entity_not_in_registry",
    "name_differs",
    "unknown_department",
    "unknown_licence_type",
    "unknown_district",
    "legacy_district",
    "late",
    "address_unparsed",
)


class Catalog(_Model):
    root: Path
    tables: dict[str, Table]
    templates: dict[str, Template]
    sources: dict[str, Source]
    rules: dict[str, Rule]
    thresholds: Thresholds
    # division code -> District, one per source (derived from sources/, city first)
    districts: dict[str, District]
    legacy_districts: dict[str, str]
    legacy_district_names: dict[str, str] = Field(default_factory=dict)
    known_licence_types: tuple[str, ...]  # in rules.yaml's order (the generator draws from it)

    @cached_property
    def address_district_names(self) -> dict[str, str]:
        """District name (today's and legacy) -> today's division code: what parse_address reads."""
        from lakehouse.normalise.address import district_lookup  # here: normalise imports this module

        return district_lookup({code: d.name for code, d in self.districts.items()}, self.legacy_district_names)

    @cached_property
    def district_feeds(self) -> tuple[str, ...]:
        """Feeds of the district-held tables (licences, inspections, penalties), in the
        order the sources list them: the records every district delivers."""
        held = {t.feed for t in self.tables.values() if t.district_held}
        seen: dict[str, None] = {}
        for src in self.sources.values():
            seen.update((f, None) for f in src.feeds if f in held)
        return tuple(seen) + tuple(sorted(held - seen.keys()))

    def table_for_feed(self, feed: str) -> Table:
        for t in self.tables.values():
            if t.feed == feed:
                return t
        raise KeyError(f"no table for feed {feed!r}")

    def template_of(self, source: str | Source) -> Template:
        src = self.sources[source] if isinstance(source, str) else source
        return self.templates[src.template]

    def rule_ids(self, action: str) -> list[str]:
        return [k for k, r in self.rules.items() if r.action == action]


# --------------------------------------------------------------------------- loading


def default_schemas_dir() -> Path:
    """The schemas/ folder: LAKEHOUSE_SCHEMAS via lakehouse.config, else the repo's."""
    try:
        from lakehouse.config import settings

        return settings().schemas_dir
    except ImportError:  # config is optional for pure-Python users of the catalog
        return Path(__file__).resolve().parents[2] / "schemas"


def _read_yaml(path: Path, root: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{_rel(path, root)}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{_rel(path, root)}: expected a mapping at top level, got {type(data).__name__}")
    return data


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _parse(model: type[BaseModel], data: Any, path: Path, root: Path, **extra: Any) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise CatalogError(f"{_rel(path, root)}: invalid:\n" + "\n".join(lines)) from None


def _fail(path: Path, root: Path, key: str, msg: str) -> None:
    raise CatalogError(f"{_rel(path, root)}: {key}: {msg}")


def load_catalog(root: Path | None = None) -> Catalog:
    """Load and cross-check schemas/ (default: `default_schemas_dir()`)."""
    root = Path(root) if root is not None else default_schemas_dir()
    if not root.is_dir():
        raise CatalogError(f"schemas folder {root} does not exist (set LAKEHOUSE_SCHEMAS)")
    ref_path, rules_path, common_path = (
        root / "reference.yaml",
        root / "rules.yaml",
        root / "tables/_common.yaml",
    )
    for p in (ref_path, rules_path, common_path):
        if not p.is_file():
            raise CatalogError(f"{_rel(p, root)}: missing")
    ref: _ReferenceFile = _parse(_ReferenceFile, _read_yaml(ref_path, root), ref_path, root)
    rules: _RulesFile = _parse(_RulesFile, _read_yaml(rules_path, root), rules_path, root)
    common: _CommonFile = _parse(_CommonFile, _read_yaml(common_path, root), common_path, root)
    for rid in CODE_RULES:
        if rid not in rules.rules:
            _fail(rules_path, root, "rules", f"rule {rid!r} is evaluated by the pipeline but not defined")

    tables = _load_tables(root, common)
    templates = _load_templates(root, tables)
    sources, source_files = _load_sources(root, templates, tables)
    districts = _division_registry(sources, source_files, root)
    _check_legacy_districts(ref, districts, ref_path, root)
    return Catalog(
        root=root,
        tables=tables,
        templates=templates,
        sources=sources,
        rules=rules.rules,
        thresholds=rules.thresholds,
        districts=districts,
        legacy_districts=ref.legacy_districts,
        legacy_district_names=ref.legacy_district_names,
        known_licence_types=tuple(rules.known_licence_types),
    )


def _load_tables(root: Path, common: _CommonFile) -> dict[str, Table]:
    """tables/*.yaml (not _common.yaml), each with the common columns it asks for."""
    common_cols = {
        "lineage": common.lineage,
        "entity_ref": common.entity_ref,
        "district_held": common.district_held,
        "extras": common.extras,
        "parsed_address": common.parsed_address,
    }
    tables: dict[str, Table] = {}
    table_files: dict[str, Path] = {}
    for path in sorted((root / "tables").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        t: Table = _parse(Table, _read_yaml(path, root), path, root, common=common_cols)
        if t.name != path.stem:
            _fail(path, root, "name", f"{t.name!r} differs from the file name {path.stem!r}")
        tables[t.name] = t
        table_files[t.name] = path
    for name, t in tables.items():
        for i, col in enumerate(t.columns):
            if col.references and col.references not in tables and col.references not in REFERENCE_LISTS:
                _fail(
                    table_files[name],
                    root,
                    f"columns.{i}.references",
                    f"{col.references!r} is neither a table nor one of {sorted(REFERENCE_LISTS)}",
                )
    return tables


def _load_templates(root: Path, tables: dict[str, Table]) -> dict[str, Template]:
    """templates/*.yaml: raw first, then headers_from / values_from resolved, then checked."""
    raw_templates: dict[str, dict[str, Any]] = {}
    template_files: dict[str, Path] = {}
    for path in sorted((root / "templates").glob("*.yaml")):
        data = _read_yaml(path, root)
        code = data.get("template")
        if code != path.stem:
            _fail(path, root, "template", f"{code!r} differs from the file name {path.stem!r}")
        raw_templates[code] = data
        template_files[code] = path
    templates: dict[str, Template] = {}
    for code, data in raw_templates.items():
        path = template_files[code]
        merged = _resolve_borrowed(data, raw_templates, path, root)
        tpl: Template = _parse(Template, merged, path, root)
        _check_template(tpl, tables, path, root)
        templates[code] = tpl
    return templates


def _resolve_borrowed(
    data: dict[str, Any], raw_templates: dict[str, dict[str, Any]], path: Path, root: Path
) -> dict[str, Any]:
    """The template's data with headers_from / values_from replaced by the other template's part."""
    merged = dict(data)
    for attr, part in (("headers_from", "headers"), ("values_from", "values")):
        base = data.get(attr)
        if base is None:
            continue
        if base not in raw_templates:
            _fail(path, root, attr, f"unknown template {base!r} (known: {sorted(raw_templates)})")
        if raw_templates[base].get(attr):
            _fail(path, root, attr, f"template {base!r} itself borrows {part}; chains are not supported")
        if data.get(part):
            _fail(path, root, part, f"set both {part} and {attr}; choose one")
        merged[part] = raw_templates[base].get(part, {})
    return merged


def _check_template(tpl: Template, tables: dict[str, Table], path: Path, root: Path) -> None:
    feeds = {t.feed: t for t in tables.values()}
    for feed, hmap in tpl.headers.items():
        if feed not in feeds:
            _fail(path, root, f"headers.{feed}", f"{feed!r} is not the feed of any table")
        table = feeds[feed]
        for header, field in hmap.items():
            if field not in table.feed_fields:
                _fail(
                    path,
                    root,
                    f"headers.{feed}.{header}",
                    f"field {field!r} is not a column of table {table.name!r}",
                )
        if len(set(hmap.values())) != len(hmap):
            _fail(path, root, f"headers.{feed}", "two headers map to the same field")
    _check_value_maps(tpl.values, tables, path, root, "values")
    for feed in tpl.sheet_names:
        if feed not in feeds:
            _fail(path, root, f"sheet_names.{feed}", f"{feed!r} is not the feed of any table")


def _load_sources(
    root: Path, templates: dict[str, Template], tables: dict[str, Table]
) -> tuple[dict[str, Source], dict[str, Path]]:
    """sources/*.yaml, each checked and attached to its template; also the file of each."""
    sources: dict[str, Source] = {}
    source_files: dict[str, Path] = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        src: Source = _parse(Source, _read_yaml(path, root), path, root)
        if src.code in sources:
            _fail(
                path,
                root,
                "code",
                f"duplicate source code {src.code!r} (also in {_rel(source_files[src.code], root)})",
            )
        if src.code != path.stem:
            _fail(path, root, "code", f"{src.code!r} differs from the file name {path.stem!r}")
        if src.template not in templates:
            _fail(path, root, "template", f"unknown template {src.template!r} (known: {sorted(templates)})")
        tpl = templates[src.template]
        _check_source_feeds(src, tpl, tables, path, root)
        sources[src.code] = src.model_copy(update={"template_model": tpl})
        source_files[src.code] = path
    return sources, source_files


def _check_source_feeds(src: Source, tpl: Template, tables: dict[str, Table], path: Path, root: Path) -> None:
    """The source's feeds, renames and value maps name what its template and the tables hold."""
    feeds = {t.feed: t for t in tables.values()}
    for i, feed in enumerate(src.feeds):
        if feed not in feeds:
            _fail(
                path,
                root,
                f"feeds.{i}",
                f"{feed!r} is not the feed of any table (known: {sorted(feeds)})",
            )
        if feed not in tpl.headers:
            _fail(path, root, f"feeds.{i}", f"template {tpl.template} has no headers for feed {feed!r}")
        if tpl.format == "xlsx" and feed not in tpl.sheet_names:
            _fail(
                path, root, f"feeds.{i}", f"template {tpl.template} has no sheet name for feed {feed!r}"
            )
    for i, r in enumerate(src.renames):
        if r.feed not in src.feeds:
            _fail(path, root, f"renames.{i}.feed", f"{r.feed!r} is not one of this source's feeds")
        if r.field not in feeds[r.feed].feed_fields:
            _fail(
                path,
                root,
                f"renames.{i}.field",
                f"{r.field!r} is not a column of table {feeds[r.feed].name!r}",
            )
    _check_value_maps(src.values, tables, path, root, "values")


def _division_registry(sources: dict[str, Source], source_files: dict[str, Path], root: Path) -> dict[str, District]:
    """{division code: District}: one per source (a new district is one file in sources/)."""
    districts: dict[str, District] = {}
    for code, src in sorted(sources.items(), key=lambda item: item[1].division_code):
        other = districts.get(src.division_code)
        if other is not None:
            _fail(
                source_files[code],
                root,
                "division_code",
                f"{src.division_code!r} is also the division of source {other.code!r} "
                f"({_rel(source_files[other.code], root)}); each division has one source",
            )
        districts[src.division_code] = District(code=src.code, name=src.division_name or src.name)
    return districts


def _check_legacy_districts(ref: _ReferenceFile, districts: dict[str, District], ref_path: Path, root: Path) -> None:
    for code in ref.legacy_districts:
        if code in districts:
            _fail(
                ref_path, root, f"legacy_districts.{code}",
                f"{code!r} is the division_code of source {districts[code].code!r}; an abolished code "
                "cannot be a source's division (give the source today's code)",
            )
    # An old code may map to a division this deployment has no source for: a
    # schemas/ folder may hold a subset of the districts (the daily test does).


def _check_value_maps(
    values: dict[str, dict[str, str]], tables: dict[str, Table], path: Path, root: Path, where: str
) -> None:
    for key, vmap in values.items():
        table_name, _, field = key.partition(".")
        if table_name not in tables or not tables[table_name].has_column(field):
            _fail(path, root, f"{where}.{key}", "must be <table>.<column> of an existing table")
        col = tables[table_name].column(field)
        if not col.values:
            _fail(path, root, f"{where}.{key}", f"column {field!r} has no `values` vocabulary")
        bad = sorted(set(vmap.values()) - set(col.values))
        if bad:
            _fail(path, root, f"{where}.{key}", f"maps to {bad}, not in the vocabulary {col.values}")
