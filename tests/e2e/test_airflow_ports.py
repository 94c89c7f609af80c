"""A real `airflow standalone` whose log server's port is taken after the
pre-start check (another program grabbed it meanwhile): `lakehouse airflow
start` stops as soon as Airflow's log says 'address already in use', with that
line and a free LAKEHOUSE_AIRFLOW_PORT, instead of waiting 240 s; and leaves
no Airflow process behind. Slow: a fresh Airflow metadata DB is migrated first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from lakehouse.services import airflow_ui

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_triple() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000 and all(airflow_ui.port_free(h, port + k) for k, h in enumerate(("127.0.0.1", "", ""))):
            return port
    raise AssertionError("no three free ports in a row")


def test_start_stops_as_soon_as_the_log_says_the_address_is_in_use(tmp_path):
    port = _free_triple()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(LAKEHOUSE_HOME=str(tmp_path), LAKEHOUSE_AIRFLOW_PORT=str(port))
    start = subprocess.Popen([sys.executable, "-m", "lakehouse.cli", "airflow", "start"], env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    log = tmp_path / "logs" / "airflow-ui.log"
    holder = socket.socket(socket.AF_INET6 if socket.has_dualstack_ipv6() else socket.AF_INET)
    try:
        while not log.exists():          # written once the ports were checked free
            assert start.poll() is None, start.communicate()
            time.sleep(0.05)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("", port + 1))
        holder.listen()
        t0 = time.monotonic()
        out, err = start.communicate(timeout=400)
        seconds = time.monotonic() - t0
    finally:
        holder.close()
        if start.poll() is None:
            start.kill()
    assert start.returncode == 2, out + err
    assert seconds < 200, f"{seconds:.0f}s: the 240 s wait was not cut short"
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"lakehouse airflow: Airflow could not start, its log {log} says: "), line
    assert f"{port + 1}): address already in use" in line and "e.g. LAKEHOUSE_AIRFLOW_PORT=" in line, line
    assert "Traceback" not in err
    pidfile = tmp_path / "airflow-ui.pid"
    assert not pidfile.exists(), "stopped and forgotten"
    assert not _processes_of(tmp_path), "no Airflow process of this home left"


def _processes_of(home) -> list[int]:
    """Live processes whose environment has LAKEHOUSE_HOME=home."""
    marker = f"LAKEHOUSE_HOME={home}\0".encode()
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read() + b"\0"
            with open(f"/proc/{entry}/stat") as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if marker in environ and not zombie:
            found.append(int(entry))
    return found
