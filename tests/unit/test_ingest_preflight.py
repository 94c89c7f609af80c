"""`lakehouse ingest` refuses a request that can find nothing before Spark starts:
exit code 2, one line saying what, where and what to do, within seconds. The
CLI runs as a subprocess, as a user runs it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from lakehouse.ingest.preflight import PreflightError, check_ingest_request

SOURCES = ("huangpu", "jingan", "city")


def _ingest(home: Path, *argv: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "lakehouse.cli", "ingest", *argv], capture_output=True,
                         text=True, timeout=120,
                         env={**os.environ, "LAKEHOUSE_HOME": str(home), "LAKEHOUSE_LANDING": str(home / "landing"),
                              "LAKEHOUSE_LOCK_WAIT_SECONDS": "0", **env})
    return run, time.monotonic() - t0


def _refused(home: Path, *argv: str) -> str:
    """The CLI's error line, after checking it came fast, with code 2 and without Spark."""
    run, seconds = _ingest(home, *argv)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert seconds < 15, f"took {seconds:.1f}s: a Spark session was started?"
    assert "spark" not in run.stderr.lower() and "Traceback" not in run.stderr, run.stderr
    assert not (home / "lake").exists(), "nothing may be written to the lake"
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("lakehouse ingest: ")
    return line


def _deliver(landing: Path, source: str, day: str) -> None:
    (landing / source / day).mkdir(parents=True)
    (landing / source / day / "_MANIFEST.json").write_text('{"files": []}')


def test_a_landing_that_does_not_exist(tmp_path):
    line = _refused(tmp_path, "--landing", str(tmp_path / "no-such-folder"))
    assert f"landing folder {tmp_path / 'no-such-folder'} does not exist" in line
    assert "set LAKEHOUSE_LANDING or pass --landing" in line


def test_an_empty_landing(tmp_path):
    (tmp_path / "landing").mkdir()
    line = _refused(tmp_path)
    assert f"landing folder {tmp_path / 'landing'} holds no deliveries" in line


def test_a_source_folder_given_as_the_landing_points_at_its_parent(tmp_path):
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    line = _refused(tmp_path, "--landing", str(tmp_path / "landing" / "huangpu"))
    assert f"its parent {tmp_path / 'landing'} may be the one you meant" in line


def test_a_reversed_range(tmp_path):
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    line = _refused(tmp_path, "--from", "2017-04-12", "--to", "2017-04-10")
    assert "--from 2017-04-12 is after --to 2017-04-10" in line
    assert "swap them (--from 2017-04-10 --to 2017-04-12)" in line


def test_a_day_nobody_delivered(tmp_path):
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    _deliver(tmp_path / "landing", "jingan", "2017-04-11")
    line = _refused(tmp_path, "--date", "2017-04-12")
    assert "no source has a delivery folder for 2017-04-12" in line
    assert "delivered days there: 2017-04-10, 2017-04-11" in line


def test_a_source_and_day_with_no_delivery_folder(tmp_path):
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    _deliver(tmp_path / "landing", "jingan", "2017-04-11")
    line = _refused(tmp_path, "--source", "huangpu", "--day", "2017-04-11")
    assert f"huangpu has no delivery folder for 2017-04-11 in {tmp_path / 'landing'}" in line
    assert f"({tmp_path / 'landing' / 'huangpu' / '2017-04-11'} does not exist)" in line
    assert "its delivered days: 2017-04-10" in line


def test_an_unknown_source(tmp_path):
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    line = _refused(tmp_path, "--source", "huangpoo")
    assert "unknown source(s) huangpoo: use one of" in line and "huangpu" in line


def test_a_landing_with_a_delivery_gets_past_preflight(tmp_path):
    """With the lake's lock held and no waiting allowed, the run fails on the
    lock: the step after preflight, still before any Spark session."""
    _deliver(tmp_path / "landing", "huangpu", "2017-04-10")
    lock = tmp_path / "lake.ingest.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for argv in ([], ["--source", "huangpu", "--date", "2017-04-10"], ["--from", "2017-04-01"]):
            run, _ = _ingest(tmp_path, *argv, LAKEHOUSE_LAKE=str(tmp_path / "lake"))
            assert run.returncode == 2, run.stderr
            assert "is locked by another ingest" in run.stderr, run.stderr
    finally:
        os.close(fd)


def test_a_uri_landing_is_left_to_spark():
    check_ingest_request("s3a://bucket/landing", ["huangpu"], date(2017, 4, 10), date(2017, 4, 10), SOURCES)


def test_a_range_reaching_over_the_deliveries_passes(tmp_path):
    _deliver(tmp_path, "huangpu", "2017-04-10")
    check_ingest_request(tmp_path, None, date(2017, 4, 1), date(2017, 4, 30), SOURCES)
    check_ingest_request(tmp_path, ["huangpu"], None, date(2017, 4, 10), SOURCES)
    with pytest.raises(PreflightError, match="huangpu has no delivery folder on or after 2017-04-11"):
        check_ingest_request(tmp_path, ["huangpu"], date(2017, 4, 11), None, SOURCES)
