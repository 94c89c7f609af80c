"""The typed models the schemas/ folder is parsed into (load.py parses it)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakehouse.catalog.types import TYPE_NAMES, TYPE_RE


class CatalogError(ValueError):
    """A schemas/ file is wrong. The message names the file and the key."""


class _Model(BaseModel):
    # forbid: an unknown (misspelt) key is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- tables

_TYPE_RE = TYPE_RE   # the one type grammar: catalog/types.py
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
        normalise.headers.conflicting_headers)."""
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
    fix: str | None = None   # what the source should do about it, where the rule's message says

    def explained(self) -> str:
        return f"{self.reason}; {self.fix}" if self.fix else self.reason


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
    def city_code(self) -> str | None:
        """The city's own division code (310000): a province-level division's code
        ends in 0000 (GB/T 2260); every other source is one of its districts.
        None when no source is the city (a catalog of districts only)."""
        return next((code for code in self.districts if code.endswith("0000")), None)

    @cached_property
    def address_district_names(self) -> dict[str, str]:
        """District name (today's and legacy) -> today's division code: what parse_address reads."""
        names = {d.name: code for code, d in self.districts.items() if code != self.city_code}   # no district
        names.update(self.legacy_district_names)
        return names

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
