"""PostgreSQL: connections, the lake schema derived from schemas/, roles."""

from __future__ import annotations

import atexit
import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from lakehouse import credentials
from lakehouse.catalog import Catalog, Column, Table, ops_tables
from lakehouse.catalog.types import postgres_type
from lakehouse.config import PG_ROLES, settings

BOOTSTRAP_SQL = Path(__file__).with_name("warehouse_bootstrap.sql")

# Ops tables published beside the silver tables, with their natural keys (catalog/ops_tables.py).
OPS_TABLES = {t.pg_name: (t.layer, t.name, list(t.pg_key)) for t in ops_tables.PUBLISHED}


OPS_DDL = "\n".join(t.postgres_ddl() for t in ops_tables.PUBLISHED) + """
create table if not exists lake._publish_state (
  table_name text primary key, delta_version bigint not null, published_at timestamptz not null default now());
grant select, insert, update, delete, truncate on lake.quarantine_rows, lake.ingest_runs, lake._publish_state
  to lakehouse_loader;
-- raw rows of the quarantine: personal fields masked in lake, clear in private (privacy officer only)
create table if not exists private.quarantine_rows (
  _table text, _file text, _file_sha256 text, _row_number bigint, raw jsonb,
  primary key (_table, _file, _file_sha256, _row_number));
grant select on private.quarantine_rows to lakehouse_privacy_officer;
create or replace function private.protect_quarantine_rows() returns trigger
language plpgsql security definer set search_path = pg_catalog, private as $fn$
begin
  if tg_op = 'DELETE' then
    delete from private.quarantine_rows p where p._table = old._table and p._file = old._file
      and p._file_sha256 = old._file_sha256 and p._row_number = old._row_number;
    return old;
  end if;
  if tg_op = 'INSERT' or new.raw is distinct from old.raw or not exists (
      select 1 from private.quarantine_rows p where p._table = new._table and p._file = new._file
        and p._file_sha256 = new._file_sha256 and p._row_number = new._row_number) then
    insert into private.quarantine_rows values (new._table, new._file, new._file_sha256, new._row_number, new.raw)
      on conflict (_table, _file, _file_sha256, _row_number) do update set raw = excluded.raw;
    new.raw := private.mask_fields(new._table, new.raw);
  end if;
  return new;
end $fn$;
create or replace trigger protect_personal before insert or update or delete on lake.quarantine_rows
  for each row execute function private.protect_quarantine_rows();
create or replace function private.truncate_quarantine_rows() returns trigger
language plpgsql security definer set search_path = pg_catalog, private as $fn$
begin truncate private.quarantine_rows; return null; end $fn$;
create or replace trigger protect_personal_truncate after truncate on lake.quarantine_rows
  for each statement execute function private.truncate_quarantine_rows();
grant select (_table, _source, _delivery_date, _file, _file_sha256, _row_number, _ingest_run_id, _ingested_at,
  record_key, rule_ids, reasons) on lake.quarantine_rows to lakehouse_transformer;
grant select on lake.ingest_runs to lakehouse_transformer;
"""


@contextmanager
def connect(role: str | None = None, **overrides):
    """A connection to the warehouse as one project role: "loader" writes
    lake.* (the pipeline, publish), "transformer" is dbt, "analyst" and
    "dashboard" read marts, "privacy_officer" reads the clear personal data,
    "admin" bootstraps (the only superuser). Credentials are chosen here: the
    secrets file for the embedded cluster, the environment for an external one."""
    import psycopg2

    if role is None:
        raise ValueError("warehouse.connect() needs role=: one of " + ", ".join(PG_ROLES) +
                         " (the job the caller does; see src/lakehouse/serving/warehouse_bootstrap.sql)")
    cfg = settings()
    params = dict(host=cfg.pg_host, port=cfg.pg_port, dbname=cfg.pg_database, **_login(role, cfg))
    params.update(overrides)
    conn = psycopg2.connect(**params)
    try:
        yield conn
    finally:
        conn.close()


def _login(role: str, cfg) -> dict[str, str]:
    """user= and, with a password, passfile= for libpq; the password stays in
    this returned frame, out of connect()'s arguments and locals."""
    user, password = credentials.pg_credentials(role)
    return {"user": user, **({"passfile": _passfile(cfg.pg_host, cfg.pg_port, user, password)} if password else {})}


_passfile_state: dict = {}     # this process's {"pid", "path", "lines"}


def _passfile(host: str, port: int | str, user: str, password: str) -> str:
    """An owner-only libpq password file holding this process's credentials.
    The password never becomes a connect() argument: tracebacks (pytest's,
    Airflow's task logs) print arguments, never a file's contents."""
    def esc(v) -> str:
        return str(v).replace("\\", "\\\\").replace(":", "\\:")
    line = ":".join(esc(v) for v in (host, port, "*", user, password))
    state = _passfile_state
    if state.get("pid") != os.getpid():       # a forked task makes its own; the parent's may go first
        fd, path = tempfile.mkstemp(prefix="lakehouse-pgpass-")
        os.close(fd)
        pid = os.getpid()
        atexit.register(lambda: os.getpid() == pid and Path(path).unlink(missing_ok=True))
        state.update(pid=pid, path=path, lines=[])
    new = line not in state["lines"]
    if new:
        state["lines"].insert(0, line)        # libpq takes the first match: the newest password wins
    if new or not Path(state["path"]).exists():
        credentials.write_private(Path(state["path"]), "\n".join(state["lines"]) + "\n")
    return state["path"]


def ensure_database(name: str, owner_role: str = "admin") -> bool:
    """Create database `name` on the project's PostgreSQL if it is missing (as
    admin), owned by `owner_role`'s user; True if it was created. Another
    role's database is refused: its tables would not be the owner's to use."""
    owner, _ = credentials.pg_credentials(owner_role)
    with connect("admin", dbname="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select pg_get_userbyid(datdba) from pg_database where datname = %s", (name,))
            row = cur.fetchone()
            if row is not None:
                if row[0] != owner and owner_role != "admin":
                    raise ValueError(f"database {name} belongs to {row[0]}, not {owner} (made before "
                                     f"{owner_role} had its own role): drop it and run this again")
                return False
            cur.execute("select 1 from pg_roles where rolname = %s", (owner,))
            if cur.fetchone() is None:
                raise ValueError(f"role {owner} does not exist yet: run `lakehouse db start` (it creates the roles)")
            cur.execute(f'create database "{name}" owner "{owner}"')
            if owner_role != "admin":   # only its owner connects, as in the warehouse database
                cur.execute(f'revoke all on database "{name}" from public')
            return True


def bootstrap() -> None:
    """Schemas, roles, grants, the pseudonymisation key (idempotent; as admin)."""
    with connect("admin") as conn, conn.cursor() as cur:
        cur.execute(BOOTSTRAP_SQL.read_text(encoding="utf-8"))
        for role in PG_ROLES:
            if role == "admin":
                continue
            user, password = credentials.pg_credentials(role)
            if password and user == credentials.ROLE_NAMES[role]:
                cur.execute("set local password_encryption = 'scram-sha-256'")
                cur.execute(f'alter role "{user}" password %s', (password,))
        ipad, opad = hmac_pads(credentials.pseudonym_key())
        cur.execute("insert into private.pseudonym_key (id, ipad, opad) values (1, %s, %s) "
                    "on conflict (id) do update set ipad = excluded.ipad, opad = excluded.opad", (ipad, opad))
        conn.commit()


def hmac_pads(key_hex: str) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer padded keys, so PostgreSQL computes the
    HMAC with its built-in sha256() (no extension needed)."""
    key = bytes.fromhex(key_hex)
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def lake_columns(table: Table) -> list[tuple[str, str]]:
    return [(c.name, postgres_type(c.type)) for c in table.all_columns] + [("_row_hash", "text")]


def lake_ddl(table: Table) -> str:
    cols = ",\n  ".join(f'"{n}" {t}' for n, t in lake_columns(table))
    key = ", ".join(f'"{k}"' for k in table.key)
    return (f"create table if not exists lake.{table.name} (\n  {cols},\n  primary key ({key})\n);\n"
            f"comment on table lake.{table.name} is {_quote(table.description)};")


def lake_grants(table: Table) -> str:
    """The loader writes; the transformer (dbt) reads. Personal columns in
    lake.* only ever hold masked forms (see personal_ddl), so both may read them."""
    return (f"grant select, insert, update, delete, truncate on lake.{table.name} to lakehouse_loader;\n"
            f"grant select on lake.{table.name} to lakehouse_transformer;")


# --------------------------------------------------------------------------- personal data
# A column marked `pii: true` in schemas/ never rests in clear in lake.*: a
# trigger (running as its owner, the admin) moves the clear value into
# private.<table> (readable by lakehouse_privacy_officer only), keeps a keyed
# hash in <column>_hmac for joins, and leaves the masked display form
# (310114********4990) in the column. Writers need no privilege on private.*:
# the loader writes personal data without being able to read it back.

def personal_columns(table: Table) -> list[Column]:
    cols = [c for c in table.all_columns if c.pii]
    for c in cols:
        if postgres_type(c.type) not in ("text", "text[]"):
            raise ValueError(f"schemas/tables/{table.name}.yaml: {c.name} is pii but {c.type}; "
                             "only string and array<string> columns can be masked")
    return cols


def personal_ddl(table: Table) -> str:
    pii = personal_columns(table)
    if not pii:
        return ""
    t = table.name
    types = {c.name: postgres_type(c.type) for c in table.all_columns}
    keys = list(table.key)
    key_match_new = " and ".join(f'p."{k}" = new."{k}"' for k in keys)
    key_match_old = " and ".join(f'p."{k}" = old."{k}"' for k in keys)
    key_cols = ", ".join(f'"{k}"' for k in keys)
    cols_def = ", ".join(f'"{c}" {types[c]}' for c in [*keys, *(c.name for c in pii)])
    # the SQL helper for a column's kind: private.mask_text / private.mask_array (and pseudonym_*)
    kind = {c.name: "array" if types[c.name] == "text[]" else "text" for c in pii}
    new_key_vals = ", ".join(f'new."{k}"' for k in keys)
    pii_cols = ", ".join(f'"{c.name}"' for c in pii)
    # an insert (how publish writes) keeps all clear values in one statement; an update only the changed ones
    on_insert = f"""
  if tg_op = 'INSERT' then
    insert into private.{t} ({key_cols}, {pii_cols})
      values ({new_key_vals}, {", ".join(f'new."{c.name}"' for c in pii)})
      on conflict ({key_cols}) do update set {", ".join(f'"{c.name}" = excluded."{c.name}"' for c in pii)};
  end if;"""
    per_column = on_insert + "\n".join(f"""
  if tg_op = 'INSERT' or new."{c.name}" is distinct from old."{c.name}" or not processed then
    if tg_op = 'UPDATE' then
      insert into private.{t} ({key_cols}, "{c.name}") values ({new_key_vals}, new."{c.name}")
        on conflict ({key_cols}) do update set "{c.name}" = excluded."{c.name}";
    end if;
    new."{c.name}_hmac" := private.pseudonym_{kind[c.name]}(new."{c.name}");
    new."{c.name}" := private.mask_{kind[c.name]}(new."{c.name}");
  end if;""" for c in pii)
    add_cols = "\n".join(f'alter table lake.{t} add column if not exists "{c.name}_hmac" {types[c.name]};\n'
                          f'comment on column lake.{t}."{c.name}_hmac" is '
                          f"'keyed hash (HMAC-SHA256) of {c.name}, for joins; clear value in private.{t}';"
                          for c in pii)
    return f"""
create table if not exists private.{t} ({cols_def}, primary key ({key_cols}));
grant select on private.{t} to lakehouse_privacy_officer;
{add_cols}
create or replace function private.protect_{t}() returns trigger
language plpgsql security definer set search_path = pg_catalog, private as $fn$
declare processed boolean := true;
begin
  if tg_op = 'DELETE' then
    delete from private.{t} p where {key_match_old};
    return old;
  end if;
  if tg_op = 'UPDATE' then
    processed := exists (select 1 from private.{t} p where {key_match_new});
  end if;{per_column}
  return new;
end $fn$;
create or replace trigger protect_personal before insert or update or delete on lake.{t}
  for each row execute function private.protect_{t}();
create or replace function private.truncate_{t}() returns trigger
language plpgsql security definer set search_path = pg_catalog, private as $fn$
begin truncate private.{t}; return null; end $fn$;
create or replace trigger protect_personal_truncate after truncate on lake.{t}
  for each statement execute function private.truncate_{t}();
"""


def personal_fields(catalog: Catalog) -> list[tuple[str, str]]:
    """(table, field name as a source sends it) for every personal column: the
    keys of lake.quarantine_rows.raw whose values are masked."""
    out = set()
    for table in catalog.tables.values():
        pii = {c.name for c in personal_columns(table)}
        out |= {(table.name, c) for c in pii}
        for tpl in catalog.templates.values():
            out |= {(table.name, h) for h, f in tpl.headers.get(table.feed, {}).items() if f in pii}
        for src in catalog.sources.values():
            out |= {(table.name, r.header) for r in src.renames if r.field in pii}
    return sorted(out)


def ensure_lake_tables(catalog: Catalog) -> None:
    """lake.* tables from schemas/ (DDL: as admin, which owns them)."""
    with connect("admin") as conn, conn.cursor() as cur:
        for table in catalog.tables.values():
            cur.execute(lake_ddl(table))
            cur.execute(lake_grants(table))
            ddl = personal_ddl(table)
            if ddl:
                cur.execute(ddl)
        cur.execute(OPS_DDL)
        cur.execute("truncate private.personal_fields")
        cur.executemany("insert into private.personal_fields values (%s, %s)", personal_fields(catalog))
        # rows written before the personal data was protected: the trigger moves them now
        for table in catalog.tables.values():
            pii = personal_columns(table)
            if pii:
                keys = " and ".join(f'p."{k}" = l."{k}"' for k in table.key)
                cur.execute(f'update lake.{table.name} l set "{pii[0].name}" = "{pii[0].name}" '
                            f"where not exists (select 1 from private.{table.name} p where {keys})")
        cur.execute("update lake.quarantine_rows l set raw = raw where raw is not null and not exists "
                    "(select 1 from private.quarantine_rows p where p._table = l._table and p._file = l._file "
                    "and p._file_sha256 = l._file_sha256 and p._row_number = l._row_number)")
        conn.commit()


def _quote(text: str) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def psql_line(role: str = "analyst") -> str:
    """How a person connects as `role` (the password stays in the secrets file)."""
    return f'psql "$(lakehouse db credentials {role})"'
