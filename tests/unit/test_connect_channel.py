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
