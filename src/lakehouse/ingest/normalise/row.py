"""One raw row -> one canonical row for a silver table.

`make_row_normaliser` does all per-file work once (header map for the source
and day, a converter per column, value maps, reference sets) and returns a
closure that is cheap per row. Quarantine rules that need no registry are
decided here (`required_missing`, `date_impossible`, `amount_invalid`,
`value_unknown`), and so are the flag rules `unknown_licence_type`,
`unknown_district`, `legacy_district`, `late` and `address_unparsed` (the
address is parsed into its address_* columns here). Registry-dependent rules
(uscc_unresolved, name_differs, ...) are the Spark stage's; it gets the
identifier helpers on each row.

Timestamps come out tz-aware in UTC. Headers the map does not know are kept in
`extra_columns` (zavod: pop what you map, report what is left)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from lakehouse.catalog import Catalog, Source, Table
from lakehouse.ingest.normalise.address import PARTS as ADDRESS_PARTS
from lakehouse.ingest.normalise.address import parse_address
from lakehouse.ingest.normalise.converters import STRIP, VERBATIM, Broken, Converter, converter_for
from lakehouse.ingest.normalise.entity import entity_identifier, name_key
from lakehouse.ingest.normalise.headers import as_source, as_table
from lakehouse.ingest.readers.base import RawRow


class RuleBreak(NamedTuple):
    rule_id: str
    field: str
    detail: str


@dataclass(slots=True)
class NormalisedRow:
    row_number: int
    values: dict[str, Any]  # field -> typed value (None when missing or broken)
    broken: list[RuleBreak] = field(default_factory=list)  # quarantine rules broken
    flags: list[str] = field(default_factory=list)  # flag rule ids, each at most once
    extra_columns: dict[str, str] = field(default_factory=dict)  # unknown headers -> non-null raw value
    event_day: dt.date | None = None  # the event date (local day for timestamps)
    uscc_as_sent: str | None = None
    uscc_normalised: str = ""
    uscc_check_ok: bool = False
    reg_no: str | None = None
    name_key: str | None = None

    @property
    def quarantined(self) -> bool:
        return bool(self.broken)


_NO_IDENT = entity_identifier(None)


# --------------------------------------------------------------------------- the row normaliser


class _FieldPlan(NamedTuple):
    header: str          # as the file sends it
    field: str           # the canonical field it fills
    convert: Converter


@dataclass(frozen=True, slots=True)
class _FilePlan:
    """Everything about a file that is the same for each of its rows."""
    fields: tuple[_FieldPlan, ...]
    extra_headers: tuple[str, ...]       # headers the map does not know: kept in extra_columns
    base: dict[str, Any]                 # every feed field None, plus the holding source's columns
    required: tuple[str, ...]
    event_field: str | None
    event_is_timestamp: bool
    local_tz: dt.tzinfo
    min_event_day: dt.date
    late_after_days: int
    delivery_date: dt.date
    id_header: str | None                # header of the entity identifier (None: the table names none)
    has_identifier: bool
    name_field: str | None               # entity_name or name: its name_key goes on the row
    parse_place: Callable[[dict[str, Any], list[str]], None] | None


def make_row_normaliser(
    table: Table | str, source: Source | str, catalog: Catalog, delivery_date: dt.date, header: Sequence[str]
) -> Callable[[RawRow], NormalisedRow]:
    """Per-file setup, once: returns `normalise(raw) -> NormalisedRow`."""
    plan = _file_plan(as_table(table, catalog), as_source(source, catalog), catalog, delivery_date, header)

    def normalise(raw: RawRow) -> NormalisedRow:
        sent = raw.values
        values = plan.base.copy()
        flags: list[str] = []
        broken = _convert_fields(sent, plan.fields, values, flags)
        for f in plan.required:
            if values[f] is None and not (broken and any(b.field == f for b in broken)):
                broken.append(RuleBreak("required_missing", f, f"{f} is empty"))
        event_day = _check_event_day(plan, values, flags, broken) if plan.event_field is not None else None
        if plan.parse_place is not None:
            plan.parse_place(values, flags)
        ident = entity_identifier(sent.get(plan.id_header) if plan.id_header else None) \
            if plan.has_identifier else _NO_IDENT
        return NormalisedRow(
            raw.row_number, values, broken,
            flags=list(dict.fromkeys(flags)) if len(flags) > 1 else flags,
            extra_columns={h: sent[h] for h in plan.extra_headers if sent.get(h) is not None}
            if plan.extra_headers else {},
            event_day=event_day, uscc_as_sent=ident.uscc_as_sent, uscc_normalised=ident.uscc_normalised,
            uscc_check_ok=ident.uscc_check_ok, reg_no=ident.reg_no,
            name_key=name_key(values[plan.name_field]) if plan.name_field is not None else None,
        )

    return normalise


def _file_plan(table: Table, source: Source, catalog: Catalog, delivery_date: dt.date,
               header: Sequence[str]) -> _FilePlan:
    template = catalog.templates[source.template]
    hmap = source.header_map(table.feed, delivery_date)
    fields = tuple(_FieldPlan(h, hmap[h], converter_for(table.column(hmap[h]), table, source, template, catalog))
                   for h in header if h in hmap)
    base: dict[str, Any] = {f: None for f in table.feed_fields}
    if table.district_held:
        base["source"] = source.code
        base["holding_district"] = source.division_code
    event_field = table.event_date
    entity_field = "uscc_as_sent" if table.entity_ref else ("uscc" if table.has_column("uscc") else None)
    name_field = "entity_name" if table.has_column("entity_name") else ("name" if table.has_column("name") else None)
    return _FilePlan(
        fields=fields,
        extra_headers=tuple(h for h in header if h not in hmap),
        base=base,
        required=tuple(table.required_fields),
        event_field=event_field,
        event_is_timestamp=event_field is not None and table.column(event_field).kind == "timestamp",
        local_tz=template.tzinfo,
        min_event_day=catalog.thresholds.min_event_date,
        late_after_days=catalog.thresholds.late_after_days,
        delivery_date=delivery_date,
        id_header=next((p.header for p in fields if p.field == entity_field), None),
        has_identifier=entity_field is not None,
        name_field=name_field,
        parse_place=_address_parser(catalog) if table.parse_address else None,
    )


def _convert_fields(sent: dict[str, str | None], fields: tuple[_FieldPlan, ...], values: dict[str, Any],
                    flags: list[str]) -> list[RuleBreak]:
    """Each sent value typed into `values`; the quarantine rules it broke."""
    broken: list[RuleBreak] = []
    for h, f, conv in fields:
        t = sent.get(h)
        if t is None:
            continue
        if conv is STRIP:
            values[f] = t.strip() or None
        elif conv is VERBATIM:
            values[f] = t if t.strip() else None
        else:
            try:
                values[f] = conv(t, flags)
            except Broken as b:
                broken.append(RuleBreak(b.rule_id, f, b.detail))
    return broken


def _check_event_day(plan: _FilePlan, values: dict[str, Any], flags: list[str],
                     broken: list[RuleBreak]) -> dt.date | None:
    """The row's event day (local day of a timestamp), or None when it has
    none or it is impossible (before the minimum, after the delivery: the
    event column is then emptied and the row quarantined); `late` flagged."""
    f = plan.event_field
    ev = values[f]
    if ev is None:
        return None
    day = ev.astimezone(plan.local_tz).date() if plan.event_is_timestamp else ev
    if day < plan.min_event_day:
        broken.append(RuleBreak("date_impossible", f, f"{day} is before {plan.min_event_day}"))
    elif day > plan.delivery_date:
        broken.append(RuleBreak("date_impossible", f, f"{day} is after the delivery date {plan.delivery_date}"))
    else:
        if (plan.delivery_date - day).days > plan.late_after_days:
            flags.append("late")
        return day
    values[f] = None
    return None


_ADDRESS_COLUMNS = tuple(f"address_{p}" for p in ADDRESS_PARTS)
_NO_PARTS = (None,) * len(ADDRESS_PARTS)


def _address_parser(catalog: Catalog) -> Callable[[dict[str, Any], list[str]], None]:
    """values["address"] -> the address_* columns; `address_unparsed` when a
    non-empty address does not parse (its parts stay empty). Cached per file:
    registry snapshots repeat the same addresses day after day."""
    names = catalog.address_district_names
    cache: dict[str, tuple[Any, ...] | None] = {}

    def fill(values: dict[str, Any], flags: list[str]) -> None:
        text = values.get("address")
        if text is None:
            parts: tuple[Any, ...] | None = _NO_PARTS
        else:
            parts = cache.get(text, _NO_PARTS)
            if parts is _NO_PARTS:
                parts = parse_address(text, names)
                if len(cache) < 100_000:
                    cache[text] = parts
            if parts is None:
                flags.append("address_unparsed")
                parts = _NO_PARTS
        values.update(zip(_ADDRESS_COLUMNS, parts, strict=False))

    return fill


_CACHE: dict[tuple[Any, ...], tuple[Catalog, Callable[[RawRow], NormalisedRow]]] = {}


def normalise_row(
    raw: RawRow, table: Table | str, source: Source | str, catalog: Catalog, delivery_date: dt.date
) -> NormalisedRow:
    """Convenience for one row (tests, ad-hoc use): the header is the row's keys.
    For files use make_row_normaliser, which does the setup once."""
    t = as_table(table, catalog)
    s = as_source(source, catalog)
    key = (id(catalog), t.name, s.code, delivery_date, tuple(raw.values))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not catalog:
        if len(_CACHE) > 256:
            _CACHE.clear()
        hit = (catalog, make_row_normaliser(t, s, catalog, delivery_date, list(raw.values)))
        _CACHE[key] = hit
    return hit[1](raw)
