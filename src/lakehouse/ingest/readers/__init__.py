"""One small reader per template format; `read_delivery_file` picks by the
template's `format`. Readers only parse structure: values stay text (see
RawRow); typing and rules are `lakehouse.ingest.normalise`'s job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lakehouse.catalog import Template
from lakehouse.ingest.readers.base import DeliveredFile, FileRejected, RawRow, ReasonCode
from lakehouse.ingest.readers.csv_reader import read_csv
from lakehouse.ingest.readers.delimited_reader import read_delimited
from lakehouse.ingest.readers.jsonl_reader import read_jsonl
from lakehouse.ingest.readers.xlsx_reader import read_xlsx

__all__ = [
    "DeliveredFile",
    "FileRejected",
    "RawRow",
    "ReasonCode",
    "READERS",
    "read_delivery_file",
    "check_row_count",
]

READERS: dict[str, Callable[..., DeliveredFile]] = {
    "csv": read_csv,
    "delimited": read_delimited,
    "jsonl": read_jsonl,
    "xlsx": read_xlsx,
}


def read_delivery_file(path: Path, template: Template, feed: str, data: bytes | None = None) -> DeliveredFile:
    """Parse one delivered file. `data` may be passed when the caller already
    holds the bytes (e.g. it just hashed them). Raises FileRejected."""
    path = Path(path)
    try:
        reader = READERS[template.format]
    except KeyError:
        raise ValueError(f"template {template.template}: no reader for format {template.format!r}") from None
    return reader(path, template, feed, data)


def check_row_count(delivered: DeliveredFile, manifest_rows: int) -> None:
    """Compare with the manifest's row count: 0 rows where rows were announced
    is `header_only`; any other difference is `row_count_mismatch`."""
    got = len(delivered.rows)
    if got == manifest_rows:
        return
    if got == 0:
        raise FileRejected(
            "header_only",
            f"{delivered.path}: the file holds a header but no data rows; the "
            f"manifest announces {manifest_rows}. Ask the source to re-send it.",
            delivered.path,
        )
    raise FileRejected(
        "row_count_mismatch",
        f"{delivered.path}: {got} data rows, the manifest announces "
        f"{manifest_rows}. The file is rejected whole; ask the source to "
        "re-send the day.",
        delivered.path,
    )
