"""A real Spark Connect server for a test: `lakehouse connect up` on a free
port, its pidfile and log in a private LAKEHOUSE_HOME (so that it never
meets a server someone else started), the project's secrets file shared (the
clients of this test find the server's token there); `down` always."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


@contextmanager
def connect_server(home: Path, memory: str = "2g"):
    """Yields (url, env): SPARK_REMOTE's value and the environment of the server's commands."""
    from lakehouse.config import settings
    from lakehouse.services.engines import free_port

    port = free_port()
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_SECRETS_FILE": str(settings().secrets_file),
           "LAKEHOUSE_JARS_DIR": str(settings().jars_dir), "LAKEHOUSE_CONNECT_PORT": str(port),
           # the server is the driver of every client: a tiny lake needs far less than 8g
           "LAKEHOUSE_SPARK_SPARK_DRIVER_MEMORY": memory}
    env.pop("SPARK_REMOTE", None)
    try:
        up = subprocess.run([LAKEHOUSE, "connect", "up"], env=env, capture_output=True, text=True, timeout=300)
        assert up.returncode == 0, f"connect up failed:\n{up.stdout[-2000:]}\n{up.stderr[-3000:]}"
        env["CONNECT_UP_OUTPUT"] = up.stdout + up.stderr
        yield f"sc://127.0.0.1:{port}", env
    finally:
        subprocess.run([LAKEHOUSE, "connect", "down"], env=env, capture_output=True, timeout=120)
        status = subprocess.run([LAKEHOUSE, "connect", "status"], env=env, capture_output=True, text=True).stdout
        assert "running" not in status, f"the Connect server still runs after down:\n{status}"


def server_log(home: Path) -> str:
    log = home / "logs" / "spark-connect.log"
    return log.read_text(errors="replace") if log.exists() else ""
