"""The project's secrets: one owner-only (0600) JSON file under LAKEHOUSE_HOME.

It holds a generated password per PostgreSQL role of the embedded cluster
(Airflow's metadata role too), the HMAC key that pseudonymises personal data,
the Airflow UI's and Superset's admin passwords, Superset's secret key, and the token the local Spark Connect server
(`lakehouse connect up`) requires of every client. Created on first use (`lakehouse db
start`), never logged, never written anywhere else. With an external
PostgreSQL (PGHOST set) the role credentials come from the environment
instead (config.pg_role_credentials).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from urllib.parse import quote

from lakehouse.config import PG_ROLES, pg_role_credentials, pseudonym_key_from_env, settings

# database role name of each project role (the admin's is PGUSER, "lakehouse" by default)
ROLE_NAMES = {role: f"lakehouse_{role}" for role in PG_ROLES if role != "admin"}


def _path() -> Path:
    return settings().secrets_file


def _read() -> dict:
    path = _path()
    if not path.exists():
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`")
    return json.loads(path.read_text(encoding="utf-8"))


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, born 0600 (never briefly readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _write(data: dict) -> None:
    write_private(_path(), json.dumps(data, indent=2))


def ensure() -> dict:
    """The secrets, generating whatever is missing (idempotent)."""
    data = _read()
    before = json.dumps(data, sort_keys=True)
    roles = data.setdefault("postgres", {})
    for role in PG_ROLES:
        roles.setdefault(role, secrets.token_urlsafe(24))
    data.setdefault("pseudonym_key", secrets.token_hex(32))
    data.setdefault("airflow_admin", secrets.token_urlsafe(18))
    data.setdefault("airflow_jwt_secret", secrets.token_urlsafe(32))  # signs the UI's and tasks' tokens
    # without it any local user could run code (Python UDFs) as the Connect server's user
    data.setdefault("spark_connect_token", secrets.token_urlsafe(32))
    data.setdefault("superset_admin", secrets.token_urlsafe(18))
    data.setdefault("superset_secret_key", secrets.token_urlsafe(42))   # signs sessions, encrypts stored passwords
    if json.dumps(data, sort_keys=True) != before:
        _write(data)
    return data


def role_user(role: str) -> str:
    if role not in PG_ROLES:
        raise ValueError(f"unknown warehouse role {role!r}: use one of {', '.join(PG_ROLES)}")
    return settings().pg_user if role == "admin" else ROLE_NAMES[role]


def pg_credentials(role: str) -> tuple[str, str | None]:
    """(user, password) the project uses to connect as `role`."""
    if not settings().pg_embedded:
        return pg_role_credentials(role)
    user = role_user(role)
    return user, ensure()["postgres"][role]


def pseudonym_key() -> str:
    if not settings().pg_embedded and pseudonym_key_from_env():
        return pseudonym_key_from_env()
    return ensure()["pseudonym_key"]


def airflow_admin_password() -> str:
    return ensure()["airflow_admin"]


def airflow_jwt_secret() -> str:
    return ensure()["airflow_jwt_secret"]


def spark_connect_token() -> str:
    """The bearer token of the project's own Spark Connect server (services.connect_up)."""
    return ensure()["spark_connect_token"]


def superset_admin_password() -> str:
    return ensure()["superset_admin"]


def superset_secret_key() -> str:
    return ensure()["superset_secret_key"]


def connection_url(role: str) -> str:
    """A libpq URL for `role`, for humans: psql "$(lakehouse db credentials analyst)"."""
    cfg = settings()
    user, password = pg_credentials(role)
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    dbname = cfg.airflow_database if role == "airflow" else cfg.pg_database   # the one database it may open
    return f"postgresql://{auth}@{cfg.pg_host}:{cfg.pg_port}/{quote(dbname, safe='')}"
