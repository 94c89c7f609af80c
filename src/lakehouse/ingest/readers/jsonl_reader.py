"""Template J: JSON Lines, UTF-8 (a BOM tolerated), one object a line.

Nested objects are flattened with dots (`entity.uscc`), as the template's keys
are written. Scalars keep their JSON text (numbers are not re-formatted:
`5000.50` stays '5000.50'; booleans become 'true'/'false'); arrays are kept as
their JSON text ('["警告","罚款"]'); `null` and absent keys are both None.
The header is every flattened key seen, in first-seen order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakehouse.catalog import Template
from lakehouse.ingest.readers.base import DeliveredFile, FileRejected, RawRow, decode_strict, reject_empty

_decoder = json.JSONDecoder(parse_float=str, parse_int=str)


def _flatten(obj: dict[str, Any], out: dict[str, str | None], prefix: str, nulls: frozenset[str]) -> None:
    for key, value in obj.items():
        name = prefix + key
        if isinstance(value, dict):
            _flatten(value, out, name + ".", nulls)
        elif value is None:
            out[name] = None
        elif isinstance(value, str):
            out[name] = None if value in nulls else value
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, list):
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value  # already text: numbers are parsed as str


def read_jsonl(path: Path, template: Template, feed: str, data: bytes | None = None) -> DeliveredFile:
    data = path.read_bytes() if data is None else data
    reject_empty(data, path)
    text = decode_strict(data, template.encoding or "utf-8", path)
    nulls = frozenset(template.null_values)
    # split on \n only: JSON strings may hold a raw U+2028, which splitlines() would cut
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    last = max((i for i, ln in enumerate(lines, 1) if ln.strip()), default=0)
    header: dict[str, None] = {}  # ordered set
    rows: list[RawRow] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = _decoder.decode(line)
        except json.JSONDecodeError as exc:
            if lineno == last:
                raise FileRejected(
                    "truncated",
                    f"{path}: line {lineno} (data row {len(rows) + 1}), the last line, is not complete JSON "
                    f"({exc.msg} at column {exc.colno}): it was cut off. Ask the source to re-send the file.",
                    path,
                ) from None
            raise FileRejected(
                "malformed",
                f"{path}: line {lineno} (data row {len(rows) + 1}) is not valid JSON ({exc.msg} at column "
                f"{exc.colno}). Ask the source to fix its export.",
                path,
            ) from None
        if not isinstance(obj, dict):
            raise FileRejected(
                "malformed",
                f"{path}: line {lineno} (data row {len(rows) + 1}) is a JSON {type(obj).__name__}, "
                "not an object. Ask the source to fix its export.",
                path,
            )
        values: dict[str, str | None] = {}
        _flatten(obj, values, "", nulls)
        for k in values:
            if k not in header:
                header[k] = None
        rows.append(RawRow(len(rows) + 1, values))
    return DeliveredFile(path, list(header), rows)
