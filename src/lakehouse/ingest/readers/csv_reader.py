"""Template S: RFC 4180 CSV, UTF-8 with or without a BOM, CRLF or LF.

Fields may hold commas, doubled quotes and line breaks inside quotes. A file
that ends inside a quoted field, or whose last line is short and has no line
end, was cut off in transfer -> `truncated`. A short or long row anywhere else
-> `malformed`. Empty lines are skipped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lakehouse.catalog import Template
from lakehouse.ingest.readers._common import clean_header, make_row
from lakehouse.ingest.readers.base import DeliveredFile, FileRejected, RawRow, decode_strict, reject_empty

# crawled home-page text can exceed csv's default 128 KiB field limit
csv.field_size_limit(64 * 1024 * 1024)


def read_csv(path: Path, template: Template, feed: str, data: bytes | None = None) -> DeliveredFile:
    data = path.read_bytes() if data is None else data
    reject_empty(data, path)
    text = decode_strict(data, template.encoding or "utf-8", path)
    ends_with_newline = text.endswith(("\n", "\r"))
    nulls = frozenset(template.null_values)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[RawRow] = []
    try:
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if header is None:
                header = clean_header(cells, path, f"line {reader.line_num}")
                continue
            if len(cells) != len(header):
                line = reader.line_num
                at_eof = _at_eof(reader)
                if at_eof and not ends_with_newline and len(cells) < len(header):
                    raise FileRejected(
                        "truncated",
                        f"{path}: line {line} (data row {len(rows) + 1}) has {len(cells)} of "
                        f"{len(header)} fields and the file ends without a line break: the last line was cut "
                        "off. Ask the source to re-send the file.",
                        path,
                    )
                raise FileRejected(
                    "malformed",
                    f"{path}: line {line} (data row {len(rows) + 1}) has {len(cells)} fields, "
                    f"the header has {len(header)}. Check quoting in that row; "
                    "ask the source to fix its export.",
                    path,
                )
            rows.append(RawRow(len(rows) + 1, make_row(header, cells, nulls)))
    except csv.Error as exc:
        line = reader.line_num
        if "unexpected end of data" in str(exc):
            raise FileRejected(
                "truncated",
                f"{path}: the file ends inside a quoted field opened at or before line {line} "
                f"(data row {len(rows) + 1}): the last row was cut off. Ask the source to re-send the file.",
                path,
            ) from None
        raise FileRejected(
            "malformed",
            f"{path}: line {line}: CSV syntax error ({exc}). " "Ask the source to fix its quoting.",
            path,
        ) from None
    if header is None:
        raise FileRejected("empty_file", f"{path}: no header line found. Ask the source to re-send it.", path)
    return DeliveredFile(path, header, rows)


def _at_eof(reader) -> bool:  # noqa: ANN001 - csv's reader type is private
    """True when nothing but blank lines follows (consumes the reader)."""
    try:
        for cells in reader:
            if cells and any(c.strip() for c in cells):
                return False
    except csv.Error:
        return False
    return True
