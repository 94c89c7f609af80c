"""Delivered files -> in-memory batches (Python, no Spark): check each file
against its manifest, read it with its template's reader, normalise each row
to the canonical table, and build Arrow tables for bronze and for silver.

Everything a file can be rejected for is decided here, with a reason code
and a message that says what, where and what to do.
"""

from __future__ import annotations

import gc
import hashlib
import multiprocessing
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa

from lakehouse import lake
from lakehouse.catalog import Catalog, Table
from lakehouse.config import stage_workers
from lakehouse.ingest.landing import Delivery, ManifestEntry, sha256_of
from lakehouse.ingest.ops_tables import BRONZE_COLUMNS
from lakehouse.ingest.table_types import arrow_type
from lakehouse.normalise import make_row_normaliser, name_key, unknown_columns
from lakehouse.normalise.row import reject_conflicting_headers, reject_missing_required_columns
from lakehouse.readers import FileRejected, check_row_count, read_delivery_file

# Columns the Spark stage needs beside the canonical ones; dropped before silver.
# Made here; resolve, silver and pipeline read them by these names.
ROW_ID = "_row_id"      # unique in the batch: joins a row back to its raw values
RULES = "_rules"        # ids of the rules the row broke: non-empty = quarantined
REASONS = "_reasons"    # one readable reason per broken rule
RAW = "_raw"            # the values as delivered, kept for the quarantine
HELPER_COLUMNS = {
    ROW_ID: "int", "_holding_district": "string", "_uscc_norm": "string", "_uscc_check_ok": "bool", "_reg_no": "string",
    "_name_key": "string", RULES: "array<string>", REASONS: "array<string>", RAW: "map<string,string>",
}


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
    resent_duplicates: dict[str, int] = field(default_factory=dict)   # file id -> rows dropped as re-sends

    def file_ids(self, feed: str) -> list[str]:
        return sorted(f.file_id for f in self.files if f.feed == feed and f.status == "accepted")


def stage_deliveries(deliveries: list[Delivery], catalog: Catalog, run_id: str, ingested_at: datetime,
                     already_processed: set[tuple[str, str]], workers: int | None = None) -> StagedBatch:
    """Read and normalise every new file of `deliveries`, in delivery order.

    Files are independent, so a large batch is read by a pool of processes
    (LAKEHOUSE_STAGE_WORKERS, default one per core); a small one (under
    PARALLEL_FROM_ROWS announced rows) in this process, as a pool costs
    about a second to start."""
    jobs: list[_FileJob] = []
    for delivery in deliveries:
        for entry in delivery.files:
            rel = delivery.relative(entry.name)
            path = delivery.folder / entry.name
            sha = sha256_of(path) if path.exists() else ""
            if (rel, sha) not in already_processed:
                jobs.append(_FileJob(delivery, entry, rel, sha, run_id, ingested_at))
    workers = stage_workers() if workers is None else workers
    if workers > 1 and len(jobs) > 1 and sum(j.entry.rows for j in jobs) >= PARALLEL_FROM_ROWS:
        # fork: workers start in milliseconds and never import the caller's
        # __main__ (spawn would re-run an unguarded script). They only read
        # files and build Arrow tables; nothing in them touches Spark.
        # gc.freeze(): a child's collector must never finalise the parent's
        # objects, such as the Py4J connection to the JVM it shares a socket with.
        ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        gc.freeze()
        try:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                                     initargs=(catalog,)) as pool:
                # biggest files first, so that no worker is left alone with a snapshot at the end
                futures = {i: pool.submit(_stage_file, jobs[i])
                           for i in sorted(range(len(jobs)), key=lambda i: -jobs[i].entry.rows)}
                results = [futures[i].result() for i in range(len(jobs))]
        finally:
            gc.unfreeze()
    else:
        _init_worker(catalog)
        results = [_stage_file(job) for job in jobs]
    return _assemble(results)


PARALLEL_FROM_ROWS = 100_000


@dataclass
class _FileJob:
    delivery: Delivery
    entry: ManifestEntry
    rel: str
    sha: str
    run_id: str
    ingested_at: datetime


@dataclass
class _FileResult:
    staged: StagedFile
    table: str | None = None
    bronze: pa.Table | None = None
    silver: pa.Table | None = None
    digests: list[bytes | None] | None = None   # content digest per silver row, for pre-deduplication


_WORKER_CATALOG: Catalog | None = None


def _init_worker(catalog: Catalog) -> None:
    global _WORKER_CATALOG
    _WORKER_CATALOG = catalog


def _stage_file(job: _FileJob) -> _FileResult:
    gc.disable()   # millions of short-lived dicts and no cycles: the collector only costs time here
    try:
        return _stage_one(job, _WORKER_CATALOG)
    finally:
        gc.enable()


def _stage_one(job: _FileJob, catalog: Catalog) -> _FileResult:
    delivery, entry = job.delivery, job.entry
    staged = StagedFile(delivery.source, delivery.day, entry.feed, job.rel, job.sha, entry.rows)
    try:
        delivered, table = _read_checked(delivery, entry, delivery.folder / entry.name, job.sha, catalog)
    except FileRejected as rejected:
        staged.status, staged.reason, staged.message = "rejected", rejected.reason_code, rejected.message
        return _FileResult(staged)
    source = catalog.sources[delivery.source]
    staged.rows_in = len(delivered.rows)
    staged.unknown_columns = unknown_columns(delivered.header, table, source, delivery.day)
    lineage = {"_source": delivery.source, "_delivery_date": delivery.day, "_file": job.rel,
               "_file_sha256": job.sha, "_ingest_run_id": job.run_id, "_ingested_at": job.ingested_at}
    normalise = make_row_normaliser(table, source, catalog, delivery.day, delivered.header)
    digest = None if table.entity_ref else _content_digest(table)
    bronze_rows, silver_rows, digests = [], [], []
    for row_id, raw in enumerate(delivered.rows):
        raw_text = {k: v for k, v in raw.values.items() if v is not None}
        bronze_rows.append({**lineage, "_row_number": raw.row_number, "raw": raw_text or None})
        row = _silver_row(normalise(raw), table, lineage, raw_text, row_id)
        row["_holding_district"] = source.division_code
        silver_rows.append(row)
        digests.append(digest(row) if digest and not row[RULES] else None)
    return _FileResult(staged, table.name, to_arrow(bronze_rows, BRONZE_SCHEMA),
                       to_arrow(silver_rows, arrow_schema(table)), digests)


def _content_digest(table: Table):
    """A row's canonical content (what Spark's _row_hash covers, before any
    lineage) as 16 bytes, identical in every process."""
    lineage = {c.name for c in table.common.get("lineage", [])}
    columns = [c for c in table.column_names if c not in lineage]

    def digest(row: dict) -> bytes:
        return hashlib.blake2b(repr([row.get(c) for c in columns]).encode(), digest_size=16).digest()

    return digest


def _assemble(results: list[_FileResult]) -> StagedBatch:
    """Results in delivery order -> one batch: unique row ids, and exact
    re-sends within the batch dropped before Spark (see _drop_resent)."""
    batch = StagedBatch()
    row_id = 0
    seen: dict[str, set[bytes]] = defaultdict(set)
    order = sorted(range(len(results)), key=lambda i: (results[i].staged.day, results[i].staged.file))
    for i in order:
        r = results[i]
        batch.files.append(r.staged)
        if r.silver is None:
            continue
        silver = r.silver.set_column(r.silver.schema.get_field_index(ROW_ID), ROW_ID,
                                     pa.array(range(row_id, row_id + r.silver.num_rows), pa.int64()))
        row_id += r.silver.num_rows
        silver, dropped = _drop_resent(silver, r.digests, seen[r.table])
        if dropped:
            batch.resent_duplicates[r.staged.file_id] = dropped
        batch.bronze[r.staged.feed].append(r.bronze)
        batch.silver[r.table].append(silver)
    return batch


def _drop_resent(silver: pa.Table, digests: list[bytes | None], seen: set[bytes]) -> tuple[pa.Table, int]:
    """Registry and department snapshots re-send hundreds of thousands of
    unchanged rows. A row whose exact content came earlier in the batch is a
    duplicate whatever silver holds (the earlier copy decides), so it is
    counted here and never reaches Spark. Only tables whose rows Spark does not
    resolve against the registry have digests: their outcome cannot depend on
    anything but their content."""
    keep = []
    for d in digests:
        if d is None:
            keep.append(True)
        elif d in seen:
            keep.append(False)
        else:
            seen.add(d)
            keep.append(True)
    dropped = len(keep) - sum(keep)
    return (silver.filter(pa.array(keep)) if dropped else silver), dropped


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
    reject_conflicting_headers(where, delivered.header, table, source, delivery.day)
    return delivered, table


def _silver_row(n, table: Table, lineage: dict, raw_text: dict, row_id: int) -> dict:
    row = dict(n.values)
    row.update(lineage)
    row["_row_number"] = n.row_number
    row["flags"] = list(n.flags)
    row["extra_columns"] = n.extra_columns or None
    row[ROW_ID] = row_id
    row["_uscc_norm"] = n.uscc_normalised or None
    row["_uscc_check_ok"] = n.uscc_check_ok
    row["_reg_no"] = n.reg_no
    row["_name_key"] = n.name_key
    row[RULES] = sorted({b.rule_id for b in n.broken})
    row[REASONS] = [f"{b.rule_id}: {b.field}: {b.detail}" for b in n.broken]
    row[RAW] = raw_text or None
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
        fields += [pa.field(n, arrow_type(t)) for n, t in HELPER_COLUMNS.items()]
    return pa.schema(fields)


BRONZE_SCHEMA = pa.schema([pa.field(n, arrow_type(t)) for n, t in BRONZE_COLUMNS])


def to_arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Row dicts -> a table, converted in Arrow's C++ (keys not in the schema
    are ignored; an empty map must be sent as None to stay null)."""
    return pa.Table.from_struct_array(pa.array(rows, type=pa.struct(list(schema))))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
