"""Delivered files -> staged rows, in Spark's executors.

The driver plans (`plan_files`): from the manifests it decides which files
are new and which it can refuse without opening them (unknown source or
feed, a file the folder does not hold). Spark does the rest (`stage`): per
table, its files are read through Spark's file systems (`binaryFile`: a local
folder, s3a://, ...), and in tasks spread over the files the same Python as
ever (`stage_file`) checks each file's sha256 and row count against its
manifest, reads it with its template's reader and normalises every row. One
pass gives the table's staged rows (canonical values, rule ids, raw values,
lineage: bronze is a projection of them) and one record per file (accepted
or rejected with its reason code and message, rows read, unknown columns).
Only the file records reach the driver; the rows stay in the executors.

Everything a file can be rejected for is decided here, with a reason code
and a message that says what, where and what to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import unquote

import pyarrow as pa

from lakehouse.catalog import Catalog, Table
from lakehouse.catalog.ops_tables import DELIVERY_LINEAGE
from lakehouse.catalog.types import arrow_type
from lakehouse.ingest.landing import Delivery
from lakehouse.ingest.normalise import make_row_normaliser, name_key, unknown_columns
from lakehouse.ingest.normalise.headers import reject_conflicting_headers, reject_missing_required_columns
from lakehouse.ingest.readers import FileRejected, check_row_count, read_delivery_file
from lakehouse.lake import delta
from lakehouse.lake.spark import map_output_schema

# Columns the Spark stage needs beside the canonical ones; dropped before silver.
# Made here; resolve, silver and pipeline read them by these names.
ROW_ID = "_row_id"      # unique in the batch: joins a row back to its raw values
RULES = "_rules"        # ids of the rules the row broke: non-empty = quarantined
REASONS = "_reasons"    # one readable reason per broken rule
RAW = "_raw"            # the values as delivered, kept for the quarantine (and bronze)
HELPER_COLUMNS = {
    ROW_ID: "int", "_holding_district": "string", "_uscc_norm": "string", "_uscc_check_ok": "bool", "_reg_no": "string",
    "_name_key": "string", RULES: "array<string>", REASONS: "array<string>", RAW: "map<string,string>",
}
# The per-file record that travels in the same stream as the rows (KIND = "file").
KIND = "_kind"
FILE_COLUMNS = {KIND: "string", "_f_status": "string", "_f_reason": "string", "_f_message": "string",
                "_f_rows_in": "int", "_f_unknown_columns": "array<string>"}
ROWS_PER_CHUNK = 20_000     # rows per Arrow batch handed back to Spark


@dataclass(frozen=True)
class PlannedFile:
    """A manifest entry the driver decided to stage: what the executor needs
    to find, check and read the file. `number` makes row ids batch-unique."""
    source: str
    day: date
    feed: str
    file: str                 # relative to the landing root: <source>/<day>/<name>
    uri: str                  # where Spark reads it
    sha256: str               # declared in the manifest
    manifest_rows: int
    number: int
    size: int | None = None
    modified_ms: int | None = None


@dataclass
class StagedFile:
    source: str
    day: date
    feed: str
    file: str                 # relative to the landing root
    sha256: str               # as the manifest declares it (an accepted file's bytes have it)
    manifest_rows: int
    status: str = "accepted"  # accepted | rejected
    reason: str | None = None
    message: str | None = None
    rows_in: int = 0
    unknown_columns: list[str] = field(default_factory=list)
    size: int | None = None
    modified_ms: int | None = None

    @property
    def file_id(self) -> str:
        return delta.file_id(self.file, self.sha256)

    @classmethod
    def of(cls, p: PlannedFile) -> StagedFile:
        return cls(p.source, p.day, p.feed, p.file, p.sha256, p.manifest_rows, size=p.size,
                   modified_ms=p.modified_ms)


@dataclass
class StagedBatch:
    """The batch's file records (on the driver) and, per table, its staged
    rows as a persisted DataFrame (in the executors)."""
    files: list[StagedFile] = field(default_factory=list)
    rows: dict = field(default_factory=dict)            # table -> DataFrame of staged rows
    row_counts: dict[str, int] = field(default_factory=dict)
    persisted: list = field(default_factory=list)       # what release() frees

    def file_ids(self, feed: str) -> list[str]:
        return sorted(f.file_id for f in self.files if f.feed == feed and f.status == "accepted")

    def bronze(self, feed: str):
        """Bronze is every staged row as sent: the lineage and the raw values."""
        return self.rows[feed].select(*[n for n, _ in DELIVERY_LINEAGE], self.rows[feed][RAW].alias("raw"))

    def release(self) -> None:
        for df in self.persisted:
            df.unpersist()


# --------------------------------------------------------------------------- the driver's plan

def plan_files(deliveries: list[Delivery], catalog: Catalog, is_done) -> tuple[list[PlannedFile], list[StagedFile]]:
    """The files to stage, and those decided without opening them (refused,
    or empty: Spark's file sources skip a file of 0 bytes, so the driver
    stages that one's no bytes itself). `is_done(planned)` says the ledger
    already holds the file's verdict (runlog.Ledger.is_done)."""
    planned, refused = [], []
    for delivery in deliveries:
        for entry in delivery.files:
            listed = delivery.listed.get(entry.name)
            p = PlannedFile(delivery.source, delivery.day, entry.feed, delivery.relative(entry.name),
                            delivery.uri(entry.name), entry.sha256, entry.rows, len(planned) + len(refused),
                            listed.size if listed else None, listed.modified_ms if listed else None)
            if is_done(p):
                continue
            problem = _refused_unopened(p, catalog)
            if problem:
                f = StagedFile.of(p)
                f.status, f.reason, f.message = "rejected", problem.reason_code, problem.message
                refused.append(f)
            elif p.size == 0:
                refused.append(stage_file(p, b"", catalog, "", utc_now())[0])
            else:
                planned.append(p)
    return planned, refused


def _refused_unopened(p: PlannedFile, catalog: Catalog) -> FileRejected | None:
    where = p.file
    source = catalog.sources.get(p.source)
    if source is None:
        return FileRejected("unknown_source", f"{where}: no schemas/sources/{p.source}.yaml; add the "
                                              "source's YAML file to read its deliveries")
    if p.feed not in source.feeds or p.feed not in catalog.tables:
        return FileRejected("unknown_feed", f"{where}: feed {p.feed!r} is not one {source.code} sends "
                                            f"({', '.join(source.feeds)}); fix the manifest or the source YAML")
    if p.size is None:
        return FileRejected("file_missing", f"{where}: listed in _MANIFEST.json but not in the folder; ask "
                                            f"{source.code} to re-send the day")
    if p.file.rsplit("/", 1)[-1].startswith(("_", ".")):
        return FileRejected("hidden_file_name", f"{where}: Spark's file systems skip names starting with '_' or "
                                                f"'.'; ask {source.code} to re-send the day with the file renamed")
    return None


# --------------------------------------------------------------------------- one file (pure Python)

def stage_file(p: PlannedFile, data: bytes, catalog: Catalog, run_id: str,
               ingested_at: datetime) -> tuple[StagedFile, list[dict]]:
    """Check, read and normalise one delivered file's bytes: its record and its staged rows."""
    staged = StagedFile.of(p)
    try:
        delivered, table = _read_checked(p, data, catalog)
    except FileRejected as rejected:
        staged.status, staged.reason, staged.message = "rejected", rejected.reason_code, rejected.message
        return staged, []
    source = catalog.sources[p.source]
    staged.rows_in = len(delivered.rows)
    staged.unknown_columns = unknown_columns(delivered.header, table, source, p.day)
    lineage = {"_source": p.source, "_delivery_date": p.day, "_file": p.file, "_file_sha256": p.sha256,
               "_ingest_run_id": run_id, "_ingested_at": ingested_at}
    normalise = make_row_normaliser(table, source, catalog, p.day, delivered.header)
    rows = []
    first_id = p.number << 32
    for i, raw in enumerate(delivered.rows):
        raw_text = {k: v for k, v in raw.values.items() if v is not None}
        row = silver_row(normalise(raw), table, lineage, raw_text, first_id + i)
        row["_holding_district"] = source.division_code
        rows.append(row)
    return staged, rows


def _read_checked(p: PlannedFile, data: bytes, catalog: Catalog):
    where = p.file
    actual = hashlib.sha256(data).hexdigest()
    if actual != p.sha256:
        raise FileRejected("manifest_sha256_mismatch",
                           f"{where}: sha256 {actual} differs from the manifest's {p.sha256}: the file "
                           "changed or was cut in transfer; ask the source to re-send the day")
    source = catalog.sources[p.source]
    table = catalog.tables[p.feed]
    delivered = read_delivery_file(Path(where), catalog.template_of(source), p.feed, data)
    check_row_count(delivered, p.manifest_rows)
    reject_missing_required_columns(where, delivered.header, table, source, p.day)
    reject_conflicting_headers(where, delivered.header, table, source, p.day)
    return delivered, table


def silver_row(n, table: Table, lineage: dict, raw_text: dict, row_id: int) -> dict:
    """A normalised row -> the staged row: canonical values, lineage and the helper columns."""
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


def to_arrow(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Row dicts -> a table, converted in Arrow's C++ (keys not in the schema
    are ignored; an empty map must be sent as None to stay null)."""
    return pa.Table.from_struct_array(pa.array(rows, type=pa.struct(list(schema))))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------- in Spark

def stream_schema(table: Table) -> pa.Schema:
    """What a staging task returns: staged rows and file records in one stream."""
    return pa.schema([*arrow_schema(table), *[pa.field(n, arrow_type(t)) for n, t in FILE_COLUMNS.items()]])


def _record(f: StagedFile) -> dict:
    return {KIND: "file", "_source": f.source, "_delivery_date": f.day, "_file": f.file, "_file_sha256": f.sha256,
            "_f_status": f.status, "_f_reason": f.reason, "_f_message": f.message, "_f_rows_in": f.rows_in,
            "_f_unknown_columns": f.unknown_columns}


def _tail(path: str) -> str:
    """<source>/<day>/<name> of a path as Spark's file systems name it."""
    return "/".join(unquote(path).rsplit("/", 3)[-3:])


def staging_task(plans: dict[str, PlannedFile], catalog: Catalog, table_name: str, run_id: str,
                 ingested_at: datetime):
    """The function Spark runs over (path, content) batches of one table's files."""
    def run(batches):
        import gc

        table = catalog.tables[table_name]
        schema = stream_schema(table)
        gc.disable()   # millions of short-lived dicts and no cycles: the collector only costs time here
        try:
            for batch in batches:
                for file in batch.to_pylist():
                    staged, rows = stage_file(plans[_tail(file["path"])], file["content"], catalog, run_id,
                                              ingested_at)
                    for start in range(0, len(rows), ROWS_PER_CHUNK):
                        chunk = rows[start:start + ROWS_PER_CHUNK]
                        for r in chunk:
                            r[KIND] = "row"
                        yield from to_arrow(chunk, schema).to_batches()
                    yield from to_arrow([_record(staged)], schema).to_batches()
        finally:
            gc.enable()
    return run


def stage(spark, planned: list[PlannedFile], catalog: Catalog, run_id: str, ingested_at: datetime,
          workers: int = 1) -> StagedBatch:
    """Stage every planned file in Spark, table by table (tables on `workers`
    threads); the rows stay in the executors, persisted, until batch.release()."""
    from lakehouse.lake.spark import in_parallel

    by_table: dict[str, list[PlannedFile]] = {}
    for p in planned:
        by_table.setdefault(p.feed, []).append(p)
    batch = StagedBatch()
    results = in_parallel([lambda t=t, ps=ps: _stage_table(spark, catalog.tables[t], ps, catalog, run_id,
                                                           ingested_at)
                           for t, ps in sorted(by_table.items())], workers)
    for (name, _), (rows, stream, files) in zip(sorted(by_table.items()), results, strict=True):
        batch.files += files
        if any(f.status == "accepted" for f in files):
            batch.rows[name] = rows
            batch.row_counts[name] = sum(f.rows_in for f in files if f.status == "accepted")
            batch.persisted.append(stream)
        else:
            stream.unpersist()
    return batch


def _stage_table(spark, table: Table, planned: list[PlannedFile], catalog: Catalog, run_id: str,
                 ingested_at: datetime):
    from pyspark.sql import functions as F

    plans = {p.file: p for p in planned}
    task = staging_task(plans, catalog, table.name, run_id, ingested_at)
    stream = (spark.read.format("binaryFile").load([p.uri for p in planned]).select("path", "content")
              .mapInArrow(task, map_output_schema(spark, stream_schema(table))).persist())
    records = stream.where(F.col(KIND) == "file").select(
        "_file", "_f_status", "_f_reason", "_f_message", "_f_rows_in", "_f_unknown_columns").collect()
    by_file = {r["_file"]: r for r in records}
    files = []
    for p in planned:
        f = StagedFile.of(p)
        r = by_file[p.file]
        f.status, f.reason, f.message = r["_f_status"], r["_f_reason"], r["_f_message"]
        f.rows_in, f.unknown_columns = r["_f_rows_in"], list(r["_f_unknown_columns"] or [])
        files.append(f)
    return stream.where(F.col(KIND) == "row").drop(*FILE_COLUMNS), stream, files
