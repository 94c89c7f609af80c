"""The operational tables (the run log, the file ledger, the quarantine),
described once: their Spark schemas (ingest/runlog.py, ingest/silver.py) and
their PostgreSQL tables (warehouse) are derived from the column lists here.
Types are the schemas/ grammar (catalog/types.py). They live in Python,
not schemas/, because the catalog describes silver tables with lineage and
feeds, which these tables have not."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.catalog.types import postgres_type, spark_type


@dataclass(frozen=True)
class OpsTable:
    layer: str                          # where it rests in the lake: lake.table_path(layer, name)
    name: str
    columns: tuple[tuple[str, str], ...]   # (name, type)
    pg_name: str | None = None          # published to lake.<pg_name>, with primary key pg_key
    pg_key: tuple[str, ...] = ()
    description: str = ""               # of the published table (the dbt source's)
    loaded_at: str | None = None        # the published table's load-time column
    daily: bool = True                  # a day without a new row is news (dbt source freshness)

    @property
    def column_names(self) -> list[str]:
        return [n for n, _ in self.columns]

    def spark_ddl(self) -> str:
        """"name type, ..." for spark.createDataFrame(rows, schema)."""
        return ", ".join(f"{n} {spark_type(t)}" for n, t in self.columns)

    def postgres_ddl(self) -> str:
        """The lake.* table, and any column it gained since it was first created."""
        cols = [f"{n} {postgres_type(t)}" for n, t in self.columns]
        return (f"create table if not exists lake.{self.pg_name} (\n  {', '.join(cols)},\n"
                f"  primary key ({', '.join(self.pg_key)}));\n"
                f"alter table lake.{self.pg_name} {', '.join(f'add column if not exists {c}' for c in cols)};")


# Per file and run: rows in = accepted + duplicate + quarantined (see ingest/runlog.py).
RUN_LOG = OpsTable("ops", "ingest_runs", (
    ("ingest_run_id", "string"), ("source", "string"), ("delivery_date", "date"), ("feed", "string"),
    ("_file", "string"), ("file_sha256", "string"), ("status", "string"), ("reason", "string"),
    ("manifest_rows", "int"), ("rows_in", "int"), ("rows_accepted", "int"), ("rows_duplicate", "int"),
    ("rows_quarantined", "int"), ("rows_late", "int"), ("rows_promoted", "int"),
    ("quarantined_by_rule", "map<string,int>"), ("flagged_by_rule", "map<string,int>"),
    ("unknown_columns", "array<string>"), ("expectations_passed", "bool"),
    ("expectation_failures", "array<string>"), ("started_at", "timestamp"), ("finished_at", "timestamp"),
    ("_file_sha256", "string"),       # = file_sha256, under the name lineage columns use
), pg_name="ingest_runs", pg_key=("ingest_run_id", "_file", "_file_sha256"),
   description="Run log: one row per delivered file (latest run): status accepted | rejected | blocked | missing (a "
               "business day with no delivery by the cut-off), reason, and counts that reconcile (rows_in = accepted "
               "+ duplicate + quarantined).", loaded_at="finished_at")

# Each delivered file's verdict under its manifest entry (path, declared sha256
# and rows), with the size and time the listing showed (not published): see
# runlog.Ledger for when a file is staged again.
FILE_LEDGER = OpsTable("ops", "file_ledger", (
    ("_file", "string"), ("source", "string"), ("delivery_date", "date"), ("feed", "string"),
    ("file_sha256", "string"), ("status", "string"), ("reason", "string"), ("ingest_run_id", "string"),
    ("recorded_at", "timestamp"), ("manifest_rows", "int"), ("file_size", "int"), ("file_modified_ms", "int"),
))

# The lineage every delivered row carries from staging on: the first lineage
# columns of schemas/tables/_common.yaml (a unit test holds them equal).
DELIVERY_LINEAGE = (
    ("_source", "string"), ("_delivery_date", "date"), ("_file", "string"), ("_file_sha256", "string"),
    ("_row_number", "int"), ("_ingest_run_id", "string"), ("_ingested_at", "timestamp"),
)

# Every rejected row of every table, with its rules, reasons and raw values (ingest/silver.py).
QUARANTINE = OpsTable("quarantine", "rows", (
    ("_table", "string"), *DELIVERY_LINEAGE, ("record_key", "string"), ("rule_ids", "array<string>"),
    ("reasons", "array<string>"), ("raw", "map<string,string>"),
), pg_name="quarantine_rows", pg_key=("_table", "_file", "_file_sha256", "_row_number"),
   description="Rows that broke a quarantine rule, with the rule ids and reasons. The raw column can hold personal "
               "data: only the loader reads it.", loaded_at="_ingested_at", daily=False)   # empty on a good day

# Every delivered row as strings, one table per feed: bronze/<feed> (ingest/staging.py).
BRONZE_COLUMNS = (*DELIVERY_LINEAGE, ("raw", "map<string,string>"))

PUBLISHED = (QUARANTINE, RUN_LOG)
