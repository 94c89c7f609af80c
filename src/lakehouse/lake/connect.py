"""Which Spark Connect server this process uses, if any: SPARK_REMOTE, else
the warm engine of this LAKEHOUSE_HOME while it runs (`lakehouse connect
up`, started by `make airflow` and the demo; its address in
settings().run_dir), else none and a JVM of this process (spark.py)."""

from __future__ import annotations

import os
from pathlib import Path

from lakehouse.config import settings

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

WARM_ENGINE_ADDRESS = "spark-connect.url"   # in settings().run_dir, written by `lakehouse connect up`


def warm_engine_url() -> str | None:
    """sc://… of this home's Connect server while its process lives (its pidfile
    and address file in settings().run_dir), unless LAKEHOUSE_WARM_ENGINE=off."""
    cfg = settings()
    address = cfg.run_dir / WARM_ENGINE_ADDRESS
    if not cfg.warm_engine or not address.exists() or live_pid(cfg.run_dir / "spark-connect.pid") is None:
        return None
    return address.read_text().strip() or None


def live_pid(pidfile: Path) -> int | None:
    """The pid a service's pidfile names while that process lives, else None."""
    try:
        pid = int(pidfile.read_text().strip() or 0)
        os.kill(pid, 0)
    except (OSError, ValueError):   # no file, no such process, not ours
        return None
    return pid or None


def remote_url() -> str | None:
    """The Spark Connect server this process uses: SPARK_REMOTE, else the warm
    engine when it runs; None: a JVM of this process (local, or a driver on
    the master LAKEHOUSE_SPARK_MASTER or spark-submit asked for)."""
    cfg = settings()
    if cfg.spark_remote:
        return cfg.spark_remote
    return None if cfg.spark_master_given or submitted() else warm_engine_url()


def submitted() -> bool:
    """True under spark-submit: its JVM already runs, started with its own options."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def engine_on_this_machine() -> bool:
    """The Spark this process uses runs here: a local JVM, or a Connect server
    on loopback (the warm engine), so both see the same local disk."""
    from urllib.parse import urlsplit

    remote = remote_url()
    return remote is None or urlsplit(remote).hostname in LOOPBACK_HOSTS
