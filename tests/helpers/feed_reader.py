"""An independent reader of the landing folders for the generator's tests:
csv with the declared encoding, json, openpyxl. It knows only feeds.md and
the YAML in schemas/ (never the generator's code)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@lru_cache(maxsize=None)
def load_yaml(rel: str) -> dict:
    return yaml.safe_load((SCHEMAS / rel).read_text(encoding="utf-8"))


def source_conf(source: str) -> dict:
    return load_yaml(f"sources/{source}.yaml")


@lru_cache(maxsize=None)
def header_map(template: str, feed: str, source: str) -> dict[str, str]:
    """header as sent -> canonical field, including the source's known renames."""
    tpl = load_yaml(f"templates/{template}.yaml")
    headers = tpl.get("headers") or load_yaml("templates/S.yaml")["headers"]
    m = dict(headers[feed])
    for r in source_conf(source).get("renames") or []:
        if r["feed"] == feed:
            m[r["header"]] = r["field"]
    return m


@lru_cache(maxsize=None)
def values_map(template: str) -> dict:
    tpl = load_yaml(f"templates/{template}.yaml")
    return tpl.get("values") or load_yaml("templates/S.yaml")["values"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_rows(path: Path, template: str) -> tuple[list[str], list[dict]]:
    """(headers, rows as {header: raw value}). Raises on a broken file."""
    data = path.read_bytes()
    if template == "S":
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows:
            return [], []
        head = rows[0]
        for r in rows[1:]:
            if len(r) != len(head):
                raise ValueError(f"{path}: {len(r)} fields, header has {len(head)}")
        if not text.endswith("\r\n"):
            raise ValueError(f"{path}: truncated")
        return head, [dict(zip(head, r, strict=False)) for r in rows[1:]]
    if template == "P":
        text = data.decode("gb18030")
        if text and not text.endswith("\r\n"):
            raise ValueError(f"{path}: truncated")
        lines = text.split("\r\n")[:-1] if text else []
        if not lines:
            return [], []
        head = lines[0].split("|")
        out = []
        for line in lines[1:]:
            cells = line.split("|")
            if len(cells) != len(head):
                raise ValueError(f"{path}: bad field count")
            out.append(dict(zip(head, cells, strict=False)))
        return head, out
    if template == "J":
        text = data.decode("utf-8")
        if text and not text.endswith("\n"):
            raise ValueError(f"{path}: truncated")
        out, keys = [], []
        for line in text.splitlines():
            obj = json.loads(line)
            flat = {}
            for k, v in obj.items():
                if isinstance(v, dict):
                    for k2, v2 in v.items():
                        flat[f"{k}.{k2}"] = v2
                else:
                    flat[k] = v
            for k in flat:
                if k not in keys:
                    keys.append(k)
            out.append(flat)
        return keys, out
    if template == "X":
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(data))
        ws = wb.worksheets[0]
        values = list(ws.iter_rows(values_only=True))
        head = [h for h in values[1] if h is not None] if len(values) > 1 else []
        out = []
        for row in values[2:]:
            if all(v is None for v in row):
                continue
            out.append({h: v for h, v in zip(head, row, strict=False)})
        return head, out
    raise ValueError(template)


def canonical(template: str, feed: str, source: str, raw: dict) -> dict:
    """Canonical field -> value: dates as ISO strings, amounts as yuan strings with 2 decimals,
    vocabularies in canonical form (unknown values kept as sent)."""
    hm = header_map(template, feed, source)
    vm = values_map(template)
    out = {}
    for h, v in raw.items():
        f = hm.get(h)
        if f is None:
            continue
        if v in ("", "NULL") and template in ("P",) or v == "" or v is None:
            out[f] = None
            continue
        if f in ("fine_amount", "confiscated_amount"):
            out[f] = to_yuan(template, v)
        elif isinstance(v, datetime):
            out[f] = v.date().isoformat()
        elif isinstance(v, date):
            out[f] = v.isoformat()
        elif f in ("decision_date", "inspection_date", "valid_from", "valid_to", "rectify_by"):
            out[f] = to_date(str(v))
        elif f"{feed}.{f}" in vm:
            out[f] = vm[f"{feed}.{f}"].get(v, v)
        else:
            out[f] = v
    return out


def to_yuan(template: str, v) -> str | None:
    try:
        if template == "P":
            return f"{Decimal(v) * 10000:.2f}"
        if template == "J":
            return f"{Decimal(str(v).replace(',', '')):.2f}"
        if template == "X":
            s = str(v)
            mult = 10000 if s.endswith("万元") else 1
            return f"{Decimal(s.replace('万元', '').replace('元', '').replace(',', '')) * mult:.2f}"
        return f"{Decimal(v):.2f}"
    except Exception:
        return "INVALID"


def to_date(s: str) -> str | None:
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(s, fmt).date().isoformat()
        except ValueError:
            pass
    return "INVALID"


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
