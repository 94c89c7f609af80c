"""The environment Airflow runs with, assembled from the project's settings
(config.py) and, for PostgreSQL metadata, the airflow role's credentials
(credentials.py): the one list of Airflow variables the project sets, which
the CLI, the demo, the Airflow UI command, docker/entrypoint.sh and the tests
all read. This module only hands values on to Airflow; the knobs are in
config.py."""

from __future__ import annotations

import os
from urllib.parse import quote

from lakehouse import credentials
from lakehouse.config import REPO_ROOT, airflow_port, apply_file_mode, settings


def airflow_metadata_url() -> str:
    """The one place Airflow's metadata connection is assembled. On
    PostgreSQL it uses the project's server (PGHOST, PGPORT) as the airflow
    role, which owns the Airflow database and nothing else: its password is
    in the embedded cluster's secrets file, or LAKEHOUSE_PG_AIRFLOW_USER /
    _PASSWORD on an external server (default: PGUSER's account)."""
    cfg = settings()
    if cfg.airflow_metadata == "sqlite":
        return f"sqlite:///{cfg.airflow_home}/airflow.db"
    user, password = credentials.pg_credentials("airflow")
    login = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return f"postgresql+psycopg2://{login}@{cfg.pg_host}:{cfg.pg_port}/{cfg.airflow_database}"


def airflow_env() -> dict[str, str]:
    """Environment Airflow needs: the repo's dags/ folder, no examples, and the
    metadata database of settings (SQLite by default; PostgreSQL with the
    LocalExecutor when LAKEHOUSE_AIRFLOW_METADATA=postgres). Values already
    set by the user win, except the four ports derived from an explicitly set
    LAKEHOUSE_AIRFLOW_PORT."""
    cfg = settings()
    cores = os.cpu_count() or 2
    port = airflow_port()
    defaults = {
        "AIRFLOW_HOME": str(cfg.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_metadata_url(),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(cfg.home / "logs"),
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "SPARK_LOCAL_IP": "127.0.0.1",
        "LAKEHOUSE_HOME": str(cfg.home),
        # sized to the machine, not Airflow's 32 workers
        "AIRFLOW__CORE__PARALLELISM": str(cores),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(cores),
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__API__WORKERS": "1",
        # the UI's users: one admin whose password `lakehouse airflow start` keeps in the secrets file
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(cfg.airflow_home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
    }
    if cfg.airflow_metadata == "postgres":
        defaults["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    ports = {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # Airflow's own log servers (task logs 8793, triggerer 8794 by default) follow the
        # UI's port, so two checkouts with different LAKEHOUSE_AIRFLOW_PORTs never collide
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(port + 1),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(port + 2),
    }
    env = {k: os.environ.get(k) or v for k, v in {**defaults, **ports}.items()}
    if os.environ.get("LAKEHOUSE_AIRFLOW_PORT"):
        # set explicitly, the project's knob wins over ports an outer process exported
        # (a shell or test session that ran apply_airflow_env with the default port)
        env.update(ports)
    return env


def apply_airflow_env() -> None:
    """Export airflow_env() into this process, before airflow is imported."""
    apply_file_mode()
    os.environ.update(airflow_env())
