"""Every setting the project reads, from environment variables with defaults
for the embedded (one laptop, no Docker) set-up. Nothing else reads os.environ
for configuration, so this file is the list of knobs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

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
    s3_port: int               # moto's S3 server: http://127.0.0.1:<port>
    service_memory: str        # heap of each local worker / executor / Connect server

    @property
    def pg_dsn(self) -> str:
        return (f"host={self.pg_host} port={self.pg_port} user={self.pg_user} "
                f"dbname={self.pg_database}" + (f" password={self.pg_password}" if self.pg_password else ""))

    def lake_path(self, *parts: str) -> str:
        return "/".join([self.lake.rstrip("/"), *parts])

    @property
    def lake_on_s3(self) -> bool:
        return self.lake.startswith("s3a://")

    @property
    def airflow_sql_alchemy_conn(self) -> str:
        """The one place Airflow's metadata connection is assembled. On
        PostgreSQL it uses the project's server and login (PGHOST, PGPORT,
        PGUSER, PGPASSWORD); a per-role Airflow password would be chosen here."""
        if self.airflow_metadata == "sqlite":
            return f"sqlite:///{self.airflow_home}/airflow.db"
        login = quote(self.pg_user, safe="") + (":" + quote(self.pg_password, safe="") if self.pg_password else "")
        return f"postgresql+psycopg2://{login}@{self.pg_host}:{self.pg_port}/{self.airflow_database}"


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
        s3_endpoint=_env("LAKEHOUSE_S3_ENDPOINT", _env("AWS_ENDPOINT_URL", "")),
        s3_access_key=_env("AWS_ACCESS_KEY_ID", ""),
        s3_secret_key=_env("AWS_SECRET_ACCESS_KEY", ""),
        s3_region=_env("AWS_REGION", _env("AWS_DEFAULT_REGION", "us-east-1")),
        airflow_metadata=_airflow_metadata(),
        airflow_database=_env("LAKEHOUSE_AIRFLOW_DATABASE", "airflow"),
        cluster_port=int(_env("LAKEHOUSE_CLUSTER_PORT", "7077")),
        connect_port=int(_env("LAKEHOUSE_CONNECT_PORT", "15002")),
        s3_port=int(_env("LAKEHOUSE_S3_PORT", "9000")),
        service_memory=_env("LAKEHOUSE_SERVICE_MEMORY", "1g"),
    )


def _airflow_metadata() -> str:
    kind = _env("LAKEHOUSE_AIRFLOW_METADATA", "sqlite")
    if kind not in ("sqlite", "postgres"):
        raise ValueError(f"LAKEHOUSE_AIRFLOW_METADATA={kind!r}: use 'sqlite' (embedded default) or 'postgres'")
    return kind


def airflow_env() -> dict[str, str]:
    """Environment Airflow needs: the repo's dags/ folder, no examples, and the
    metadata database of settings (SQLite by default; PostgreSQL with the
    LocalExecutor when LAKEHOUSE_AIRFLOW_METADATA=postgres). Values already
    set by the user win."""
    cfg = settings()
    defaults = {
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": cfg.airflow_sql_alchemy_conn,
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(cfg.home / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "LAKEHOUSE_HOME": str(cfg.home),
    }
    if cfg.airflow_metadata == "postgres":
        defaults["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    return {k: os.environ.get(k) or v for k, v in defaults.items()}


def apply_airflow_env() -> None:
    """Export airflow_env() into this process, before airflow is imported."""
    os.environ.update(airflow_env())
