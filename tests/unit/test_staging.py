"""Staging (Python, no Spark): the process pool gives exactly what one
process gives, and exact re-sends of registry rows are dropped as duplicates
before Spark while records that Spark resolves are never dropped."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from lakehouse.catalog import load_catalog
from lakehouse.config import REPO_ROOT
from lakehouse.generator import generate
from lakehouse.ingest import staging
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


def _rows(batch: staging.StagedBatch, layer: str) -> dict[str, list[dict]]:
    tables = getattr(batch, layer)
    return {name: pa.concat_tables(parts).to_pylist() for name, parts in sorted(tables.items())}


def test_the_process_pool_stages_exactly_what_one_process_does(landing, catalog, monkeypatch):
    deliveries, _ = find_deliveries(landing, sorted(catalog.sources))
    one = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=1)
    monkeypatch.setattr(staging, "PARALLEL_FROM_ROWS", 0)
    pooled = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=2)

    assert [(f.file, f.status, f.reason, f.rows_in) for f in pooled.files] == \
           [(f.file, f.status, f.reason, f.rows_in) for f in one.files]
    assert pooled.resent_duplicates == one.resent_duplicates
    assert _rows(pooled, "silver") == _rows(one, "silver")
    assert _rows(pooled, "bronze") == _rows(one, "bronze")
    row_ids = [r["_row_id"] for rows in _rows(pooled, "silver").values() for r in rows]
    assert len(row_ids) == len(set(row_ids))          # unique across files: the resolver joins on them


def _resend(landing, tmp_path, feed: str):
    """A landing holding the first delivered file of `feed` twice: on its own
    day and, byte for byte, on the next day."""
    deliveries, _ = find_deliveries(landing, sorted(p.name for p in landing.iterdir()))
    first = next(d for d in deliveries if any(f.feed == feed and f.rows for f in d.files))
    source = first.source
    entry = next(f for f in first.files if f.feed == feed)
    for day in (first.day, first.day + timedelta(days=1)):
        folder = tmp_path / "landing" / source / day.isoformat()
        folder.mkdir(parents=True)
        shutil.copy(first.folder / entry.name, folder / entry.name)
        manifest = {"source": source, "date": day.isoformat(), "files": [
            {"name": entry.name, "feed": feed, "rows": entry.rows, "sha256": entry.sha256}]}
        (folder / "_MANIFEST.json").write_text(json.dumps(manifest), encoding="utf-8")
    return find_deliveries(tmp_path / "landing", [source])[0], entry


def test_an_unchanged_registry_resend_is_counted_as_duplicates_and_kept_from_spark(landing, catalog, tmp_path):
    deliveries, entry = _resend(landing, tmp_path, "entities")
    batch = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=1)

    first, second = [f for f in batch.files if f.feed == "entities"]
    assert first.rows_in == second.rows_in == entry.rows > 0
    good_rows = sum(1 for r in pa.concat_tables(batch.silver["entities"]).to_pylist()
                    if r["_file"] == first.file and not r["_rules"])
    assert batch.resent_duplicates == {second.file_id: good_rows}
    silver_files = [r["_file"] for r in pa.concat_tables(batch.silver["entities"]).to_pylist()]
    assert silver_files.count(second.file) == entry.rows - good_rows   # only its quarantined rows go on
    assert sum(t.num_rows for t in batch.bronze["entities"]) == 2 * entry.rows   # bronze keeps every row


def test_records_resolved_against_the_registry_are_never_dropped(landing, catalog, tmp_path):
    deliveries, entry = _resend(landing, tmp_path, "penalties")
    batch = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=1)

    assert batch.resent_duplicates == {}
    assert sum(t.num_rows for t in batch.silver["penalties"]) == 2 * entry.rows


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
    deliveries, _ = find_deliveries(landing, ["xuhui"])
    [f] = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=1).files
    assert (f.status, f.reason) == ("rejected", "conflicting_headers")
    assert "'罚款金额' and '罚没款金额'" in f.message and "xuhui/2017-03-02/penalties.csv" in f.message


def test_a_quarantined_row_restaged_from_its_raw_values_is_the_row_staging_gave(landing, catalog):
    """Promotion (ingest/promote.py) re-reads a quarantined row from the raw
    values the quarantine keeps: in every template, that gives exactly the
    row staging gave on delivery (values, flags, identifiers, rules)."""
    from lakehouse.ingest import promote

    deliveries, _ = find_deliveries(landing, sorted(catalog.sources))
    batch = staging.stage_deliveries(deliveries, catalog, "run", AT, set(), workers=1)
    templates = set()
    for name, parts in sorted(batch.silver.items()):
        table = catalog.tables[name]
        if not table.entity_ref:
            continue
        rows = pa.concat_tables(parts).to_pylist()[:40]
        quarantined = [{**{k: r[k] for k in ("_source", "_delivery_date", "_file", "_file_sha256", "_row_number",
                                               "_ingest_run_id", "_ingested_at")}, "raw": r["_raw"]} for r in rows]
        [again] = promote._restage(catalog, table, quarantined, "promoting-run").silver[name]
        skip = {"_row_id", "_promoted_by_run_id"}
        got = sorted((tuple((k, repr(v)) for k, v in sorted(r.items()) if k not in skip) for r in again.to_pylist()))
        want = sorted((tuple((k, repr(v)) for k, v in sorted(r.items()) if k not in skip) for r in rows))
        assert got == want, name
        assert {r["_promoted_by_run_id"] for r in again.to_pylist()} == {"promoting-run"}
        templates |= {catalog.sources[r["_source"]].template for r in rows}
    assert templates == {"S", "P", "J", "X"}
