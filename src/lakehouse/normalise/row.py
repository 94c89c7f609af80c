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
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, NamedTuple

from lakehouse.catalog import Catalog, Column, Source, Table, Template
from lakehouse.identifiers import normalise_identifier
from lakehouse.normalise.address import PARTS as ADDRESS_PARTS
from lakehouse.normalise.address import parse_address
from lakehouse.normalise.entity import entity_identifier, name_key
from lakehouse.normalise.parsers import (
    list_splitter,
    parse_amount,
    parse_date,
    parse_int,
    parse_list,
    parse_ratio,
    parse_timestamp,
)
from lakehouse.readers.base import FileRejected, RawRow

# string fields kept exactly as sent (the contract: "keep the name as sent")
_VERBATIM = frozenset({"uscc_as_sent", "entity_name", "name"})


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


class _Broken(Exception):
    def __init__(self, rule_id: str, detail: str):
        self.rule_id, self.detail = rule_id, detail


Converter = Callable[[str, list[str]], Any]  # (raw text, flags to append to) -> value


# --------------------------------------------------------------------------- converters

# Strings are most fields: the row loop handles them inline (no call) when
# the plan's converter is one of these two markers.
def _STRIP(t: str, flags: list[str]) -> str | None:
    return t.strip() or None


def _VERBATIM_STR(t: str, flags: list[str]) -> str | None:   # names and identifiers: kept as sent
    return t if t.strip() else None


def _string(verbatim: bool) -> Converter:
    return _VERBATIM_STR if verbatim else _STRIP


def _date(cache: dict[str, dt.date]) -> Converter:
    def conv(t: str, flags: list[str]) -> dt.date:
        d = cache.get(t)
        if d is None:
            try:
                d = parse_date(t)
            except ValueError as exc:
                raise _Broken("date_impossible", str(exc)) from None
            cache[t] = d
        return d

    return conv


def _timestamp(tz: dt.tzinfo, cache: dict[str, dt.datetime]) -> Converter:
    def conv(t: str, flags: list[str]) -> dt.datetime:
        v = cache.get(t)
        if v is None:
            try:
                v = parse_timestamp(t, tz)
            except ValueError as exc:
                raise _Broken("date_impossible", str(exc)) from None
            if len(cache) > 100_000:  # exports repeat update times; bound the memory anyway
                cache.clear()
            cache[t] = v
        return v

    return conv


def _amount(col: Column, template: Template, max_yuan: Decimal) -> Converter:
    unit = col.unit
    quantum = Decimal(1).scaleb(-(col.scale or 0))
    default_unit = template.amount_unit if unit == "yuan" else "10k_yuan"
    tenk = Decimal(10000)

    cache: dict[str, Decimal] = {}  # amounts repeat a lot (fixed fines); Decimal is immutable

    def conv(t: str, flags: list[str]) -> Decimal:
        hit = cache.get(t)
        if hit is not None:
            return hit
        if not t.strip():
            return None  # type: ignore[return-value]
        try:
            yuan = parse_amount(t, default_unit)
        except ValueError as exc:
            raise _Broken("amount_invalid", str(exc)) from None
        if yuan < 0:
            raise _Broken("amount_invalid", f"{t!r} is negative")
        if unit == "yuan":
            if yuan > max_yuan:
                raise _Broken(
                    "amount_invalid", f"{t!r} is ¥{yuan:,}, above the absurd threshold ¥{max_yuan:,}"
                )
            value = yuan.quantize(quantum, ROUND_HALF_UP)
        else:
            value = (yuan / tenk).quantize(quantum, ROUND_HALF_UP)
        if len(cache) < 50_000:
            cache[t] = value
        return value

    return conv


def _ratio(col: Column) -> Converter:
    quantum = Decimal(1).scaleb(-(col.scale or 0))

    def conv(t: str, flags: list[str]) -> Decimal:
        if not t.strip():
            return None  # type: ignore[return-value]
        try:
            return parse_ratio(t).quantize(quantum, ROUND_HALF_UP)
        except ValueError as exc:
            raise _Broken("amount_invalid", str(exc)) from None

    return conv


def _int() -> Converter:
    def conv(t: str, flags: list[str]) -> int:
        if not t.strip():
            return None  # type: ignore[return-value]
        try:
            return parse_int(t)
        except ValueError as exc:
            raise _Broken("amount_invalid", str(exc)) from None

    return conv


def _list(separator: str | None) -> Converter:
    splitter = list_splitter(separator)
    cache: dict[str, tuple[str, ...]] = {}  # e.g. penalty kinds: few distinct combinations

    def conv(t: str, flags: list[str]) -> list[str] | None:
        items = cache.get(t)
        if items is None:
            items = tuple(parse_list(t, splitter))
            if len(cache) < 50_000:
                cache[t] = items
        return list(items) or None  # a fresh list per row: callers may mutate it

    return conv


def _norm_key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def _enum(vocabulary: list[str], value_map: dict[str, str], table: str, name: str) -> Converter:
    # exact spellings first, then a tolerant key (NFKC, no blanks, upper case)
    exact = {v: v for v in vocabulary} | value_map
    tolerant = {_norm_key(k): v for k, v in exact.items()}

    def conv(t: str, flags: list[str]) -> str:
        v = exact.get(t)
        if v is not None:
            return v
        if not t.strip():
            return None  # type: ignore[return-value]
        v = tolerant.get(_norm_key(t))
        if v is None:
            raise _Broken("value_unknown", f"{t!r} is not a known {table}.{name} (known: {sorted(exact)})")
        return v

    return conv


def _district(current: frozenset[str], legacy: dict[str, str]) -> Converter:
    def conv(t: str, flags: list[str]) -> str:
        code = t.strip()
        if code in current:
            return code
        if not code:
            return None  # type: ignore[return-value]
        code = normalise_identifier(code)
        if code in current:
            return code
        if code in legacy:
            flags.append("legacy_district")
            return legacy[code]
        flags.append("unknown_district")
        return code

    return conv


def _licence_type(known: frozenset[str]) -> Converter:
    def conv(t: str, flags: list[str]) -> str:
        v = t.strip()
        if not v:
            return None  # type: ignore[return-value]
        if v not in known:
            flags.append("unknown_licence_type")
        return v

    return conv


def _identifier() -> Converter:
    return lambda t, flags: normalise_identifier(t) or None


def _converter(col: Column, table: Table, source: Source, template: Template, catalog: Catalog) -> Converter:
    if col.values:
        return _enum(col.values, source.value_map(table.name, col.name), table.name, col.name)
    if col.references == "districts":
        return _district(frozenset(catalog.districts), dict(catalog.legacy_districts))
    if col.references == "licence_types":
        return _licence_type(frozenset(catalog.known_licence_types))
    kind = col.kind
    if kind == "date":
        return _date({})
    if kind == "timestamp":
        return _timestamp(template.tzinfo, {})
    if kind == "decimal":
        if col.unit == "fraction":
            return _ratio(col)
        return _amount(col, template, catalog.thresholds.max_amount_yuan)
    if kind == "int":
        return _int()
    if kind == "array":
        return _list(template.list_separator)
    if not table.entity_ref and col.name in ("uscc", "reg_no"):  # the registry's own identifiers
        return _identifier()
    return _string(col.name in _VERBATIM)


# --------------------------------------------------------------------------- header checks


def _as_table(table: Table | str, catalog: Catalog | None) -> Table:
    if isinstance(table, Table):
        return table
    if catalog is None:
        raise TypeError("pass a Table, or a catalog with a table name")
    return catalog.tables[table]


def _as_source(source: Source | str, catalog: Catalog | None) -> Source:
    if isinstance(source, Source):
        return source
    if catalog is None:
        raise TypeError("pass a Source, or a catalog with a source code")
    return catalog.sources[source]


def missing_required_columns(
    header: Sequence[str], table: Table, source: Source, delivery_date: dt.date
) -> list[str]:
    """Headers (as the source should send them on that day) of required fields
    that the file's header lacks. Non-empty -> reject the file."""
    hmap = source.header_map(table.feed, delivery_date)
    present = {hmap[h] for h in header if h in hmap}
    expected = {f: h for h, f in hmap.items()}
    return [expected.get(f, f) for f in table.required_columns if f not in present]


def reject_missing_required_columns(
    path: Path | str, header: Sequence[str], table: Table, source: Source, delivery_date: dt.date
) -> None:
    """Raise FileRejected(`missing_required_column`) naming the columns and the file."""
    missing = missing_required_columns(header, table, source, delivery_date)
    if missing:
        raise FileRejected(
            "missing_required_column",
            f"{path}: the header lacks required column(s) {missing} of {table.name} (source {source.code}, "
            f"{delivery_date}); header sent: {list(header)}. If the source renamed a column, add a `renames` "
            f"entry to schemas/sources/{source.code}.yaml; otherwise ask the source to re-send.",
            path,
        )


def conflicting_headers(
    header: Sequence[str], table: Table, source: Source, delivery_date: dt.date
) -> dict[str, list[str]]:
    """{field: [headers]} for fields the file sends under more than one header
    (a rename's new header and the template's old one, on or after `since`)."""
    hmap = source.header_map(table.feed, delivery_date)
    by_field: dict[str, list[str]] = {}
    for h in header:
        if h in hmap:
            by_field.setdefault(hmap[h], []).append(h)
    return {f: hs for f, hs in by_field.items() if len(hs) > 1}


def reject_conflicting_headers(
    path: Path | str, header: Sequence[str], table: Table, source: Source, delivery_date: dt.date
) -> None:
    """Raise FileRejected(`conflicting_headers`) when one field is sent under two headers:
    which value is meant cannot be told, so the file is not guessed at."""
    conflicts = conflicting_headers(header, table, source, delivery_date)
    if conflicts:
        which = "; ".join(f"{f} as {' and '.join(repr(h) for h in hs)}" for f, hs in sorted(conflicts.items()))
        raise FileRejected(
            "conflicting_headers",
            f"{path}: the header sends one field under two names ({which}) of {table.name} (source "
            f"{source.code}, {delivery_date}): the template's header and a rename from "
            f"schemas/sources/{source.code}.yaml are aliases, send only one; ask the source to re-send.",
            path,
        )


def unknown_columns(header: Sequence[str], table: Table, source: Source, delivery_date: dt.date) -> list[str]:
    """Headers sent that the map does not know on that day (schema drift to report)."""
    hmap = source.header_map(table.feed, delivery_date)
    return [h for h in header if h not in hmap]


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
    plan = _file_plan(_as_table(table, catalog), _as_source(source, catalog), catalog, delivery_date, header)

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
    fields = tuple(_FieldPlan(h, hmap[h], _converter(table.column(hmap[h]), table, source, template, catalog))
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
        if conv is _STRIP:
            values[f] = t.strip() or None
        elif conv is _VERBATIM_STR:
            values[f] = t if t.strip() else None
        else:
            try:
                values[f] = conv(t, flags)
            except _Broken as b:
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
    t = _as_table(table, catalog)
    s = _as_source(source, catalog)
    key = (id(catalog), t.name, s.code, delivery_date, tuple(raw.values))
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not catalog:
        if len(_CACHE) > 256:
            _CACHE.clear()
        hit = (catalog, make_row_normaliser(t, s, catalog, delivery_date, list(raw.values)))
        _CACHE[key] = hit
    return hit[1](raw)
