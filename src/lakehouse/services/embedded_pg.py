"""The project-local PostgreSQL cluster of the embedded default.

initdb/pg_ctl on loopback, a non-default port, data under $LAKEHOUSE_HOME.
PostgreSQL refuses to run as root, so when we are root the cluster belongs to
a dedicated OS user and every server command goes through `runuser`.
Not used at all when PGHOST points at an external server.
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from lakehouse import credentials
from lakehouse.config import pg_bin_override, settings

logger = logging.getLogger(__name__)

OS_USER = "lakehouse-pg"


class SetupError(RuntimeError):
    """A missing prerequisite, with what to install or set."""


def pg_bin_dir() -> Path:
    """Newest PostgreSQL server binaries (Debian puts them off PATH)."""
    env_dir = pg_bin_override()
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


HBA = """# lakehouse: a password (scram-sha-256) for every connection; no trust line
local   all          all                 scram-sha-256
host    all          all   127.0.0.1/32  scram-sha-256
host    all          all   ::1/128       scram-sha-256
"""


def _private_dirs(home: Path, sock: Path) -> None:
    """LAKEHOUSE_HOME and the socket directory: owner only. When we are root
    the cluster's OS user still has to reach its data dir (traverse only)."""
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    os.chmod(sock, 0o700)


def start() -> str:
    """Create (first time) and start the cluster; idempotent. Returns a status line."""
    cfg = settings()
    if not cfg.pg_embedded:
        return f"using external PostgreSQL at {cfg.pg_host}:{cfg.pg_port}"
    bindir = pg_bin_dir()
    data, sock, log = _paths()
    if is_running():
        _require_passwords()
        _ensure_database()
        return f"PostgreSQL already running on 127.0.0.1:{cfg.pg_port} (data {data})"
    if not _port_free(cfg.pg_port):
        raise SetupError(f"port {cfg.pg_port} on 127.0.0.1 is taken by another program; "
                         f"set PGPORT to a free port (e.g. PGPORT={cfg.pg_port + 1}) and run again.")
    _ensure_os_user()
    for d in (data.parent, sock):
        d.mkdir(parents=True, exist_ok=True)
        _chown(d)
    _private_dirs(cfg.home, sock)
    # runuser drops to an unprivileged user: it must be able to reach the data dir.
    for parent in data.parents:
        if parent == Path("/"):
            break
        if os.geteuid() == 0 and not os.stat(parent).st_mode & 0o001:
            os.chmod(parent, os.stat(parent).st_mode | 0o001)
    if not (data / "PG_VERSION").exists():
        _initdb(bindir, data, sock)
    log.touch(exist_ok=True)
    _chown(log)
    res = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                    "-o", f"-p {cfg.pg_port}", "-w", "-t", "60", "start"]),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SetupError(f"PostgreSQL did not start: {res.stderr.strip() or res.stdout.strip()}; see {log}")
    _require_passwords()
    _ensure_database()
    return f"PostgreSQL started on 127.0.0.1:{cfg.pg_port} (data {data}, log {log})"


def _initdb(bindir: Path, data: Path, sock: Path) -> None:
    """A new cluster whose superuser has the secrets file's admin password."""
    cfg = settings()
    data.mkdir(parents=True, exist_ok=True)
    _chown(data)
    password = credentials.ensure()["postgres"]["admin"]
    pwfile = data.parent / ".initdb-pw"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    _chown(pwfile)
    try:
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", cfg.pg_user,
                                  "--auth=scram-sha-256", f"--pwfile={pwfile}",
                                  "--encoding=UTF8", "--locale=C.UTF-8"]),
                       check=True, capture_output=True)
    finally:
        pwfile.unlink(missing_ok=True)
    with open(data / "postgresql.conf", "a") as conf:
        conf.write("\n# lakehouse embedded defaults\n"
                   f"listen_addresses = '127.0.0.1'\nport = {cfg.pg_port}\n"
                   f"unix_socket_directories = '{sock}'\nunix_socket_permissions = 0700\n"
                   "password_encryption = 'scram-sha-256'\n"
                   "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                   "shared_buffers = 256MB\nmax_connections = 100\n")
    _write_hba(data)


def _write_hba(data: Path) -> None:
    hba = data / "pg_hba.conf"
    hba.write_text(HBA)
    os.chmod(hba, 0o600)
    _chown(hba)


def _require_passwords() -> None:
    """Upgrade a cluster an older version initialised with `trust`: give the
    superuser its password from the secrets file, then reload with scram only."""
    data, _, _ = _paths()
    hba = data / "pg_hba.conf"
    if not any(line.split()[-1:] == ["trust"] for line in hba.read_text().splitlines()
               if line.strip() and not line.lstrip().startswith("#")):
        return
    import psycopg2

    cfg = settings()
    password = credentials.ensure()["postgres"]["admin"]
    conn = psycopg2.connect(host="127.0.0.1", port=cfg.pg_port, user=cfg.pg_user, dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("set password_encryption = 'scram-sha-256'")
            cur.execute(f'alter role "{cfg.pg_user}" password %s', (password,))
    finally:
        conn.close()
    _write_hba(data)
    subprocess.run(_as_owner([str(pg_bin_dir() / "pg_ctl"), "-D", str(data), "reload"]),
                   check=True, capture_output=True)
    logger.warning("PostgreSQL: replaced the 'trust' authentication of %s by passwords (scram-sha-256); "
                "the passwords are in %s", data, cfg.secrets_file)


def _ensure_database() -> None:
    """PGDATABASE on the running cluster (a second lake, e.g. on s3a, gets its own)."""
    from lakehouse.serving import warehouse

    warehouse.ensure_database(settings().pg_database)


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
