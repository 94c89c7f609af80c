"""The `city` preset reproduces the 2017 figures of feeds.md ("Numbers to be
faithful to"), counted from the files with independent readers.

One full-year run of all 17 sources (answer file reduced to summary.json and
files.jsonl to keep it to a few minutes on two cores)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import pytest
from helpers.feed_reader import load_yaml

from lakehouse.generator import generate
from lakehouse.identifiers import normalise_identifier

pytestmark = pytest.mark.slow

UNTIL = "2017-04-14"


def _csv_rows(path: Path, encoding="utf-8-sig"):
    """Rows of a possibly broken S file as dicts; rows that do not fit the header are skipped."""
    text = path.read_bytes().decode(encoding, errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return
    head = rows[0]
    for r in rows[1:]:
        if len(r) == len(head) and not any("\ufffd" in c for c in r):
            yield dict(zip(head, r, strict=False))


def _jsonl_rows(path: Path):
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        if "\ufffd" in line:
            continue
        try:
            yield json.loads(line)
        except ValueError:
            continue


def _p_rows(path: Path):
    text = path.read_bytes().decode("gb18030", errors="replace")
    lines = text.split("\r\n")
    if len(lines) < 2:
        return
    head = lines[0].split("|")
    for line in lines[1:]:
        cells = line.split("|")
        if len(cells) == len(head) and "\ufffd" not in line:
            yield dict(zip(head, cells, strict=False))


def _x_rows(path: Path):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    except Exception:
        return
    rows = wb.worksheets[0].iter_rows(values_only=True)
    next(rows, None)
    head = next(rows, None)
    for r in rows:
        if any(v is not None for v in r):
            yield dict(zip(head, r, strict=False))


RECORD_ID = {"S": "记录编号", "X": "记录编号", "P": "JLBH", "J": "recordId"}
READERS = {"S": _csv_rows, "X": _x_rows, "P": _p_rows, "J": _jsonl_rows}


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    base = tmp_path_factory.mktemp("city")
    generate(
        out=base / "landing", truth=base / "truth", preset="city", seed=7, progress=True, truth_rows=False
    )
    return base / "landing"


def test_year_figures(year):
    records = set()
    for source_dir in sorted(year.iterdir()):
        template = load_yaml(f"sources/{source_dir.name}.yaml")["template"]
        for feed in ("licences", "inspections", "penalties"):
            for path in sorted(source_dir.glob(f"*/{feed}.*")):
                for row in READERS[template](path):
                    rid = row.get(RECORD_ID[template])
                    if rid:
                        records.add((source_dir.name, rid))
    assert 1_070_000 * 0.95 <= len(records) <= 1_070_000 * 1.05, len(records)
    plans, draws, pushes = set(), set(), set()
    for path in sorted(year.glob("city/*/random_plans.csv")):
        plans.update(r["计划编号"] for r in _csv_rows(path))
    for path in sorted(year.glob("city/*/random_draws.csv")):
        draws.update((r["计划编号"], normalise_identifier(r["统一社会信用代码"])) for r in _csv_rows(path))
    for path in sorted(year.glob("city/*/dual_notifications.csv")):
        pushes.update(r["告知编号"] for r in _csv_rows(path))
    assert len(plans) == 42
    assert 55_000 * 0.95 <= len(draws) <= 55_000 * 1.05, len(draws)
    assert 50_000 * 0.95 <= len(pushes) <= 50_000 * 1.05, len(pushes)


def test_jingan_until_14_april(year):
    ids = set()
    for path in sorted(year.glob("jingan/*/*.jsonl")):
        if path.parent.name <= UNTIL:
            ids.update(r["recordId"] for r in _jsonl_rows(path) if r.get("recordId"))
    assert len(ids) == 13_299
    departments = {}
    for path in sorted(year.glob("city/*/departments.csv")):
        if path.parent.name <= UNTIL:
            for r in _csv_rows(path):
                departments[r["部门代码"]] = r
    jingan = {c for c, r in departments.items() if r["区县代码"] in ("310106", "310108")}
    pushed, issued = {}, set()
    for path in sorted(year.glob("city/*/dual_notifications.csv")):
        if path.parent.name <= UNTIL:
            for r in _csv_rows(path):
                if r["推送部门代码"] in jingan:
                    pushed[r["告知编号"]] = r["推送部门代码"]
                    if r["反馈状态"] == "已办证":
                        issued.add(r["告知编号"])
    assert len(pushed) == 1_877
    assert len(set(pushed.values())) == 10
    assert len(issued) == 1_316
    # the joint restaurant inspection: market regulator leading, environment and work-safety bureaus
    joint = defaultdict(lambda: {"rows": set(), "entities": set(), "rectify": set(), "items": set()})
    for path in sorted(year.glob("jingan/*/inspections.jsonl")):
        if path.parent.name <= UNTIL:
            for r in _jsonl_rows(path):
                if r.get("kind") == "JOINT":
                    j = joint[(r["joint"]["id"], r["joint"]["lead"], tuple(r["joint"]["participants"]))]
                    j["rows"].add((r["entity"]["uscc"], r["department"]["code"]))
                    j["entities"].add(r["entity"]["uscc"])
                    j["items"].add(r["itemsChecked"])
                    if r["result"] == "RECTIFY_ORDERED":
                        j["rectify"].add(r["entity"]["uscc"])
    found = []
    for (_jid, lead, parts), j in joint.items():
        names = sorted(departments[p]["部门名称"] for p in parts)
        if (
            departments[lead]["部门名称"].endswith("静安区市场监督管理局")
            and len(parts) == 2
            and names[0].endswith("安全生产监督管理局")
            and names[1].endswith("环境保护局")
        ):
            found.append((len(j["entities"]), j["items"], len(j["rectify"]), len(j["rows"])))
    assert (66, {17}, 8, 66 * 3) in found, found
