"""`lakehouse airflow start|stop|status`: the Airflow UI of the embedded default.

Runs `airflow standalone` (api-server, scheduler, dag-processor, triggerer)
with the project's Airflow environment (airflow_env.airflow_env: parallelism sized
to the cores) and the virtualenv's bin on PATH, in a session of its own so
`stop` ends every process it started. Its output goes to a log file under
LAKEHOUSE_HOME, not the console. The UI's one user, admin, has a generated
password kept in the secrets file. The warm engine (a Spark Connect server,
services/engines.py) starts first and stops with it, so that the daily tasks
share one warm Spark instead of each starting a cold JVM (unless
LAKEHOUSE_WARM_ENGINE=off or SPARK_REMOTE names another server).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from lakehouse import credentials
from lakehouse.config import REPO_ROOT, settings
from lakehouse.orchestration.airflow_env import airflow_env
from lakehouse.services import engines, probe


class AirflowUIError(RuntimeError):
    """The UI did not start or stop; says where to look."""


def _paths() -> tuple[Path, Path]:
    home = settings().home
    return home / "airflow-ui.pid", home / "logs" / "airflow-ui.log"


def url() -> str:
    env = airflow_env()
    return f"http://{env['AIRFLOW__API__HOST']}:{env['AIRFLOW__API__PORT']}"


def _env() -> dict[str, str]:
    env = {**os.environ, **airflow_env()}   # handed on to the Airflow processes, not read here
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", credentials.airflow_jwt_secret())
    src = str(Path(__file__).resolve().parents[2])
    # src/ for the package, the repository's root for jobs/ (the Spark entry points the tasks run)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    return env


def _write_passwords_file(env: dict[str, str]) -> None:
    """The simple auth manager reads its users' passwords from a JSON file:
    written (0600) from the secrets file, so Airflow never generates or prints one."""
    credentials.write_private(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]),
                              json.dumps({"admin": credentials.airflow_admin_password()}))


def _running_session() -> int | None:
    pidfile, _ = _paths()
    if not pidfile.exists():
        return None
    sid = int(pidfile.read_text().strip())
    if _session_alive(sid):      # standalone, or task processes it left behind
        return sid
    pidfile.unlink(missing_ok=True)
    return None


def running() -> bool:
    return _running_session() is not None


def healthy(timeout: float = 3.0) -> bool:
    return probe.answers(f"{url()}/api/v2/monitor/health", timeout)


def ports() -> list[tuple[str, str, int]]:
    """(what, host it binds, port) of each server `airflow standalone` opens:
    all three follow LAKEHOUSE_AIRFLOW_PORT (airflow_env.airflow_env)."""
    env = airflow_env()
    return [("the UI and API (LAKEHOUSE_AIRFLOW_PORT)", env["AIRFLOW__API__HOST"], int(env["AIRFLOW__API__PORT"])),
            ("Airflow's task log server (LAKEHOUSE_AIRFLOW_PORT+1)", "",
             int(env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"])),
            ("the triggerer's log server (LAKEHOUSE_AIRFLOW_PORT+2)", "",
             int(env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"]))]


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now ("" = every interface, as
    Airflow's log servers do); SO_REUSEADDR as uvicorn sets it, so a closed
    connection's TIME_WAIT does not count as taken."""
    family = socket.AF_INET6 if not host and socket.has_dualstack_ipv6() else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        except OSError:
            return False
    return True


def check_ports() -> None:
    """Fail before anything starts when a port Airflow needs is taken (e.g. by
    another checkout's Airflow), naming a LAKEHOUSE_AIRFLOW_PORT that is free."""
    taken = [(what, port) for what, host, port in ports() if not port_free(host, port)]
    if taken:
        what = "; ".join(f"port {port}, for {name}" for name, port in taken)
        raise AirflowUIError(f"{what}: in use by another program (another checkout's Airflow?); "
                             f"{_free_port_hint()}")


def _free_port_hint() -> str:
    base = ports()[0][2]
    for candidate in range(base + 10, min(base + 2000, 65533), 10):
        if all(port_free(h, candidate + k) for k, h in enumerate(("127.0.0.1", "", ""))):
            return (f"start it on three free ports, e.g. LAKEHOUSE_AIRFLOW_PORT={candidate} lakehouse airflow start "
                    f"(the UI on {candidate}, Airflow's log servers on {candidate + 1} and {candidate + 2})")
    return "set LAKEHOUSE_AIRFLOW_PORT to a port whose next two are free too"


# lines of Airflow's log that mean it cannot come up: fail at once, not after the wait
FATAL_LOG_LINES = ("address already in use", "[errno 98]")


def fatal_log_line(text: str) -> str | None:
    """The first line of Airflow's log output `text` that says it cannot start."""
    for line in text.splitlines():
        if any(marker in line.lower() for marker in FATAL_LOG_LINES):
            return line.strip()
    return None


def start(wait_seconds: float = 240) -> str:
    if _running_session():
        return f"Airflow UI already running at {url()}\n" + _login_hint()
    check_ports()
    engine = "Spark: " + engines.warm_engine_up()
    env = _env()
    _write_passwords_file(env)
    pidfile, log = _paths()
    log.parent.mkdir(parents=True, exist_ok=True)
    airflow = str(Path(sys.executable).with_name("airflow"))
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        proc = subprocess.Popen([airflow, "standalone"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=settings().home)
    pidfile.write_text(str(proc.pid))  # the session leader: its pid is the process group id
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        fatal = fatal_log_line(_log_since(log, offset))
        if fatal:
            stop(wait_seconds=10)
            raise AirflowUIError(f"Airflow could not start, its log {log} says: {fatal[:300]}; "
                                 f"{_free_port_hint()}")
        if proc.poll() is not None:
            pidfile.unlink(missing_ok=True)
            raise AirflowUIError(f"airflow standalone exited with code {proc.returncode}; see {log}")
        if healthy():
            return f"Airflow UI running at {url()} (log {log})\n{engine}\n" + _login_hint()
        time.sleep(2)
    stop()
    raise AirflowUIError(f"the Airflow UI did not answer {url()}/api/v2/monitor/health within "
                         f"{wait_seconds:.0f}s; see {log}")


def _log_since(log: Path, offset: int) -> str:
    with open(log, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode(errors="replace")


def rest(base_url: str, path: str, token: str | None = None, body: dict | None = None,
         method: str | None = None) -> dict:
    """One call of Airflow's REST API at `base_url` (http://host:port); an HTTP
    error raises AirflowUIError with the status and Airflow's own detail."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(base_url + path, data=json.dumps(body).encode() if body is not None else None,
                                 headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise AirflowUIError(f"{method or 'GET'} {base_url}{path}: {err.code} "
                             f"{err.read().decode(errors='replace')}") from None


def login(base_url: str) -> str:
    """A REST API token for admin (the password from the secrets file)."""
    body = {"username": "admin", "password": credentials.airflow_admin_password()}
    return rest(base_url, "/auth/token", body=body)["access_token"]


def _login_hint() -> str:
    return (f"log in as admin with the password in {settings().secrets_file} (key airflow_admin), e.g.\n"
            f"  python -c \"import json; print(json.load(open('{settings().secrets_file}'))['airflow_admin'])\"")


def stop(wait_seconds: float = 60) -> str:
    """SIGTERM, then SIGKILL, every process of standalone's session: the
    LocalExecutor's task processes (and their Spark JVMs) put themselves in
    process groups of their own, but stay in the session."""
    sid = _running_session()
    pidfile, _ = _paths()
    if sid is None:
        return "Airflow UI is not running" + _stop_warm_engine()
    for sig, grace in ((signal.SIGTERM, wait_seconds), (signal.SIGKILL, 10)):
        _signal_session(sid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _session_alive(sid):
            time.sleep(0.5)
    pidfile.unlink(missing_ok=True)
    return "Airflow UI stopped" + _stop_warm_engine()


def _stop_warm_engine() -> str:
    """After the tasks: the warm engine ends with the service that uses it."""
    return "; the warm engine stopped" if engines.connect_down() else ""


def _signal_session(sid: int, sig: int) -> None:
    for pid in session_processes(sid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _session_alive(sid: int) -> bool:
    """Any process of the session left (zombies of our own children reaped first)."""
    try:
        while os.waitpid(-sid, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    return bool(session_processes(sid))


def session_processes(sid: int) -> dict[int, str]:
    """{pid: state} of the live processes in session `sid` (standalone's pid:
    it starts as a session leader). Zombies (state Z) have exited already: they
    wait for a parent that reaps them (init, once standalone is gone) and hold nothing."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,sid=,stat="], capture_output=True, text=True).stdout
    rows = [line.split() for line in out.splitlines()]
    return {int(pid): stat for pid, session, stat in rows if int(session) == sid and not stat.startswith("Z")}


def status() -> str:
    pgid = _running_session()
    if pgid is None:
        return "Airflow UI is not running"
    return f"Airflow UI running at {url()} ({'healthy' if healthy() else 'starting or unhealthy'})"
