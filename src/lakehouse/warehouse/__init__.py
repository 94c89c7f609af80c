"""PostgreSQL: connections, the lake schema derived from schemas/, roles."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from lakehouse.catalog import Catalog, Table
from lakehouse.config import settings
from lakehouse.ingest.table_types import postgres_type

BOOTSTRAP_SQL = Path(__file__).with_name("bootstrap.sql")

# Ops tables published beside the silver tables, with their natural keys.
OPS_TABLES = {
    "quarantine_rows": ("quarantine", "rows", ["_table", "_file", "_file_sha256", "_row_number"]),
    "ingest_runs": ("ops", "ingest_runs", ["ingest_run_id", "_file", "_file_sha256"]),
}


OPS_DDL = """
create table if not exists lake.quarantine_rows (
  _table text, _source text, _delivery_date date, _file text, _file_sha256 text, _row_number bigint,
  _ingest_run_id text, _ingested_at timestamptz, record_key text, rule_ids text[], reasons text[], raw jsonb,
  primary key (_table, _file, _file_sha256, _row_number));
create table if not exists lake.ingest_runs (
  ingest_run_id text, source text, delivery_date date, feed text, _file text, file_sha256 text, status text,
  reason text, manifest_rows bigint, rows_in bigint, rows_accepted bigint, rows_duplicate bigint,
  rows_quarantined bigint, rows_late bigint, rows_promoted bigint, quarantined_by_rule jsonb, flagged_by_rule jsonb,
  unknown_columns text[], expectations_passed boolean, expectation_failures text[],
  started_at timestamptz, finished_at timestamptz, _file_sha256 text,
  primary key (ingest_run_id, _file, _file_sha256));
-- rows that left the quarantine when the registry learnt their entity (ingest/promote.py)
alter table lake.ingest_runs add column if not exists rows_promoted bigint;
create table if not exists lake._publish_state (
  table_name text primary key, delta_version bigint not null, published_at timestamptz not null default now());
-- raw rows of the quarantine can hold personal data: loader only
grant select, insert, update, delete on lake.quarantine_rows, lake.ingest_runs, lake._publish_state
  to lakehouse_loader;
grant select (_table, _source, _delivery_date, _file, _file_sha256, _row_number, _ingest_run_id, _ingested_at,
  record_key, rule_ids, reasons) on lake.quarantine_rows to lakehouse_transformer;
grant select on lake.ingest_runs to lakehouse_transformer;
"""


@contextmanager
def connect(role: str | None = None, **overrides):
    """A connection to the warehouse. `role` names the project role the caller
    acts as ("loader" writes lake.*, "transformer" is dbt, "analyst" and
    "dashboard" read marts, "admin" bootstraps); every caller says which, so
    credentials are chosen in this one place."""
    import psycopg2

    cfg = settings()
    params = dict(host=cfg.pg_host, port=cfg.pg_port, user=cfg.pg_user, dbname=cfg.pg_database)
    if cfg.pg_password:
        params["password"] = cfg.pg_password
    params.update(overrides)
    conn = psycopg2.connect(**params)
    try:
        yield conn
    finally:
        conn.close()


def bootstrap() -> None:
    """Schemas and roles (idempotent)."""
    with connect() as conn, conn.cursor() as cur:
        cur.execute(BOOTSTRAP_SQL.read_text(encoding="utf-8"))
        conn.commit()


def lake_columns(table: Table) -> list[tuple[str, str]]:
    return [(c.name, postgres_type(c.type)) for c in table.all_columns] + [("_row_hash", "text")]


def lake_ddl(table: Table) -> str:
    cols = ",\n  ".join(f'"{n}" {t}' for n, t in lake_columns(table))
    key = ", ".join(f'"{k}"' for k in table.key)
    return (f"create table if not exists lake.{table.name} (\n  {cols},\n  primary key ({key})\n);\n"
            f"comment on table lake.{table.name} is {_quote(table.description)};")


def lake_grants(table: Table) -> str:
    """The loader writes; the transformer (dbt) reads every column but the
    personal ones, so no mart can ever carry them."""
    public_cols = ", ".join(f'"{c.name}"' for c in table.all_columns if not c.pii) + ', "_row_hash"'
    return (f"grant select, insert, update, delete, truncate on lake.{table.name} to lakehouse_loader;\n"
            f"grant select ({public_cols}) on lake.{table.name} to lakehouse_transformer;")


def ensure_lake_tables(catalog: Catalog) -> None:
    with connect() as conn, conn.cursor() as cur:
        for table in catalog.tables.values():
            cur.execute(lake_ddl(table))
            cur.execute(lake_grants(table))
        cur.execute(OPS_DDL)
        conn.commit()


def _quote(text: str) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def psql_line() -> str:
    cfg = settings()
    return f"psql 'host={cfg.pg_host} port={cfg.pg_port} user={cfg.pg_user} dbname={cfg.pg_database}'"
