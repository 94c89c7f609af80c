"""A delivered file's header against its table: required columns missing,
two headers that map to the same column, columns the map does not know.
Checked once per file, before its rows are read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from lakehouse.catalog import Catalog, Source, Table
from lakehouse.ingest.readers.base import FileRejected


def as_table(table: Table | str, catalog: Catalog | None) -> Table:
    if isinstance(table, Table):
        return table
    if catalog is None:
        raise TypeError("pass a Table, or a catalog with a table name")
    return catalog.tables[table]


def as_source(source: Source | str, catalog: Catalog | None) -> Source:
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
