"""Staging's Python, without Spark: the driver's plan (what is new, what is
refused unopened), one file's staging as a Spark task runs it, and the
ledger's verdicts (a corrected manifest makes a rejected file eligible)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.config import REPO_ROOT
from lakehouse.generator import generate
from lakehouse.ingest import runlog, staging
from lakehouse.ingest.landing import find_deliveries

AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("staging")
    generate(out=root / "landing", truth=root / "truth", preset="tiny", seed=11, progress=False)
    return root / "landing"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO_ROOT / "schemas")


def _stage_all(landing, catalog, is_done=lambda p: False):
    """The driver's plan, then each planned file staged as a Spark task stages it (stage_file)."""
    deliveries, _ = find_deliveries(landing, sorted(p.name for p in landing.iterdir()))
    planned, refused = staging.plan_files(deliveries, catalog, is_done)
    staged = [staging.stage_file(p, Path(p.uri).read_bytes(), catalog, "run", AT) for p in planned]
    return planned, refused, staged


def test_row_ids_are_unique_across_the_batch_and_lineage_names_the_declared_file(landing, catalog):
    planned, refused, staged = _stage_all(landing, catalog)
    assert not refused and planned
    row_ids = [r["_row_id"] for _, rows in staged for r in rows]
    assert len(row_ids) == len(set(row_ids)) == sum(f.rows_in for f, _ in staged)   # the resolver joins on them
    for p, (f, rows) in zip(planned, staged, strict=True):
        assert (f.file, f.sha256, f.manifest_rows) == (p.file, p.sha256, p.manifest_rows)
        assert all(r["_file"] == p.file and r["_file_sha256"] == p.sha256 for r in rows)


def _copy_day(landing, tmp_path, feed: str, rows_delta: int = 0, corrupt: bool = False):
    """The first delivered file of `feed` alone in a new landing, its manifest
    announcing rows + rows_delta (and, with `corrupt`, its bytes cut short)."""
    deliveries, _ = find_deliveries(landing, sorted(p.name for p in landing.iterdir()))
    first = next(d for d in deliveries if any(f.feed == feed and f.rows for f in d.files))
    entry = next(f for f in first.files if f.feed == feed)
    folder = tmp_path / "landing" / first.source / first.day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(first.uri(entry.name)).read_bytes()
    (folder / entry.name).write_bytes(data[: len(data) // 2] if corrupt else data)
    manifest = {"source": first.source, "date": first.day.isoformat(), "files": [
        {"name": entry.name, "feed": feed, "rows": entry.rows + rows_delta, "sha256": entry.sha256}]}
    (folder / "_MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")
    return tmp_path / "landing"


def _ledger_after(staged) -> runlog.Ledger:
    ledger = runlog.Ledger()
    for f, _ in staged:
        ledger.verdicts.setdefault((f.file, f.sha256), []).append(
            {"manifest_rows": f.manifest_rows, "reason": f"{f.reason}: {f.message}" if f.reason else None,
             "file_size": f.size, "file_modified_ms": f.modified_ms})
    return ledger


def test_a_corrected_manifest_makes_a_rejected_file_eligible_again(landing, catalog, tmp_path):
    wrong = _copy_day(landing, tmp_path / "a", "penalties", rows_delta=1)
    _, _, staged = _stage_all(wrong, catalog)
    [(f, rows)] = staged
    assert (f.status, f.reason, rows) == ("rejected", "row_count_mismatch", [])
    ledger = _ledger_after(staged)
    # the same bytes under the same manifest: nothing to do
    assert _stage_all(wrong, catalog, ledger.is_done)[0] == []
    # the source re-sends the day with a corrected manifest and the same bytes
    fixed = _copy_day(landing, tmp_path / "a", "penalties")
    again = _stage_all(fixed, catalog, ledger.is_done)[2]
    [(f2, rows2)] = again
    assert f2.status == "accepted" and len(rows2) == f2.rows_in == f2.manifest_rows > 0
    assert _stage_all(fixed, catalog, _ledger_after(again).is_done)[0] == []


def test_a_file_cut_in_transfer_is_looked_at_again_when_other_bytes_arrive(landing, catalog, tmp_path):
    cut = _copy_day(landing, tmp_path, "penalties", corrupt=True)
    _, _, staged = _stage_all(cut, catalog)
    [(f, _)] = staged
    assert (f.status, f.reason) == ("rejected", "manifest_sha256_mismatch")
    ledger = _ledger_after(staged)
    assert _stage_all(cut, catalog, ledger.is_done)[0] == []          # the same cut bytes: nothing new
    whole = _copy_day(landing, tmp_path, "penalties")                   # re-sent whole, same manifest
    [(f2, _)] = _stage_all(whole, catalog, ledger.is_done)[2]
    assert f2.status == "accepted"


def test_a_file_the_folder_lacks_is_refused_without_staging(landing, catalog, tmp_path):
    root = _copy_day(landing, tmp_path, "penalties")
    [data_file] = [p for p in root.rglob("*") if p.is_file() and p.name != "_MANIFEST.json"]
    data_file.unlink()
    planned, refused, _ = _stage_all(root, catalog)
    assert planned == [] and [(f.status, f.reason) for f in refused] == [("rejected", "file_missing")]


def test_a_file_sending_both_headers_of_a_renamed_field_is_rejected(tmp_path, catalog):
    """xuhui renamed 罚款金额 -> 罚没款金额 on 2017-03-01: either header is read
    from then on, both at once reject the file with a message naming them."""
    import csv
    import hashlib
    import io

    landing = tmp_path / "landing"
    header = list(catalog.templates["S"].headers["penalties"])
    row = ["XH-9", "", "91310000MA1FLA01XX", "某公司", "D1", "局", "2017-03-02", "", "", "", "罚款", "10", "",
           "有效", "2017-03-02 10:00:00"]
    folder = landing / "xuhui" / "2017-03-02"
    folder.mkdir(parents=True)
    files = []
    for feed, cols in (("penalties", header + ["罚没款金额"]),):
        buf = io.StringIO(newline="")
        csv.writer(buf, lineterminator="\r\n").writerows([cols, row + ["11"]])
        data = buf.getvalue().encode("utf-8")
        (folder / f"{feed}.csv").write_bytes(data)
        files.append({"name": f"{feed}.csv", "feed": feed, "rows": 1, "sha256": hashlib.sha256(data).hexdigest()})
    (folder / "_MANIFEST.json").write_text(json.dumps({"source": "xuhui", "date": "2017-03-02", "template": "S",
                                                       "files": files}, ensure_ascii=False), encoding="utf-8")
    [f] = [f for f, _ in _stage_all(landing, catalog)[2]]
    assert (f.status, f.reason) == ("rejected", "conflicting_headers")
    assert "'罚款金额' and '罚没款金额'" in f.message and "xuhui/2017-03-02/penalties.csv" in f.message


def test_a_quarantined_row_restaged_from_its_raw_values_is_the_row_staging_gave(landing, catalog):
    """Promotion (ingest/promote.py) re-reads a quarantined row from the raw
    values the quarantine keeps: in every template, that gives exactly the
    row staging gave on delivery (values, flags, identifiers, rules)."""
    from lakehouse.ingest import restage

    by_table: dict[str, list[dict]] = {}
    for f, rows in _stage_all(landing, catalog)[2]:
        by_table.setdefault(f.feed, []).extend(rows)
    templates = set()
    for name, staged_rows in sorted(by_table.items()):
        table = catalog.tables[name]
        if not table.entity_ref:
            continue
        rows = staging.to_arrow(staged_rows, staging.arrow_schema(table)).to_pylist()[:40]
        quarantined = [{**{k: r[k] for k in ("_source", "_delivery_date", "_file", "_file_sha256", "_row_number",
                                               "_ingest_run_id", "_ingested_at")}, "raw": r["_raw"]} for r in rows]
        again = restage.restage(catalog, table, quarantined, "promoting-run")
        skip = {"_row_id", "_promoted_by_run_id"}
        got = sorted((tuple((k, repr(v)) for k, v in sorted(r.items()) if k not in skip) for r in again.to_pylist()))
        want = sorted((tuple((k, repr(v)) for k, v in sorted(r.items()) if k not in skip) for r in rows))
        assert got == want, name
        assert {r["_promoted_by_run_id"] for r in again.to_pylist()} == {"promoting-run"}
        templates |= {catalog.sources[r["_source"]].template for r in rows}
    assert templates == {"S", "P", "J", "X"}


def test_an_empty_file_is_decided_by_the_driver_with_the_readers_reason(landing, catalog, tmp_path):
    """Spark's file sources skip a file of 0 bytes: the driver stages its no bytes itself."""
    root = _copy_day(landing, tmp_path, "penalties")
    [data_file] = [p for p in root.rglob("*") if p.is_file() and p.name != "_MANIFEST.json"]
    data_file.write_bytes(b"")
    planned, decided, _ = _stage_all(root, catalog)
    assert planned == [] and [(f.status, f.reason) for f in decided] == [("rejected", "manifest_sha256_mismatch")]
    manifest = data_file.parent / "_MANIFEST.json"          # the manifest describes the empty file
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    doc["files"][0].update(rows=0, sha256=hashlib.sha256(b"").hexdigest())
    manifest.write_text(json.dumps(doc), encoding="utf-8")
    planned, decided, _ = _stage_all(root, catalog)
    assert planned == [] and [(f.status, f.reason) for f in decided] == [("rejected", "empty_file")]
