"""The warm engine (issue 28): a real Spark Connect server started by
`lakehouse connect up` (tests/helpers/warm_engine.py) that refuses clients
without the project's generated token, and an ingest killed mid-batch on it
whose operations still running on the server never commit after the next run
undid the batch."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.lake_snapshot import differences, snapshot
from helpers.warm_engine import connect_server, server_log

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
SOURCES = "city,huangpu,jingan"
DAYS = ["2017-02-27", "2017-02-28", "2017-03-01"]
RAW_CLIENT = ("import sys\nfrom pyspark.sql import SparkSession\n"
              "print('rows', SparkSession.builder.remote(sys.argv[1]).getOrCreate().range(3).count())\n")
PROJECT_CLIENT = ("import sys\nfrom lakehouse.lake.spark import get_spark\nspark = get_spark()\n"
                  "spark.range(5).write.format('delta').save(sys.argv[1])\n"
                  "print('rows', spark.read.format('delta').load(sys.argv[1]).count(), type(spark).__module__)\n")


@pytest.fixture(scope="module")
def server(isolated_lakehouse_module, tmp_path_factory):
    home = tmp_path_factory.mktemp("connect-home")
    with connect_server(home) as (url, env):
        yield {"url": url, "port": url.rsplit(":", 1)[1], "env": env, "home": home}


@pytest.fixture(scope="module")
def server_spark(server):
    """A Spark Connect session of this process on the test's server (no local
    JVM beside the server's: on a 2-core shared machine one driver is enough).
    pyspark's functions build Connect columns while SPARK_CONNECT_MODE_ENABLED
    is set: only for this module."""
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    from lakehouse.lake.spark import connect_channel

    saved = os.environ.get("SPARK_CONNECT_MODE_ENABLED")
    os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
    session = ConnectSession.builder.channelBuilder(connect_channel(server["url"])).create()
    try:
        yield session
    finally:
        session.stop()
        if saved is None:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)


def _python(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_AUTHENTICATE_TOKEN")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True, text=True,
                          timeout=300)


def _server_processes(home: Path) -> list[int]:
    from lakehouse.lake import faults

    root = int((home / "run" / "spark-connect.pid").read_text())
    return [root, *faults._descendants(root)]


def test_the_server_refuses_a_client_without_its_token(server, tmp_path):
    from lakehouse import credentials
    from lakehouse.config import settings

    token = credentials.spark_connect_token()
    port = server["port"]
    # any local user's client: no token, a wrong one (also through pyspark's documented variable)
    for args, env in (([f"sc://localhost:{port}"], {}),
                      ([f"sc://localhost:{port}/;token=not-the-token"], {}),
                      ([f"sc://localhost:{port}"], {"SPARK_CONNECT_AUTHENTICATE_TOKEN": "guessed"})):
        refused = _python(RAW_CLIENT, *args, **env)
        assert refused.returncode != 0 and "rows 3" not in refused.stdout, (args, refused.stdout)
        assert "UNAUTHENTICATED" in refused.stderr or "authentication" in refused.stderr.lower(), \
            refused.stderr[-2000:]
    # the token through pyspark's own ways in: the URL, or the client's environment variable
    assert "rows 3" in _python(RAW_CLIENT, f"sc://localhost:{port}/;token={token}").stdout
    assert "rows 3" in _python(RAW_CLIENT, f"sc://localhost:{port}",
                               SPARK_CONNECT_AUTHENTICATE_TOKEN=token).stdout
    # the project's client finds the token itself (127.0.0.1 as `connect up` prints it), with Delta
    ok = _python(PROJECT_CLIENT, str(tmp_path / "t"), SPARK_REMOTE=server["url"])
    assert ok.returncode == 0 and "rows 5 pyspark.sql.connect" in ok.stdout, ok.stderr[-3000:]

    # the token is kept owner-only and shown nowhere: not in `up`'s output, the log, any command line
    assert settings().secrets_file.stat().st_mode & 0o077 == 0
    assert token not in server["env"]["CONNECT_UP_OUTPUT"]
    assert token not in server_log(server["home"])
    for pid in _server_processes(server["home"]):
        cmdline = Path(f"/proc/{pid}/cmdline")
        assert not cmdline.exists() or token not in cmdline.read_text(errors="replace"), pid


# --------------------------------------------------------------------------- a kill mid-batch on the server

IN_FLIGHT_SECONDS = 45     # how long the killed batch's extra append keeps running on the server


def _cli(args: list[str], lake: Path, landing: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "LAKEHOUSE_LAKE": str(lake), "LAKEHOUSE_LANDING": str(landing), **env}
    return subprocess.run([sys.executable, *args], env=full, capture_output=True, text=True, timeout=900)


def _land(landing: Path, full: Path, days: list[str]) -> None:
    import shutil

    for folder in sorted(full.glob("*/*")):
        if folder.name in days:
            shutil.copytree(folder, landing / folder.parent.name / folder.name, dirs_exist_ok=True)


@pytest.mark.slow
def test_a_batch_killed_on_the_server_never_commits_after_its_undo(server, server_spark, tmp_path, monkeypatch):
    """Days 1-2 ingested on the server; day 3's ingest is killed -9 mid-batch
    (after its silver/entities commit) while another of its writes still runs
    on the server; the rerun stops that write before it undoes the batch: the
    tables equal a clean run of the three days, and stay so after the write
    would have committed. Then the same lake is maintained on the server."""
    from lakehouse.config import settings
    from lakehouse.lake import delta

    spark = server_spark
    full, clean, lake_dir, landing = (tmp_path / n for n in ("generated", "clean", "lake", "landing"))
    subprocess.run([sys.executable, "-m", "lakehouse.cli", "generate", "--preset", "tiny", "--days", "3",
                    "--sources", SOURCES, "--out", str(full), "--quiet", "--no-truth-rows"], check=True)
    remote = {"SPARK_REMOTE": server["url"]}
    whole = _cli(["-m", "lakehouse.cli", "ingest"], clean, full, **remote)     # the clean run: all days at once
    assert whole.returncode == 0, whole.stderr[-3000:]
    want = snapshot(spark, clean)

    _land(landing, full, DAYS[:2])
    first = _cli(["-m", "lakehouse.cli", "ingest"], lake_dir, landing, **remote)
    assert first.returncode == 0, first.stderr[-3000:]
    _land(landing, full, DAYS[2:])
    stamp = tmp_path / "in-flight-started"
    monkeypatch.setenv("LAKEHOUSE_LAKE", str(lake_dir))
    settings.cache_clear()
    entities = delta.table_path("silver", "entities")
    killed = _cli([str(HERE.parent / "helpers" / "killed_on_server.py"), entities, str(stamp), str(IN_FLIGHT_SECONDS)],
                  lake_dir, landing, LAKEHOUSE_FAULT_KILL_TABLE="silver/entities",
                  LAKEHOUSE_FAULT_KILL_AFTER_COMMITS="1", **remote)
    assert killed.returncode == -9, f"expected a kill -9, got {killed.returncode}: {killed.stderr[-3000:]}"
    assert stamp.exists(), "the extra write had not started when the batch was killed"

    rerun = _cli(["-m", "lakehouse.cli", "ingest"], lake_dir, landing, **remote)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "stopped 1 of its operation(s) still running on the Spark Connect server" in rerun.stdout, \
        rerun.stdout[-3000:]
    got = snapshot(spark, lake_dir)
    assert not differences(got, want), "\n".join(differences(got, want))
    # past the moment the stopped write would have committed: nothing of the killed batch landed
    version = delta.latest_version(spark, entities)
    time.sleep(max(0.0, float(stamp.read_text()) + IN_FLIGHT_SECONDS + 15 - time.time()))
    assert delta.latest_version(spark, entities) == version
    got = snapshot(spark, lake_dir)
    assert not differences(got, want), "\n".join(differences(got, want))

    # maintenance runs on the server too, changes no row, prints no "Deleted N files";
    # a second run right after has nothing to do and commits nothing
    maintained = _cli(["-m", "lakehouse.cli", "maintain", "--retain-days", "0"], lake_dir, landing, **remote)
    assert maintained.returncode == 0, maintained.stderr[-3000:]
    assert "Deleted" not in maintained.stdout and " compacted, " in maintained.stdout, maintained.stdout[-2000:]
    assert not differences(snapshot(spark, lake_dir), want)
    versions = {t: delta.latest_version(spark, str(lake_dir / t)) for t in want}
    again = _cli(["-m", "lakehouse.cli", "maintain", "--retain-days", "0"], lake_dir, landing, **remote)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 compacted, 0 vacuumed" in again.stdout, again.stdout[-2000:]
    assert {t: delta.latest_version(spark, str(lake_dir / t)) for t in want} == versions
