"""The generator writes what the catalog says a template is: headers_from and
values_from resolved as the readers resolve them (one parser of schemas/)."""

from __future__ import annotations

import json
import shutil
from datetime import date

from helpers.feed_reader import SCHEMAS, load_jsonl

from lakehouse.catalog import load_catalog
from lakehouse.config import settings
from lakehouse.generator import generate
from lakehouse.ingest.normalise.row import make_row_normaliser
from lakehouse.ingest.readers import read_delivery_file


def test_borrowed_headers_and_values_are_the_readers(tmp_path, monkeypatch):
    # X borrows from S; point it at J instead: headers like recordId, values sent as canonical
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, schemas)
    x_yaml = schemas / "templates" / "X.yaml"
    text = x_yaml.read_text(encoding="utf-8")
    assert "headers_from: S" in text and "values_from: S" in text
    x_yaml.write_text(
        text.replace("headers_from: S", "headers_from: J").replace("values_from: S", "values_from: J"),
        encoding="utf-8",
    )
    monkeypatch.setenv("LAKEHOUSE_SCHEMAS", str(schemas))
    settings.cache_clear()
    try:
        generate(out=tmp_path / "landing", truth=tmp_path / "truth", preset="small", seed=3, days=1,
                 sources=["chongming"], progress=False, truth_rows=True)
    finally:
        monkeypatch.delenv("LAKEHOUSE_SCHEMAS")
        settings.cache_clear()

    catalog = load_catalog(schemas)
    x, j = catalog.templates["X"], catalog.templates["J"]
    assert x.headers == j.headers and x.values == j.values
    answers = {(r["file"], r["row_number"]): r for r in load_jsonl(tmp_path / "truth" / "rows.jsonl")}
    silver = {
        feed: {(r["source"], r["record_id"]): r for r in load_jsonl(tmp_path / "truth" / "silver" / f"{feed}.jsonl")}
        for feed in catalog.district_feeds
    }
    files = [r for r in load_jsonl(tmp_path / "truth" / "files.jsonl") if r["expected_status"] == "accepted"]
    assert {r["feed"] for r in files} == set(catalog.district_feeds)
    compared = 0
    sent_status = set()
    for rec in files:
        feed, day = rec["feed"], date.fromisoformat(rec["date"])
        table = catalog.table_for_feed(feed)
        delivered = read_delivery_file(tmp_path / "landing" / rec["file"], x, feed)
        assert delivered.header == list(j.headers[feed]), rec["file"]  # day 0: no drift yet
        normalise = make_row_normaliser(table, "chongming", catalog, day, delivered.header)
        vocab = [c.name for c in table.columns if c.values]
        for raw in delivered.rows:
            answer = answers[(rec["file"], raw.row_number)]
            got = normalise(raw)
            assert got.quarantined == (answer["expected"] == "quarantined"), (rec["file"], raw.row_number)
            if answer["expected"] != "accepted":
                continue
            want = silver[feed][("chongming", answer["key"]["record_id"])]
            assert {f: got.values[f] for f in vocab} == {f: want[f] for f in vocab}, json.dumps(want)
            sent_status.add(raw.values.get("status"))
            compared += 1
    assert compared >= 5  # small preset, one day, one district: a handful of records
    assert "VALID" in sent_status or "EFFECTIVE" in sent_status  # J's spelling, not S's 有效


def test_district_feeds_and_licence_types_follow_schemas():
    catalog = load_catalog(SCHEMAS)
    held = [t.feed for t in catalog.tables.values() if t.district_held]
    assert sorted(catalog.district_feeds) == sorted(held) and held
    for src in catalog.sources.values():  # each source lists them in that order
        assert [f for f in src.feeds if f in held] == list(catalog.district_feeds)
    # the generator draws licence types from this sequence: rules.yaml's order, not a set's
    rules = (SCHEMAS / "rules.yaml").read_text(encoding="utf-8")
    positions = [rules.index(t) for t in catalog.known_licence_types]
    assert positions == sorted(positions)
