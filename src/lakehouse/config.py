"""Every setting the project reads, from environment variables with defaults
for the embedded (one laptop, no Docker) set-up. Nothing else reads os.environ
for configuration, so this file is the list of knobs. (Other modules only
hand the environment on: to a child process, or to Airflow, Spark or dbt,
which read their own variables; each such place says so.)"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    home: Path                 # everything the project writes at run time
    landing: str               # landing/<source>/<date>/ folders
    lake: str                  # Delta tables: local folder or s3a://bucket/prefix
    jars_dir: Path             # JVM jars fetched by Maven (see jvm/pom.xml)
    spark_master: str          # local[*], spark://host:7077, ...
    spark_master_given: bool   # LAKEHOUSE_SPARK_MASTER is set: a driver of this process on it, not the warm engine
    spark_remote: str | None   # sc://host:15002 -> Spark Connect instead of a local JVM
    warm_engine: bool          # LAKEHOUSE_WARM_ENGINE (on): use this home's Connect server when it runs
    schemas_dir: Path
    expectations_dir: Path     # GX suites (derived from schemas/, see `lakehouse suites`)
    pg_host: str
    pg_port: int
    pg_user: str               # the bootstrap (admin) role; the other roles: pg_role_credentials()
    pg_password: str
    pg_database: str
    pg_embedded: bool          # True: the project runs its own cluster under home/postgres
    airflow_home: Path
    overdue_after_days: int    # dual notification without feedback after this many days is overdue
    report_dir: Path           # the supervision report (index.html), see `lakehouse report`
    log_level: str             # LAKEHOUSE_LOG_LEVEL: INFO = the project's progress only, DEBUG = libraries too
    lock_wait_seconds: float   # how long a second ingest/publish of the same lake waits for the lock
    fault_kill_after_commits: int | None   # TEST HOOK (see faults.py): SIGKILL self after the Nth commit
    fault_kill_table: str | None           # TEST HOOK: count only commits to a target ending with this
    vacuum_retain_days: int    # `lakehouse maintain`: time travel kept this many days, older files vacuumed
    checkpoint_interval: int   # Delta checkpoint every this many commits (delta.checkpointInterval)
    maintain_schedule: str     # when the maintain_lake DAG runs (cron or preset)
    start_date: date | None    # first delivery day the daily DAGs schedule (None: only the catch-up window)
    catchup_days: int          # days before today the daily DAGs still schedule when switched on
    delivery_cutoff_hours: float  # a business day's delivery is missing this many hours after the day ends
    # object storage (used when `lake` is s3a://...): credentials and endpoint of an S3-compatible server
    s3_endpoint: str           # "" = AWS itself; http://127.0.0.1:9000 for MinIO or moto
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    # Airflow's metadata database: "sqlite" (embedded default) or "postgres"
    # (a database `airflow_database` on the project's PostgreSQL, LocalExecutor)
    airflow_metadata: str
    airflow_database: str
    # the local services of `lakehouse cluster|connect|s3 up` (tries of the scaled-out column)
    cluster_port: int          # standalone master: spark://127.0.0.1:<port>
    connect_port: int          # Spark Connect server: sc://127.0.0.1:<port>
    superset_port: int         # `lakehouse dashboards start`: Superset's web server on 127.0.0.1
    connect_stop_timeout: float  # seconds a killed batch's server operations get to stop before its undo
    s3_port: int               # moto's S3 server: http://127.0.0.1:<port>
    service_memory: str        # heap of each local worker and executor (the Connect server: the driver's)

    secrets_file: Path         # owner-only JSON: PostgreSQL role passwords, pseudonym key, Airflow admin
    file_mode: str             # "owner" (umask 077, the default) or "group" (umask 027: a shared group reads)

    def lake_path(self, *parts: str) -> str:
        return "/".join([self.lake.rstrip("/"), *parts])

    @property
    def run_dir(self) -> Path:
        """Pidfiles of the local services (and the warm engine's address)."""
        return self.home / "run"

    @property
    def lake_on_s3(self) -> bool:
        return self.lake.startswith("s3a://")

    @property
    def uses_s3a(self) -> bool:
        """The lake or the landing is on object storage: Spark needs the s3a jars and settings."""
        return self.lake_on_s3 or self.landing.startswith("s3a://")


@lru_cache(maxsize=1)
def settings() -> Settings:
    home = Path(_env("LAKEHOUSE_HOME", str(REPO_ROOT / ".lakehouse"))).resolve()
    external_pg = bool(os.environ.get("PGHOST"))
    return Settings(
        home=home,
        landing=_env("LAKEHOUSE_LANDING", str(home / "landing")),
        lake=_env("LAKEHOUSE_LAKE", str(home / "lake")),
        jars_dir=Path(_env("LAKEHOUSE_JARS_DIR", str(home / "jars"))),
        spark_master=_env("LAKEHOUSE_SPARK_MASTER", "local[2]"),
        spark_master_given=bool(os.environ.get("LAKEHOUSE_SPARK_MASTER")),
        spark_remote=os.environ.get("SPARK_REMOTE") or None,
        warm_engine=_on_off("LAKEHOUSE_WARM_ENGINE", "on"),
        schemas_dir=Path(_env("LAKEHOUSE_SCHEMAS", str(REPO_ROOT / "schemas"))),
        expectations_dir=Path(_env("LAKEHOUSE_EXPECTATIONS", str(REPO_ROOT / "expectations"))),
        pg_host=_env("PGHOST", "127.0.0.1"),
        pg_port=int(_env("PGPORT", "55432")),
        pg_user=_env("PGUSER", "lakehouse"),
        pg_password=_env("PGPASSWORD", ""),
        pg_database=_env("PGDATABASE", "lakehouse"),
        pg_embedded=not external_pg,
        airflow_home=Path(_env("AIRFLOW_HOME", str(home / "airflow"))),
        overdue_after_days=int(_env("LAKEHOUSE_OVERDUE_AFTER_DAYS", "30")),
        secrets_file=Path(_env("LAKEHOUSE_SECRETS_FILE", str(home / "secrets.json"))),
        file_mode=_file_mode(),
        report_dir=Path(_env("LAKEHOUSE_REPORT_DIR", str(home / "report"))),
        log_level=_env("LAKEHOUSE_LOG_LEVEL", "INFO").upper(),
        lock_wait_seconds=float(_env("LAKEHOUSE_LOCK_WAIT_SECONDS", "600")),
        fault_kill_after_commits=int(os.environ["LAKEHOUSE_FAULT_KILL_AFTER_COMMITS"])
        if os.environ.get("LAKEHOUSE_FAULT_KILL_AFTER_COMMITS") else None,
        fault_kill_table=os.environ.get("LAKEHOUSE_FAULT_KILL_TABLE") or None,
        vacuum_retain_days=int(_env("LAKEHOUSE_VACUUM_RETAIN_DAYS", "7")),
        checkpoint_interval=int(_env("LAKEHOUSE_CHECKPOINT_INTERVAL", "10")),
        maintain_schedule=_env("LAKEHOUSE_MAINTAIN_SCHEDULE", "@weekly"),
        start_date=date.fromisoformat(os.environ["LAKEHOUSE_START_DATE"])
        if os.environ.get("LAKEHOUSE_START_DATE") else None,
        catchup_days=int(_env("LAKEHOUSE_CATCHUP_DAYS", "3")),
        delivery_cutoff_hours=float(_env("LAKEHOUSE_DELIVERY_CUTOFF", "6")),
        s3_endpoint=_env("LAKEHOUSE_S3_ENDPOINT", _env("AWS_ENDPOINT_URL", "")),
        s3_access_key=_env("AWS_ACCESS_KEY_ID", ""),
        s3_secret_key=_env("AWS_SECRET_ACCESS_KEY", ""),
        s3_region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        airflow_metadata=_airflow_metadata(),
        airflow_database=_env("LAKEHOUSE_AIRFLOW_DATABASE", "airflow"),
        cluster_port=int(_env("LAKEHOUSE_CLUSTER_PORT", "7077")),
        connect_port=int(_env("LAKEHOUSE_CONNECT_PORT", "15002")),
        superset_port=int(_env("LAKEHOUSE_SUPERSET_PORT", "8088")),
        connect_stop_timeout=float(_env("LAKEHOUSE_CONNECT_STOP_TIMEOUT", "120")),
        s3_port=int(_env("LAKEHOUSE_S3_PORT", "9000")),
        service_memory=_env("LAKEHOUSE_SERVICE_MEMORY", "1g"),
    )


def _on_off(name: str, default: str) -> bool:
    value = _env(name, default).lower()
    if value not in ("on", "off"):
        raise ValueError(f"{name}={value!r}: use 'on' or 'off'")
    return value == "on"


def _airflow_metadata() -> str:
    kind = _env("LAKEHOUSE_AIRFLOW_METADATA", "sqlite")
    if kind not in ("sqlite", "postgres"):
        raise ValueError(f"LAKEHOUSE_AIRFLOW_METADATA={kind!r}: use 'sqlite' (embedded default) or 'postgres'")
    return kind


# --------------------------------------------------------------------------- warehouse roles
# The project's roles, by the job they do (see serving/warehouse_bootstrap.sql); airflow
# owns only Airflow's metadata database (LAKEHOUSE_AIRFLOW_METADATA=postgres).
PG_ROLES = ("admin", "loader", "transformer", "analyst", "dashboard", "privacy_officer", "airflow")


def pg_role_credentials(role: str) -> tuple[str, str | None]:
    """(user, password or None) for a role when PGHOST points at an external server.

    Per role: LAKEHOUSE_PG_<ROLE>_USER / LAKEHOUSE_PG_<ROLE>_PASSWORD (e.g.
    LAKEHOUSE_PG_LOADER_PASSWORD). A role without its own variables uses the
    one account of PGUSER/PGPASSWORD. A password of None lets libpq look in
    PGPASSFILE (~/.pgpass). The embedded cluster's roles come from the secrets
    file instead (lakehouse.credentials)."""
    cfg = settings()
    prefix = f"LAKEHOUSE_PG_{role.upper()}_"
    user = _env(prefix + "USER", cfg.pg_user)
    password = os.environ.get(prefix + "PASSWORD") or (cfg.pg_password if user == cfg.pg_user else "") or None
    return user, password


def pseudonym_key_from_env() -> str | None:
    """LAKEHOUSE_PSEUDONYM_KEY: the HMAC key of personal data (external PostgreSQL;
    the embedded default generates one into the secrets file)."""
    return os.environ.get("LAKEHOUSE_PSEUDONYM_KEY") or None


# --------------------------------------------------------------------------- file permissions

def _file_mode() -> str:
    """LAKEHOUSE_FILE_MODE: "owner" (default: files only the owner reads) or
    "group" (the owner's group reads too, for a team sharing one lake)."""
    mode = _env("LAKEHOUSE_FILE_MODE", "owner")
    if mode not in ("owner", "group"):
        raise ValueError(f"LAKEHOUSE_FILE_MODE={mode!r}: use 'owner' (default) or 'group'")
    return mode


def apply_file_mode() -> None:
    """Every file the project writes (lake, landing copy, logs, secrets) gets
    owner-only permissions, or group-readable with LAKEHOUSE_FILE_MODE=group.
    Set as the process umask, so Spark's JVM and Airflow's workers inherit it."""
    os.umask(0o027 if settings().file_mode == "group" else 0o077)


def now() -> datetime:
    """The current time (UTC), or LAKEHOUSE_NOW (ISO 8601, e.g. 2017-04-18T09:00+08:00) when a
    test or a replay freezes the clock. Read on every call, not cached."""
    frozen = os.environ.get("LAKEHOUSE_NOW")
    if not frozen:
        return datetime.now(timezone.utc)
    value = datetime.fromisoformat(frozen)
    if value.tzinfo is None:
        raise ValueError(f"LAKEHOUSE_NOW={frozen!r} has no time zone: write e.g. {frozen}+08:00")
    return value.astimezone(timezone.utc)


# --------------------------------------------------------------------------- tuning knobs
# Read on every call, not cached in settings(): tests and the benchmark change
# them between runs within one process.

def batch_rows() -> int:
    """LAKEHOUSE_BATCH_ROWS: rows staged at most per ingest batch. The staged rows live
    in Spark (persisted, spilling to disk), not in the driver: a year of the city is one batch."""
    return int(_env("LAKEHOUSE_BATCH_ROWS", "5000000"))


def table_workers() -> int:
    """LAKEHOUSE_TABLE_WORKERS: tables written at once in a small batch (default 3)."""
    return int(_env("LAKEHOUSE_TABLE_WORKERS", "3"))


def gx_pandas_max_rows() -> int:
    """LAKEHOUSE_GX_PANDAS_MAX_ROWS: batches up to this size are validated on GX's pandas engine."""
    return int(_env("LAKEHOUSE_GX_PANDAS_MAX_ROWS", "2000000"))


def small_lake_bytes() -> int:
    """LAKEHOUSE_SMALL_LAKE_BYTES: silver up to this size counts as a small
    lake (lakehouse.lake.spark.small_lake; default 256 MiB)."""
    return int(_env("LAKEHOUSE_SMALL_LAKE_BYTES", str(256 * 1024 * 1024)))


def pg_bin_override() -> str | None:
    """LAKEHOUSE_PG_BIN: the PostgreSQL server binaries to use (None: search)."""
    return os.environ.get("LAKEHOUSE_PG_BIN") or None


def spark_setting(key: str, default: str) -> str:
    """A project Spark setting (e.g. spark.driver.memory), overridden by
    LAKEHOUSE_SPARK_<KEY> (LAKEHOUSE_SPARK_SPARK_DRIVER_MEMORY=16g)."""
    return os.environ.get("LAKEHOUSE_SPARK_" + key.replace(".", "_").upper(), default)


def airflow_port() -> int:
    """LAKEHOUSE_AIRFLOW_PORT (default 8080): the UI and API; the next two ports
    are Airflow's task log server and the triggerer's log server."""
    text = _env("LAKEHOUSE_AIRFLOW_PORT", "8080")
    if not text.isdigit() or not 1024 <= int(text) <= 65533:
        raise ValueError(f"LAKEHOUSE_AIRFLOW_PORT={text!r}: use a port number from 1024 to 65533 "
                         "(it and the next two are Airflow's), e.g. LAKEHOUSE_AIRFLOW_PORT=8090")
    return int(text)
