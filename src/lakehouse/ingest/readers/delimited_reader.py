"""Template P: `|`-separated text in GB18030 (or the template's encoding),
no quoting, CRLF line ends (LF accepted), `NULL` or empty for missing.

No quoting means a line is a row: a row with the wrong number of fields is
`malformed`, except a short last line without a line end, which was cut off
(`truncated`). Empty lines are skipped."""

from __future__ import annotations

from pathlib import Path

from lakehouse.catalog import Template
from lakehouse.ingest.readers._common import clean_header, make_row
from lakehouse.ingest.readers.base import DeliveredFile, FileRejected, RawRow, decode_strict, reject_empty


def read_delimited(path: Path, template: Template, feed: str, data: bytes | None = None) -> DeliveredFile:
    data = path.read_bytes() if data is None else data
    reject_empty(data, path)
    text = decode_strict(data, template.encoding or "gb18030", path)
    sep = template.delimiter or "|"
    nulls = frozenset(template.null_values)
    lines = text.split("\n")
    ends_with_newline = lines[-1] == ""
    if ends_with_newline:
        lines.pop()
    header: list[str] | None = None
    rows: list[RawRow] = []
    last = len(lines)
    for lineno, line in enumerate(lines, 1):
        if line.endswith("\r"):
            line = line[:-1]
        if not line.strip():
            continue
        cells = line.split(sep)
        if header is None:
            header = clean_header(cells, path, f"line {lineno}")
            width = len(header)
            continue
        if len(cells) != width:
            if lineno == last and not ends_with_newline and len(cells) < width:
                raise FileRejected(
                    "truncated",
                    f"{path}: line {lineno} (data row {len(rows) + 1}) has {len(cells)} of {width} fields "
                    "and the file ends without a line break: the last line was cut off. "
                    "Ask the source to re-send the file.",
                    path,
                )
            raise FileRejected(
                "malformed",
                f"{path}: line {lineno} (data row {len(rows) + 1}) has {len(cells)} fields, the header has "
                f"{width}. A stray '{sep}' in a value? Ask the source to fix its export.",
                path,
            )
        rows.append(RawRow(len(rows) + 1, make_row(header, cells, nulls)))
    if header is None:
        raise FileRejected("empty_file", f"{path}: no header line found. Ask the source to re-send it.", path)
    return DeliveredFile(path, header, rows)
