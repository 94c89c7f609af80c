"""The project-local PostgreSQL cluster of the embedded default.

initdb/pg_ctl on loopback, a non-default port, data under $LAKEHOUSE_HOME.
PostgreSQL refuses to run as root, so when we are root the cluster belongs to
a dedicated OS user and every server command goes through `runuser`.
Not used at all when PGHOST points at an external server.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from lakehouse.config import settings

OS_USER = "lakehouse-pg"


class SetupError(RuntimeError):
    """A missing prerequisite, with what to install or set."""


def pg_bin_dir() -> Path:
    """Newest PostgreSQL server binaries (Debian puts them off PATH)."""
    env_dir = os.environ.get("LAKEHOUSE_PG_BIN")
    candidates = [env_dir] if env_dir else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[::-1]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    raise SetupError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Install them "
        "(Debian/Ubuntu: `apt-get install postgresql`), set LAKEHOUSE_PG_BIN to their folder, "
        "or point PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE at an existing server.")


def _paths() -> tuple[Path, Path, Path]:
    base = settings().home / "postgres"
    return base / "data", base / "socket", base / "server.log"


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", OS_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _ensure_os_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OS_USER],
                       check=True)


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, OS_USER, OS_USER)


def is_running() -> bool:
    data, _, _ = _paths()
    if not (data / "postmaster.pid").exists():
        return False
    res = subprocess.run(_as_owner([str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "status"]),
                         capture_output=True, text=True)
    return res.returncode == 0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start() -> str:
    """Create (first time) and start the cluster; idempotent. Returns a status line."""
    cfg = settings()
    if not cfg.pg_embedded:
        return f"using external PostgreSQL at {cfg.pg_host}:{cfg.pg_port}"
    bindir = pg_bin_dir()
    data, sock, log = _paths()
    if is_running():
        return f"PostgreSQL already running on 127.0.0.1:{cfg.pg_port} (data {data})"
    if not _port_free(cfg.pg_port):
        raise SetupError(f"port {cfg.pg_port} on 127.0.0.1 is taken by another program; "
                         f"set PGPORT to a free port (e.g. PGPORT={cfg.pg_port + 1}) and run again.")
    _ensure_os_user()
    for d in (data.parent, sock):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d)
    # runuser drops to an unprivileged user: it must be able to reach the data dir.
    for parent in data.parents:
        if parent == Path("/"):
            break
        if os.geteuid() == 0 and not os.stat(parent).st_mode & 0o001:
            os.chmod(parent, os.stat(parent).st_mode | 0o001)
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        _chown(data)
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", cfg.pg_user,
                                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# lakehouse embedded defaults\n"
                       f"listen_addresses = '127.0.0.1'\nport = {cfg.pg_port}\n"
                       f"unix_socket_directories = '{sock}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       "shared_buffers = 256MB\nmax_connections = 100\n")
    log.touch(exist_ok=True)
    _chown(log)
    res = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                    "-o", f"-p {cfg.pg_port}", "-w", "-t", "60", "start"]),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SetupError(f"PostgreSQL did not start: {res.stderr.strip() or res.stdout.strip()}; see {log}")
    _create_database()
    return f"PostgreSQL started on 127.0.0.1:{cfg.pg_port} (data {data}, log {log})"


def _create_database() -> None:
    cfg = settings()
    psql = str(pg_bin_dir() / "psql") if (pg_bin_dir() / "psql").exists() else "psql"
    base = [psql, "-h", "127.0.0.1", "-p", str(cfg.pg_port), "-U", cfg.pg_user, "-v", "ON_ERROR_STOP=1"]
    exists = subprocess.run([*base, "-d", "postgres", "-tAc",
                             f"select 1 from pg_database where datname = '{cfg.pg_database}'"],
                            capture_output=True, text=True, check=True).stdout.strip()
    if exists != "1":
        subprocess.run([*base, "-d", "postgres", "-c", f'create database "{cfg.pg_database}"'],
                       check=True, capture_output=True)


def stop() -> str:
    cfg = settings()
    if not cfg.pg_embedded:
        return "external PostgreSQL: nothing to stop"
    data, _, _ = _paths()
    if not is_running():
        return "PostgreSQL is not running"
    subprocess.run(_as_owner([str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                   check=True, capture_output=True)
    return "PostgreSQL stopped"
