"""How the project's Spark Connect client reaches a server (spark.connect_channel):
which token it sends and to which host, with pyspark's own channel builder (no server)."""

from __future__ import annotations

import pytest


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    from lakehouse.config import settings

    monkeypatch.setenv("LAKEHOUSE_SECRETS_FILE", str(tmp_path / "secrets.json"))
    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", raising=False)
    settings.cache_clear()
    yield tmp_path / "secrets.json"
    settings.cache_clear()


def test_a_loopback_server_gets_the_generated_token_over_local_credentials(secrets):
    from lakehouse import credentials
    from lakehouse.lake.spark import connect_channel

    channel = connect_channel("sc://127.0.0.1:15123")
    token = credentials.spark_connect_token()
    assert channel.token == token and len(token) >= 32
    assert channel.host == "localhost" and channel.endpoint == "localhost:15123"   # gRPC local creds, no TLS
    assert channel.secure and not channel.use_ssl
    assert secrets.stat().st_mode & 0o077 == 0          # kept owner-only
    assert credentials.spark_connect_token() == token   # generated once


def test_a_given_token_wins_and_a_remote_server_gets_no_local_secret(secrets, monkeypatch):
    from lakehouse.lake.spark import connect_channel

    assert connect_channel("sc://127.0.0.1:15123/;token=abc").token == "abc"
    monkeypatch.setenv("SPARK_CONNECT_AUTHENTICATE_TOKEN", "from-env")
    assert connect_channel("sc://localhost:15123").token == "from-env"
    monkeypatch.delenv("SPARK_CONNECT_AUTHENTICATE_TOKEN")
    remote = connect_channel("sc://spark.example.org:15002")
    assert remote.token is None and remote.host == "spark.example.org"
    assert not secrets.exists()                         # the local server's token never left for it


def test_a_session_id_joins_that_session(secrets):
    import uuid

    from lakehouse.lake.spark import connect_channel

    sid = str(uuid.uuid4())
    assert connect_channel("sc://127.0.0.1:15123", sid).session_id == sid


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A LAKEHOUSE_HOME with the warm engine on and no SPARK_REMOTE."""
    from lakehouse.config import settings

    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("LAKEHOUSE_WARM_ENGINE", "on")
    for name in ("SPARK_REMOTE", "LAKEHOUSE_SPARK_MASTER", "PYSPARK_GATEWAY_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings.cache_clear()
    yield tmp_path
    settings.cache_clear()


def _warm_engine_files(home, pid: int, url: str = "sc://127.0.0.1:15123") -> None:
    (home / "run").mkdir(exist_ok=True)
    (home / "run" / "spark-connect.pid").write_text(str(pid))
    (home / "run" / "spark-connect.url").write_text(url + "\n")


def test_a_process_uses_the_warm_engine_while_its_server_lives(home, monkeypatch):
    import os
    import subprocess

    from lakehouse.config import settings
    from lakehouse.lake.connect import remote_url

    assert remote_url() is None                       # nothing started: a local JVM
    _warm_engine_files(home, os.getpid())             # a live pid stands for the server
    assert remote_url() == "sc://127.0.0.1:15123"
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark.example.org:15002")
    settings.cache_clear()
    assert remote_url() == "sc://spark.example.org:15002"   # a server the user names wins
    monkeypatch.delenv("SPARK_REMOTE")
    monkeypatch.setenv("LAKEHOUSE_SPARK_MASTER", "spark://127.0.0.1:7077")
    settings.cache_clear()
    assert remote_url() is None                       # a driver on the cluster the user names
    monkeypatch.delenv("LAKEHOUSE_SPARK_MASTER")
    monkeypatch.setenv("LAKEHOUSE_WARM_ENGINE", "off")
    settings.cache_clear()
    assert remote_url() is None                       # switched off: a local JVM though it runs
    monkeypatch.setenv("LAKEHOUSE_WARM_ENGINE", "on")
    settings.cache_clear()
    gone = subprocess.Popen(["true"])
    gone.wait()
    _warm_engine_files(home, gone.pid)                # the server died: a local JVM, not a dead address
    assert remote_url() is None


def test_the_warm_engine_switch_takes_on_or_off_only(home, monkeypatch):
    from lakehouse.config import settings

    monkeypatch.setenv("LAKEHOUSE_WARM_ENGINE", "yes")
    settings.cache_clear()
    with pytest.raises(ValueError, match="LAKEHOUSE_WARM_ENGINE='yes': use 'on' or 'off'"):
        settings()


def test_the_warm_engine_s_tables_are_listed_on_this_machine_s_disk(home, monkeypatch):
    """Under a Connect server on loopback, a table's version and the lake's size
    come from a listing of the disk both see (no Spark job); a remote server's
    files are not this machine's."""
    import os

    from lakehouse.config import settings
    from lakehouse.lake import delta

    log = home / "lake" / "silver" / "t" / "_delta_log"
    log.mkdir(parents=True)
    for name in ("00000000000000000000.json", "00000000000000000003.json", "00000000000000000003.crc",
                 "00000000000000000002.checkpoint.parquet"):
        (log / name).write_text("x" * 10)
    no_jvm = object()        # what a Connect session offers delta._hadoop_path: no JVM of this process
    _warm_engine_files(home, os.getpid())
    assert delta.latest_version(no_jvm, str(home / "lake" / "silver" / "t")) == 3
    assert delta.latest_version(no_jvm, str(home / "lake" / "silver" / "none")) is None
    assert delta.stored_bytes(no_jvm, "silver") == 40
    monkeypatch.setenv("SPARK_REMOTE", "sc://spark.example.org:15002")
    settings.cache_clear()
    assert delta.stored_bytes(no_jvm, "silver") is None
