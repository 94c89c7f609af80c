"""`lakehouse dashboards start|stop|status|export`: Apache Superset on the marts.

Superset has heavy dependencies of its own, so it lives in a virtualenv of
its own ($LAKEHOUSE_HOME/superset/venv, from superset-requirements.txt where
every version is pinned) and never moves the project's pins. Its metadata
is SQLite beside it; its secret key and admin password are generated into
the secrets file and reach it through the environment (superset_config.py,
shared with the compose stack). It reads the marts as lakehouse_dashboard: the contracted
marts only, read-only, no personal ID numbers.

The dashboards are code: dashboards/ at the repository's root, in
Superset's export format (YAML), imported on every start; `export` writes
what was changed in the UI back there, as a diff to review.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lakehouse import credentials
from lakehouse.config import REPO_ROOT, settings
from lakehouse.services import probe

DASHBOARDS_DIR = REPO_ROOT / "dashboards"
REQUIREMENTS = Path(__file__).with_name("superset-requirements.txt")
INSIDE = Path(__file__).with_name("superset_inside.py")
CONFIG = Path(__file__).with_name("superset_config.py")


class SupersetError(RuntimeError):
    """Superset did not install, start or import; says where to look."""


def _home() -> Path:
    return settings().home / "superset"


def _venv_bin(name: str) -> Path:
    return _home() / "venv" / "bin" / name


def _log() -> Path:
    return settings().home / "logs" / "superset.log"


def _pidfile() -> Path:
    return settings().home / "run" / "superset.pid"


def url() -> str:
    return f"http://127.0.0.1:{settings().superset_port}"


def ensure_venv() -> bool:
    """Install Superset's pinned packages into its own virtualenv when they
    changed (or were never installed); True if it installed."""
    stamp = _home() / "venv" / "requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and _venv_bin("superset").exists():
        return False
    print(f"[dashboards] installing Apache Superset into {_home() / 'venv'} "
          "(a virtualenv of its own; about 3 minutes the first time)", flush=True)
    _log().parent.mkdir(parents=True, exist_ok=True)
    with open(_log(), "ab") as out:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(_home() / "venv")], check=True,
                       stdout=out, stderr=subprocess.STDOUT)
        pip = subprocess.run([str(_venv_bin("pip")), "install", "--disable-pip-version-check", "-r",
                              str(REQUIREMENTS)], stdout=out, stderr=subprocess.STDOUT)
    if pip.returncode:
        raise SupersetError(f"pip could not install Superset's pinned packages; its output is in {_log()}")
    stamp.write_text(want)
    return True


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(SUPERSET_CONFIG_PATH=str(CONFIG), SUPERSET_SECRET_KEY=credentials.superset_secret_key(),
               SUPERSET_METADATA_URI=f"sqlite:///{_home() / 'superset.db'}", FLASK_APP="superset.app:create_app()",
               PATH=f"{_venv_bin('python').parent}{os.pathsep}{env.get('PATH', '')}", **extra)
    return env


def _run(args: list[str], what: str, **extra: str) -> str:
    """One Superset command in its virtualenv, its output appended to the log."""
    with open(_log(), "ab") as out:
        done = subprocess.run(args, env=_env(**extra), stdout=subprocess.PIPE, stderr=out, cwd=_home())
    out_text = done.stdout.decode(errors="replace")
    with open(_log(), "a", encoding="utf-8") as log:
        log.write(out_text)
    if done.returncode:
        raise SupersetError(f"Superset could not {what} (exit {done.returncode}); see {_log()}")
    return out_text


def _inside(action: str, folder: Path) -> str:
    """superset_inside.py in Superset's interpreter, isolated (-I: its folder, which holds this
    module named superset, stays off sys.path); secrets through the environment."""
    from lakehouse.credentials import connection_url

    return _run([str(_venv_bin("python")), "-I", str(INSIDE), action, str(folder)], f"{action} the dashboards",
                LAKEHOUSE_SUPERSET_ADMIN_PASSWORD=credentials.superset_admin_password(),
                LAKEHOUSE_SUPERSET_DATABASE_URI=connection_url("dashboard").replace("postgresql://",
                                                                                  "postgresql+psycopg2://", 1))


def prepare() -> None:
    """The virtualenv, Superset's metadata schema and roles, the admin and
    the dashboards of dashboards/ (idempotent: every start runs it)."""
    _home().mkdir(parents=True, exist_ok=True, mode=0o700)
    ensure_venv()
    _run([str(_venv_bin("superset")), "db", "upgrade"], "upgrade its metadata database")
    _run([str(_venv_bin("superset")), "init"], "set up its roles")
    _inside("import", DASHBOARDS_DIR)


def _running_pid() -> int | None:
    pidfile = _pidfile()
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def healthy(timeout: float = 3.0) -> bool:
    return probe.answers(f"{url()}/health", timeout)


def start(wait_seconds: float = 180) -> str:
    if _running_pid():
        _inside("import", DASHBOARDS_DIR)      # what changed in dashboards/ shows at once
        return f"Superset already running at {url()}; dashboards/ imported again\n" + _login_hint()
    prepare()
    _pidfile().parent.mkdir(parents=True, exist_ok=True)
    with open(_log(), "ab") as out:
        proc = subprocess.Popen([str(_venv_bin("gunicorn")), "--workers", "2", "--threads", "4",
                                 "--worker-class", "gthread", "--timeout", "120",
                                 "--bind", f"127.0.0.1:{settings().superset_port}", "superset.app:create_app()"],
                                env=_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=_home())
    _pidfile().write_text(str(proc.pid))
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pidfile().unlink(missing_ok=True)
            raise SupersetError(f"Superset's web server exited with code {proc.returncode} (port "
                                f"{settings().superset_port} taken? set LAKEHOUSE_SUPERSET_PORT); see {_log()}")
        if healthy():
            return f"Superset running at {url()} (log {_log()})\n" + _login_hint()
        time.sleep(1)
    stop()
    raise SupersetError(f"Superset did not answer {url()}/health within {wait_seconds:.0f}s; see {_log()}")


def _login_hint() -> str:
    return (f"log in as admin with the password in {settings().secrets_file} (key superset_admin), e.g.\n"
            f"  python -c \"import json; print(json.load(open('{settings().secrets_file}'))['superset_admin'])\"")


def stop(wait_seconds: float = 30) -> str:
    pid = _running_pid()
    if pid is None:
        return "Superset is not running"
    for sig, grace in ((signal.SIGTERM, wait_seconds), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.5)
    _pidfile().unlink(missing_ok=True)
    return "Superset stopped"


def _group_alive(pgid: int) -> bool:
    try:
        os.waitpid(pgid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def status() -> str:
    if _running_pid() is None:
        return "Superset is not running"
    return f"Superset running at {url()} ({'healthy' if healthy() else 'starting or unhealthy'})"


def export() -> str:
    """The dashboards as they are in Superset now, written into dashboards/."""
    if not _venv_bin("superset").exists():
        raise SupersetError("Superset is not installed yet: `lakehouse dashboards start` first")
    return _inside("export", DASHBOARDS_DIR).strip() + f" files written into {DASHBOARDS_DIR}"
