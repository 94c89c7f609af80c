"""Template X: one sheet per feed (named in the template), a merged title row,
the header row (template `header_row`, found by content if the title is
missing or extra), data below.

Cells become the text a person would see in the spreadsheet, because that is
what was delivered: a date cell -> 'YYYY-MM-DD' (with ' HH:MM:SS' when it has
a time), an integral number -> its digits, a number of 12+ digits -> Excel's
General rendering ('9.13101E+17'), so a USCC typed as a number stays visibly
broken and can never pass as a valid code."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

from lakehouse.catalog import Template
from lakehouse.ingest.readers._common import clean_header
from lakehouse.ingest.readers.base import DeliveredFile, FileRejected, RawRow, reject_empty

_HEADER_SCAN_ROWS = 6


def cell_text(value: Any) -> str | None:
    """The cell as the spreadsheet shows it (General format)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, int | float):
        return _general_number(value)
    return str(value)


def _general_number(v: int | float) -> str:
    # Excel's General format shows at most 11 characters: beyond that it
    # switches to 6 significant digits in scientific notation.
    if abs(v) >= 1e11:
        mantissa, exp = f"{v:.5E}".split("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}E{exp[0]}{int(exp[1:]):02d}"
    if isinstance(v, int) or float(v).is_integer():
        return str(int(v))
    return f"{v:.10g}"


def read_xlsx(path: Path, template: Template, feed: str, data: bytes | None = None) -> DeliveredFile:
    from openpyxl import load_workbook  # heavy import: only when an xlsx is read

    data = path.read_bytes() if data is None else data
    if not data:
        reject_empty(data, path)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except zipfile.BadZipFile as exc:
        if data.startswith(b"PK"):
            raise FileRejected(
                "truncated",
                f"{path}: the xlsx (zip) archive is incomplete ({exc}): it was cut "
                "off in transfer. Ask the source to re-send the file.",
                path,
            ) from None
        raise FileRejected(
            "malformed", f"{path}: not an xlsx file ({exc}). Ask the source to re-export it as " "xlsx.", path
        ) from None
    except Exception as exc:  # openpyxl raises many kinds for damaged workbooks
        raise FileRejected(
            "malformed",
            f"{path}: the workbook cannot be opened ({type(exc).__name__}: {exc}). "
            "Ask the source to re-export it.",
            path,
        ) from None
    try:
        sheet_name = template.sheet_names.get(feed, feed)
        if sheet_name not in wb.sheetnames:
            raise FileRejected(
                "malformed",
                f"{path}: no sheet named {sheet_name!r} for feed {feed!r} (sheets: "
                f"{wb.sheetnames}). Ask the source to keep the agreed sheet name.",
                path,
            )
        grid = wb[sheet_name].iter_rows(values_only=True)
        return _read_sheet(path, template, feed, sheet_name, grid)
    finally:
        wb.close()


def _read_sheet(path: Path, template: Template, feed: str, sheet: str, grid: Any) -> DeliveredFile:
    head: list[tuple[Any, ...]] = []
    for row in grid:
        head.append(row)
        if len(head) >= max(_HEADER_SCAN_ROWS, template.header_row):
            break
    if not any(any(c is not None for c in r) for r in head):
        raise FileRejected(
            "empty_file",
            f"{path}: sheet {sheet!r} is empty, not even a header. " "Ask the source to re-send it.",
            path,
        )
    header_idx = _header_index(path, template, feed, sheet, head)
    cells = list(head[header_idx])
    while cells and (cells[-1] is None or (isinstance(cells[-1], str) and not cells[-1].strip())):
        cells.pop()
    header = clean_header([cell_text(c) or "" for c in cells], path, f"sheet {sheet!r} row {header_idx + 1}")
    nulls = frozenset(template.null_values)

    rows: list[RawRow] = []
    for i in range(header_idx + 1, len(head)):
        _take(rows, path, sheet, header, nulls, i + 1, head[i])
    for i, row in enumerate(grid, len(head) + 1):
        _take(rows, path, sheet, header, nulls, i, row)
    return DeliveredFile(path, header, rows)


def _header_index(path: Path, template: Template, feed: str, sheet: str, head: list[tuple[Any, ...]]) -> int:
    """The header row is the configured one unless another early row matches the
    known headers better (a title row added or dropped by the export)."""
    known = set(template.headers.get(feed, {}))

    def score(r: tuple[Any, ...]) -> int:
        return sum(1 for c in r if isinstance(c, str) and c.strip() in known)

    header_idx = template.header_row - 1
    configured = score(head[header_idx]) if header_idx < len(head) else -1
    best = max(range(len(head)), key=lambda i: score(head[i]))
    if score(head[best]) > max(configured, 0):
        header_idx = best
    if header_idx >= len(head):
        raise FileRejected(
            "empty_file",
            f"{path}: sheet {sheet!r} has no header row (expected row "
            f"{template.header_row}). Ask the source to re-send it.",
            path,
        )
    return header_idx


def _take(rows: list[RawRow], path: Path, sheet: str, header: list[str], nulls: frozenset[str], sheet_row: int,
          row: tuple[Any, ...]) -> None:
    """Append one sheet row (not a blank one) to `rows`; a value beyond the header is malformed."""
    width = len(header)
    texts = [cell_text(c) for c in row]
    if all(t is None or not t.strip() for t in texts):
        return  # blank row
    for col in range(width, len(texts)):
        if texts[col] is not None and texts[col].strip():
            raise FileRejected(
                "malformed",
                f"{path}: sheet {sheet!r} row {sheet_row} (data row {len(rows) + 1}) "
                "has a value in column "
                f"{_col_letter(col + 1)}, which has no header. Ask the source to fix its export.",
                path,
            )
    values = {
        h: (None if (t is None or t in nulls) else t)
        for h, t in zip(header, texts + [None] * (width - len(texts)), strict=False)
    }
    rows.append(RawRow(len(rows) + 1, values))


def _col_letter(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s
