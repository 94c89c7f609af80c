"""Per-column converters: a sent text -> its typed value (dates, timestamps,
amounts in yuan, ratios, enumerations through the source's value map,
districts, licence types, lists, identifiers), with the flags a value adds.
A value that breaks a quarantine rule raises Broken."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lakehouse.catalog import Catalog, Column, Source, Table, Template
from lakehouse.identifiers import normalise_identifier
from lakehouse.ingest.normalise.parsers import (
    list_splitter,
    parse_amount,
    parse_date,
    parse_int,
    parse_list,
    parse_ratio,
    parse_timestamp,
)

# string fields kept exactly as sent (the contract: "keep the name as sent")
_VERBATIM = frozenset({"uscc_as_sent", "entity_name", "name"})


class Broken(Exception):
    """A value breaks a quarantine rule: the rule and what is wrong."""

    def __init__(self, rule_id: str, detail: str):
        self.rule_id, self.detail = rule_id, detail


Converter = Callable[[str, list[str]], Any]  # (raw text, flags to append to) -> value


# Strings are most fields: the row loop handles them inline (no call) when
# the plan's converter is one of these two markers.
def STRIP(t: str, flags: list[str]) -> str | None:
    return t.strip() or None


def VERBATIM(t: str, flags: list[str]) -> str | None:   # names and identifiers: kept as sent
    return t if t.strip() else None


def _string(verbatim: bool) -> Converter:
    return VERBATIM if verbatim else STRIP


def _date(cache: dict[str, dt.date]) -> Converter:
    def conv(t: str, flags: list[str]) -> dt.date:
        d = cache.get(t)
        if d is None:
            try:
                d = parse_date(t)
            except ValueError as exc:
                raise Broken("date_impossible", str(exc)) from None
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
                raise Broken("date_impossible", str(exc)) from None
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
            raise Broken("amount_invalid", str(exc)) from None
        if yuan < 0:
            raise Broken("amount_invalid", f"{t!r} is negative")
        if unit == "yuan":
            if yuan > max_yuan:
                raise Broken(
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
            raise Broken("amount_invalid", str(exc)) from None

    return conv


def _int() -> Converter:
    def conv(t: str, flags: list[str]) -> int:
        if not t.strip():
            return None  # type: ignore[return-value]
        try:
            return parse_int(t)
        except ValueError as exc:
            raise Broken("amount_invalid", str(exc)) from None

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
            raise Broken("value_unknown", f"{t!r} is not a known {table}.{name} (known: {sorted(exact)})")
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


def converter_for(col: Column, table: Table, source: Source, template: Template, catalog: Catalog) -> Converter:
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
