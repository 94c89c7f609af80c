"""Local stand-ins for the scaled-out column, to try it on one machine:
a Spark standalone master + worker and a Spark Connect server, both started
from the Spark distribution inside the pyspark package, and an S3-compatible
server (moto's standalone mode) with the lake's bucket.

Each runs in the background on 127.0.0.1 with a pidfile under
$LAKEHOUSE_HOME/run and a log under $LAKEHOUSE_HOME/logs; `down` stops it
(SIGTERM to its process group, SIGKILL after a grace period). The project's
code does not know about any of this: it only sees the environment variables
that `up` prints.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from lakehouse import credentials
from lakehouse.config import settings
from lakehouse.lake.connect import WARM_ENGINE_ADDRESS, live_pid
from lakehouse.lake.spark import jar_conf, session_conf

HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A service did not start or stop; the message names its log."""


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _run_dir() -> Path:
    path = settings().run_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_path(name: str) -> Path:
    path = settings().home / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{name}.log"


def _pidfile(name: str) -> Path:
    return _run_dir() / f"{name}.pid"


def pid_of(name: str) -> int | None:
    """The service's pid when it is running, else None (a stale pidfile is removed)."""
    pid = live_pid(_pidfile(name))
    if pid is None:
        _pidfile(name).unlink(missing_ok=True)
    return pid


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _start(name: str, cmd: list[str], env: dict[str, str], ready, timeout: float = 120) -> int:
    """Start cmd in its own process group, write its pidfile, wait until
    ready() is true. Idempotent: a running service is left as it is."""
    pid = pid_of(name)
    if pid:
        return pid
    log = log_path(name)
    with open(log, "ab") as out:
        # the service inherits this process's environment (handed on, not read here)
        proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    _pidfile(name).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            _pidfile(name).unlink(missing_ok=True)
            raise ServiceError(f"{name} exited with code {proc.returncode} while starting; see {log}")
        if time.monotonic() > deadline:
            stop(name)
            raise ServiceError(f"{name} was not ready after {timeout:.0f} s; see {log}")
        time.sleep(0.5)
    return proc.pid


def stop(name: str, grace: float = 20) -> bool:
    """Stop the service and everything it started; True if it was running."""
    pid = pid_of(name)
    if not pid:
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _pidfile(name).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)   # reap it when it is our own child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _log_says(name: str, pattern: str) -> bool:
    log = log_path(name)
    return log.exists() and re.search(pattern, log.read_text(errors="replace")) is not None


def _daemon_env() -> dict[str, str]:
    cfg = settings()
    return {"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": HOST, "SPARK_DAEMON_MEMORY": "512m",
            "SPARK_LOG_DIR": str(cfg.home / "logs"), "SPARK_PID_DIR": str(_run_dir()),
            # executors start Python workers with the project's interpreter
            "PYSPARK_PYTHON": sys.executable}


@dataclass
class Started:
    name: str
    detail: str
    exports: dict[str, str]


# --------------------------------------------------------------------------- standalone cluster

def cluster_up(port: int | None = None, cores: int = 2) -> Started:
    """A standalone master and one worker on loopback (web UIs on free ports)."""
    cfg = settings()
    port = port or cfg.cluster_port
    url = f"spark://{HOST}:{port}"
    spark_class = str(spark_home() / "bin" / "spark-class")
    if not pid_of("spark-worker"):   # readiness is read from a fresh worker log
        log_path("spark-worker").unlink(missing_ok=True)
    _start("spark-master", [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST,
                            "--port", str(port), "--webui-port", str(free_port())],
           _daemon_env(), lambda: port_open(port))
    _start("spark-worker", [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", HOST,
                            "--cores", str(cores), "--memory", _worker_memory(cfg.service_memory),
                            "--webui-port", str(free_port()), "--work-dir", str(cfg.home / "spark-work"), url],
           _daemon_env(), lambda: _log_says("spark-worker", r"Successfully registered with master"))
    return Started("cluster", f"Spark master {url} with one worker ({cores} cores)",
                   {"LAKEHOUSE_SPARK_MASTER": url,
                    "LAKEHOUSE_SPARK_SPARK_EXECUTOR_MEMORY": cfg.service_memory})


def _worker_memory(executor_memory: str) -> str:
    """Room for one executor of `executor_memory` plus its overhead."""
    number, unit = re.fullmatch(r"(\d+)([mMgG])", executor_memory).groups()
    mb = int(number) * (1024 if unit.lower() == "g" else 1)
    return f"{mb + max(384, mb // 10) + 128}m"


def cluster_down() -> list[str]:
    return [n for n in ("spark-worker", "spark-master") if stop(n)]


# --------------------------------------------------------------------------- Spark Connect

def connect_up(port: int | None = None) -> Started:
    """A Spark Connect server with Delta (and s3a when the lake is on object
    storage), on the master of settings (local[2] by default), refusing any
    client without the project's generated token (credentials.py). It is the
    driver every client shares (and its executor on local[*]), so it gets the
    driver's memory of a local session (spark.driver.memory, 8g unless
    LAKEHOUSE_SPARK_SPARK_DRIVER_MEMORY says otherwise)."""
    cfg = settings()
    port = port or cfg.connect_port
    conf = {**session_conf(), **jar_conf(),
            "spark.connect.grpc.binding.port": str(port), "spark.connect.grpc.binding.address": HOST,
            "spark.driver.extraJavaOptions": "-Dlog4j2.level=WARN"}
    cmd = [str(spark_home() / "bin" / "spark-submit"), "--master", cfg.spark_master,
           "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--name", "lakehouse-connect"]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    cmd.append("spark-internal")
    # spark-submit sizes the Connect server (like the Thrift server) by
    # SPARK_DAEMON_MEMORY, not spark.driver.memory: unset, it got 512m and
    # failed broadcasts with "Java heap space" on the tiny preset
    env = {**_daemon_env(), "SPARK_DAEMON_MEMORY": conf["spark.driver.memory"],
           # every client must present the project's generated token (spark.connect_channel
           # sends it); through the environment, since a --conf shows in any user's `ps`
           "SPARK_CONNECT_AUTHENTICATE_TOKEN": credentials.spark_connect_token()}
    _start("spark-connect", cmd, env, lambda: port_open(port), timeout=180)
    # this home's processes find it here (lake.spark.warm_engine_url): the warm engine
    (_run_dir() / WARM_ENGINE_ADDRESS).write_text(f"sc://{HOST}:{port}\n")
    return Started("connect", f"Spark Connect server on {HOST}:{port} (master {cfg.spark_master})",
                   {"SPARK_REMOTE": f"sc://{HOST}:{port}"})


def warm_engine_up() -> str:
    """Start the warm engine the daily service and the demo share, unless
    SPARK_REMOTE names another server or LAKEHOUSE_WARM_ENGINE=off (idempotent).
    A line saying which Spark the DAGs get."""
    cfg = settings()
    if cfg.spark_remote:
        return f"SPARK_REMOTE is set: the DAGs use {cfg.spark_remote}"
    if not cfg.warm_engine:
        return "a local Spark per process (LAKEHOUSE_WARM_ENGINE=off)"
    started = connect_up()
    return f"the warm engine, {started.detail}, log {log_path('spark-connect')} (stop: lakehouse connect down)"


def connect_down() -> list[str]:
    stopped = [n for n in ("spark-connect",) if stop(n)]
    (_run_dir() / WARM_ENGINE_ADDRESS).unlink(missing_ok=True)
    return stopped


# --------------------------------------------------------------------------- S3-compatible server

def s3_bucket() -> str:
    """The bucket of an s3a:// lake, else `lakehouse`."""
    lake = settings().lake
    return urlparse(lake).netloc if lake.startswith("s3a://") else "lakehouse"


def s3_up(port: int | None = None, bucket: str | None = None) -> Started:
    """moto's S3 server on loopback (data in memory: gone at `down`) and the bucket."""
    cfg = settings()
    port = port or cfg.s3_port
    bucket = bucket or s3_bucket()
    # the virtualenv's own (pinned) moto first, then one on PATH
    server = str(Path(sys.executable).with_name("moto_server"))
    server = server if Path(server).exists() else shutil.which("moto_server")
    if not server:
        raise ServiceError("moto_server not found: install the dev extra (pip install -e '.[dev]'), "
                           "which pins moto[server]")
    _start("s3", [server, "-H", HOST, "-p", str(port)], {}, lambda: port_open(port))
    endpoint = f"http://{HOST}:{port}"
    create_bucket(endpoint, bucket)
    return Started("s3", f"S3-compatible server (moto) at {endpoint}, bucket {bucket}",
                   {"LAKEHOUSE_LAKE": f"s3a://{bucket}/lake", "AWS_ENDPOINT_URL": endpoint,
                    # moto accepts any credentials; s3a still wants some
                    "AWS_ACCESS_KEY_ID": "lakehouse", "AWS_SECRET_ACCESS_KEY": "lakehouse-local"})


def create_bucket(endpoint: str, bucket: str) -> None:
    """PUT /<bucket> (path style); an existing bucket is fine."""
    request = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT", data=b"")
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 409:   # BucketAlreadyOwnedByYou
            raise ServiceError(f"could not create bucket {bucket} at {endpoint}: HTTP {exc.code}") from exc


def s3_down() -> list[str]:
    return [n for n in ("s3",) if stop(n)]


UP = {"cluster": cluster_up, "connect": connect_up, "s3": s3_up}
DOWN = {"cluster": cluster_down, "connect": connect_down, "s3": s3_down}
