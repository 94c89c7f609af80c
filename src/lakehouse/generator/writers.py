"""One writer per template (S csv, P pipe-delimited GB18030, J JSON Lines, X xlsx)
and the broken-file faults. A writer turns rows of canonical values (as sent)
into bytes; every formatting rule of feeds.md "Templates" lives here."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from .faults import ExcelNumber, Raw

AMOUNT_FIELDS = ("fine_amount", "confiscated_amount")
FIXED_ZIP_TIME = (2017, 1, 1, 0, 0, 0)


@dataclass
class Rendered:
    data: bytes
    rows: int  # data rows written (the manifest's row count, unless a fault says otherwise)
    sha_override: bytes | None = None


class _Line:
    def __init__(self):
        self.last = ""

    def write(self, s):
        self.last = s


def _vocab_out(values_out, table, field, value):
    m = values_out.get(f"{table}.{field}")
    if m and isinstance(value, str) and not isinstance(value, Raw):
        return m.get(value, value)
    return value


# --------------------------------------------------------------- value text
def fmt_s(field, v, table, values_out):
    if v is None:
        return ""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    if field in AMOUNT_FIELDS:
        return f"{v}.00"
    if field == "sampling_ratio":
        return f"{round(v * 100, 2):g}%"
    if isinstance(v, list):
        return "；".join(v)
    if isinstance(v, float):
        return repr(v)
    return str(_vocab_out(values_out, table, field, v))


def fmt_p(field, v, table, values_out, rng):
    if v is None:
        return "NULL" if rng.random() < 0.5 else ""
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y%m%d%H%M%S")
    if isinstance(v, date):
        return f"{v.year:04d}{v.month:02d}{v.day:02d}"
    if field in AMOUNT_FIELDS:
        return format((Decimal(v) / Decimal(10000)).normalize(), "f")
    if isinstance(v, list):
        return ",".join(v)
    return p_text(str(_vocab_out(values_out, table, field, v)))


def p_text(s: str) -> str:
    """What template P does to free text: line breaks become spaces, '|' becomes '｜'."""
    return s.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("|", "｜")


def fmt_j(field, v, table, values_out):
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    if isinstance(v, date):
        return v.isoformat()
    if field in AMOUNT_FIELDS:
        return f"{v:,}.00"
    return _vocab_out(values_out, table, field, v)


def fmt_x(field, v, table, values_out, rng, text_dates):
    if v is None:
        return None
    if isinstance(v, ExcelNumber):
        return float(v)
    if isinstance(v, Raw):
        return str(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        if v.year < 1900 or rng.random() < text_dates:
            return f"{v.year}年{v.month}月{v.day}日"
        return v
    if field in AMOUNT_FIELDS:
        return f"{v}元"
    if isinstance(v, list):
        return "；".join(v)
    return _vocab_out(values_out, table, field, v)


# ------------------------------------------------------------------ writers
def render_text(
    template: str,
    table: str,
    headers: list[tuple[str, str]],
    rows: list[dict],
    values_out: dict,
    rng: random.Random,
) -> tuple[str, list[str]]:
    """Header line and one string per data row, for templates S, P and J."""
    if template == "S":
        buf = _Line()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([h for h, _ in headers])
        head = buf.last
        out = []
        for row in rows:
            w.writerow([fmt_s(f, row.get(f), table, values_out) for _, f in headers])
            out.append(buf.last)
        return head, out
    if template == "P":
        head = "|".join(h for h, _ in headers) + "\r\n"
        return head, [
            "|".join(fmt_p(f, row.get(f), table, values_out, rng) for _, f in headers) + "\r\n"
            for row in rows
        ]
    if template == "J":
        out = []
        for row in rows:
            obj: dict = {}
            for h, f in headers:
                v = row.get(f)
                if v is None:
                    if rng.random() < 0.5:
                        continue
                else:
                    v = fmt_j(f, v, table, values_out)
                if "." in h:
                    outer, inner = h.split(".", 1)
                    obj.setdefault(outer, {})[inner] = v
                else:
                    obj[h] = v
            out.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        return "", out
    raise ValueError(template)


def render_xlsx(
    title: str,
    sheet: str,
    table: str,
    headers: list[tuple[str, str]],
    rows: list[dict],
    values_out: dict,
    rng: random.Random,
    text_dates: float,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.cell(row=1, column=1, value=title)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(1, len(headers)))
    for c, (h, _) in enumerate(headers, 1):
        ws.cell(row=2, column=c, value=h)
    for r, row in enumerate(rows, 3):
        for c, (_, f) in enumerate(headers, 1):
            v = fmt_x(f, row.get(f), table, values_out, rng, text_dates)
            if v is None:
                continue
            cell = ws.cell(row=r, column=c, value=v)
            if isinstance(v, date):
                cell.number_format = "yyyy-mm-dd"
            elif isinstance(v, float):
                cell.number_format = "0.00000E+00"
    for c in range(1, len(headers) + 1):
        ws.column_dimensions[get_column_letter(c)].width = 18
    fixed = datetime(2017, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "export"
    raw = io.BytesIO()
    wb.save(raw)
    return deterministic_zip(raw.getvalue())


def deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps (and a fixed modified date in docProps/core.xml)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>",
                    rb"<dcterms:modified\1>2017-01-01T00:00:00Z</dcterms:modified>",
                    body,
                )
                body = re.sub(
                    rb"<dcterms:created([^>]*)>[^<]*</dcterms:created>",
                    rb"<dcterms:created\1>2017-01-01T00:00:00Z</dcterms:created>",
                    body,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    return out.getvalue()


# -------------------------------------------------------------- file faults
INVALID_BYTES = {"utf-8": b"\xff\xfe\xc3(", "gb18030": b"\xff\x80"}


def assemble(
    template: str, encoding: str, head: str, rows: list[str], fault: str | None, bom: bool, rng: random.Random
) -> Rendered:
    """Bytes of a text file, broken as `fault` says."""
    n = len(rows)
    prefix = "\ufeff" if bom else ""
    if fault == "empty_file":
        return Rendered(b"", n)
    if fault == "header_only":
        return Rendered((prefix + head).encode(encoding), n)
    if fault == "truncated" and rows:
        last = rows[-1].rstrip("\r\n")
        cut = last[: max(1, len(last) // 2)]
        return Rendered((prefix + head + "".join(rows[:-1]) + cut).encode(encoding), n)
    data = (prefix + head + "".join(rows)).encode(encoding)
    if fault == "bad_encoding" and rows:
        k = n // 2
        before = (prefix + head + "".join(rows[:k])).encode(encoding)
        line = rows[k].encode(encoding)
        cut = len(line) // 2
        while cut > 0 and line[cut - 1 : cut] in (b",", b"|", b'"', b"{", b":"):
            cut -= 1
        bad = line[:cut] + INVALID_BYTES["gb18030" if encoding == "gb18030" else "utf-8"] + line[cut:]
        return Rendered(before + bad + "".join(rows[k + 1 :]).encode(encoding), n)
    if fault == "manifest_rows_mismatch":
        return Rendered(data, n + rng.choice((1, 2, -1)) if n > 1 else n + 1)
    if fault == "manifest_sha256_mismatch":
        return Rendered(data, n, sha_override=data + b"\n")
    return Rendered(data, n)


def break_xlsx(
    data: bytes, n: int, fault: str | None, rng: random.Random, header_only_bytes: bytes | None
) -> Rendered:
    if fault == "empty_file":
        return Rendered(b"", n)
    if fault == "header_only" and header_only_bytes is not None:
        return Rendered(header_only_bytes, n)
    if fault == "truncated":
        return Rendered(data[: int(len(data) * 0.6)], n)
    if fault == "manifest_rows_mismatch":
        return Rendered(data, n + 1)
    if fault == "manifest_sha256_mismatch":
        return Rendered(data, n, sha_override=data + b"\n")
    return Rendered(data, n)
