"""Every setting the project reads, from environment variables with defaults
for the embedded (one laptop, no Docker) set-up. Nothing else reads os.environ
for configuration, so this file is the list of knobs."""

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
    spark_remote: str | None   # sc://host:15002 -> Spark Connect instead of a local JVM
    schemas_dir: Path
    expectations_dir: Path     # GX suites (derived from schemas/, see `lakehouse suites`)
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str
    pg_embedded: bool          # True: the project runs its own cluster under home/postgres
    airflow_home: Path
    overdue_after_days: int    # dual notification without feedback after this many days is overdue
    start_date: date | None    # first delivery day the daily DAGs schedule (None: only the catch-up window)
    catchup_days: int          # days before today the daily DAGs still schedule when switched on
    delivery_cutoff_hours: float  # a business day's delivery is missing this many hours after the day ends

    @property
    def pg_dsn(self) -> str:
        return (f"host={self.pg_host} port={self.pg_port} user={self.pg_user} "
                f"dbname={self.pg_database}" + (f" password={self.pg_password}" if self.pg_password else ""))

    def lake_path(self, *parts: str) -> str:
        return "/".join([self.lake.rstrip("/"), *parts])


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
        spark_remote=os.environ.get("SPARK_REMOTE") or None,
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
        start_date=date.fromisoformat(os.environ["LAKEHOUSE_START_DATE"])
        if os.environ.get("LAKEHOUSE_START_DATE") else None,
        catchup_days=int(_env("LAKEHOUSE_CATCHUP_DAYS", "3")),
        delivery_cutoff_hours=float(_env("LAKEHOUSE_DELIVERY_CUTOFF", "6")),
    )


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


def airflow_env() -> dict[str, str]:
    """Environment Airflow needs for the embedded default (SQLite metadata, the
    repo's dags/ folder, no examples). Values already set by the user win."""
    cfg = settings()
    defaults = {
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{cfg.airflow_home}/airflow.db",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(cfg.home / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "LAKEHOUSE_HOME": str(cfg.home),
    }
    return {k: os.environ.get(k) or v for k, v in defaults.items()}


def apply_airflow_env() -> None:
    """Export airflow_env() into this process, before airflow is imported."""
    os.environ.update(airflow_env())
