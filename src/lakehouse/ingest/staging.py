"""Delivered files -> in-memory batches (Python, no Spark): check each file
against its manifest, read it with its template's reader, normalise each row
to the canonical table, and build Arrow tables for bronze and for silver.

Everything a file can be rejected for is decided here, with a reason code
and a message that says what, where and what to do.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa

from lakehouse import lake
from lakehouse.catalog import Catalog, Table
from lakehouse.ingest.landing import Delivery, ManifestEntry, sha256_of
from lakehouse.ingest.table_types import arrow_type
from lakehouse.normalise import make_row_normaliser, name_key, unknown_columns
from lakehouse.normalise.row import reject_missing_required_columns
from lakehouse.readers import FileRejected, check_row_count, read_delivery_file

# Columns the Spark stage needs beside the canonical ones; dropped before silver.
HELPER_COLUMNS = {
    "_row_id": "int", "_holding_district": "string", "_uscc_norm": "string", "_uscc_check_ok": "bool", "_reg_no": "string",
    "_name_key": "string", "_rules": "array<string>", "_reasons": "array<string>", "_raw": "map<string,string>",
}
_EXTRA_ARROW = {"int": pa.int64(), "string": pa.string(), "bool": pa.bool_(),
                "array<string>": pa.list_(pa.string()), "map<string,string>": pa.map_(pa.string(), pa.string())}


@dataclass
class StagedFile:
    source: str
    day: date
    feed: str
    file: str                 # relative to the landing root
    sha256: str
    manifest_rows: int
    status: str = "accepted"  # accepted | rejected
    reason: str | None = None
    message: str | None = None
    rows_in: int = 0
    unknown_columns: list[str] = field(default_factory=list)

    @property
    def file_id(self) -> str:
        return lake.file_id(self.file, self.sha256)


@dataclass
class StagedBatch:
    """Each accepted file becomes an Arrow table right after it is read, so a
    batch holds compact columns, not millions of Python dicts."""
    files: list[StagedFile] = field(default_factory=list)
    bronze: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))   # feed -> per file
    silver: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))   # table -> per file

    def file_ids(self, feed: str) -> list[str]:
        return sorted(f.file_id for f in self.files if f.feed == feed and f.status == "accepted")


def stage_deliveries(deliveries: list[Delivery], catalog: Catalog, run_id: str, ingested_at: datetime,
                     already_processed: set[tuple[str, str]], first_row_id: int = 0) -> StagedBatch:
    gc.disable()   # millions of short-lived dicts and no cycles: the collector only costs time here
    try:
        return _stage(deliveries, catalog, run_id, ingested_at, already_processed, first_row_id)
    finally:
        gc.enable()


def _stage(deliveries, catalog, run_id, ingested_at, already_processed, row_id) -> StagedBatch:
    batch = StagedBatch()
    schemas: dict[str, pa.Schema] = {}
    for delivery in deliveries:
        source = catalog.sources.get(delivery.source)
        for entry in delivery.files:
            rel = delivery.relative(entry.name)
            path = delivery.folder / entry.name
            sha = sha256_of(path) if path.exists() else ""
            if (rel, sha) in already_processed:
                continue
            staged = StagedFile(delivery.source, delivery.day, entry.feed, rel, sha, entry.rows)
            batch.files.append(staged)
            try:
                rows = _read_checked(delivery, entry, path, sha, catalog)
            except FileRejected as rejected:
                staged.status, staged.reason, staged.message = "rejected", rejected.reason_code, rejected.message
                continue
            delivered, table = rows
            staged.rows_in = len(delivered.rows)
            staged.unknown_columns = unknown_columns(delivered.header, table, source, delivery.day)
            lineage = {"_source": delivery.source, "_delivery_date": delivery.day, "_file": rel,
                       "_file_sha256": sha, "_ingest_run_id": run_id, "_ingested_at": ingested_at}
            normalise = make_row_normaliser(table, source, catalog, delivery.day, delivered.header)
            bronze_rows, silver_rows = [], []
            for raw in delivered.rows:
                row_id += 1
                raw_text = {k: v for k, v in raw.values.items() if v is not None}
                bronze_rows.append({**lineage, "_row_number": raw.row_number, "raw": raw_text})
                row = _silver_row(normalise(raw), table, lineage, raw_text, row_id)
                row["_holding_district"] = source.division_code
                silver_rows.append(row)
            if table.name not in schemas:
                schemas[table.name] = arrow_schema(table)
            batch.bronze[entry.feed].append(to_arrow(bronze_rows, BRONZE_SCHEMA))
            batch.silver[table.name].append(to_arrow(silver_rows, schemas[table.name]))
    return batch


def _read_checked(delivery: Delivery, entry: ManifestEntry, path: Path, sha: str, catalog: Catalog):
    where = f"{delivery.source}/{delivery.day}/{entry.name}"
    source = catalog.sources.get(delivery.source)
    if source is None:
        raise FileRejected("unknown_source", f"{where}: no schemas/sources/{delivery.source}.yaml; add the "
                                             "source's YAML file to read its deliveries")
    if entry.feed not in source.feeds or entry.feed not in catalog.tables:
        raise FileRejected("unknown_feed", f"{where}: feed {entry.feed!r} is not one {source.code} sends "
                                           f"({', '.join(source.feeds)}); fix the manifest or the source YAML")
    if not path.exists():
        raise FileRejected("file_missing", f"{where}: listed in _MANIFEST.json but not in the folder; ask "
                                           f"{source.code} to re-send the day")
    if sha != entry.sha256:
        raise FileRejected("manifest_sha256_mismatch",
                           f"{where}: sha256 {sha} differs from the manifest's {entry.sha256}: the file "
                           "changed or was cut in transfer; ask the source to re-send the day")
    table = catalog.tables[entry.feed]
    template = catalog.template_of(source)
    delivered = read_delivery_file(path, template, entry.feed)
    check_row_count(delivered, entry.rows)
    reject_missing_required_columns(where, delivered.header, table, source, delivery.day)
    return delivered, table


def _silver_row(n, table: Table, lineage: dict, raw_text: dict, row_id: int) -> dict:
    row = dict(n.values)
    row.update(lineage)
    row["_row_number"] = n.row_number
    row["flags"] = list(n.flags)
    row["extra_columns"] = n.extra_columns or None
    row["_row_id"] = row_id
    row["_uscc_norm"] = n.uscc_normalised or None
    row["_uscc_check_ok"] = n.uscc_check_ok
    row["_reg_no"] = n.reg_no
    row["_name_key"] = n.name_key
    row["_rules"] = sorted({b.rule_id for b in n.broken})
    row["_reasons"] = [f"{b.rule_id}: {b.field}: {b.detail}" for b in n.broken]
    row["_raw"] = raw_text
    if table.name == "entities":
        row["uscc"] = n.uscc_normalised or None
        if n.uscc_normalised and not n.uscc_check_ok:
            row["flags"].append("uscc_check_exception")   # the registry's own code is authoritative
        keys = [name_key(x) for x in [row.get("name"), *(row.get("former_names") or [])]]
        row["name_keys"] = [k for k in dict.fromkeys(keys) if k]
    return row


def arrow_schema(table: Table, with_helpers: bool = True) -> pa.Schema:
    fields = [pa.field(c.name, arrow_type(c.type)) for c in table.all_columns]
    if with_helpers:
        fields += [pa.field(n, _EXTRA_ARROW[t]) for n, t in HELPER_COLUMNS.items()]
    return pa.schema(fields)


BRONZE_SCHEMA = pa.schema([
    pa.field("_source", pa.string()), pa.field("_delivery_date", pa.date32()), pa.field("_file", pa.string()),
    pa.field("_file_sha256", pa.string()), pa.field("_row_number", pa.int64()),
    pa.field("_ingest_run_id", pa.string()), pa.field("_ingested_at", pa.timestamp("us", tz="UTC")),
    pa.field("raw", pa.map_(pa.string(), pa.string())),
])


def to_arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    columns = {f.name: [r.get(f.name) for r in rows] for f in schema}
    for f in schema:
        if pa.types.is_map(f.type):
            columns[f.name] = [list(v.items()) if v else None for v in columns[f.name]]
    return pa.table(columns, schema=schema)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
