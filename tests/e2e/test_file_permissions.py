"""Files the project writes are its owner's only: the secrets file, the landing
copy the generator writes, the Delta lake the ingest writes. Checked by mode
bits and by trying to read them as another OS user (`runuser -u nobody`)
from a place other users can traverse, so only the files' own modes protect them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"),
                                reason="runuser as another OS user needs root")


def _as_nobody(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", "nobody", "--", *cmd], capture_output=True, text=True)


def _open_to_others(root: Path) -> list[str]:
    return [f"{p} {p.stat().st_mode & 0o777:o}" for p in [root, *root.rglob("*")]
            if p.stat().st_mode & 0o077]


@pytest.fixture(scope="module")
def written(e2e_env, spark, private_lakehouse_factory):
    """A landing copy (the generator's CLI) and a lake (the ingest) inside a world-traversable folder."""
    private_lakehouse = private_lakehouse_factory
    from lakehouse.config import settings
    from lakehouse.ingest.pipeline import ingest

    root = settings().home / f"perm-{uuid.uuid4().hex[:8]}"
    root.mkdir()
    os.chmod(root, 0o755)  # as if LAKEHOUSE_LAKE/LANDING were set to a shared place
    day = date(2017, 4, 10)
    try:
        with private_lakehouse(root):
            landing = Path(settings().landing)
            subprocess.run([sys.executable, "-m", "lakehouse.cli", "generate", "--preset", "tiny", "--days", "1",
                            "--start", day.isoformat(), "--sources", "huangpu", "--out", str(landing),
                            "--truth", str(root / "truth"), "--quiet"], check=True)
            ingest(sources=["huangpu"], start=day, end=day)
            yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_secrets_file_is_owner_only():
    from lakehouse.config import settings

    secrets = settings().secrets_file
    assert secrets.exists() and secrets.stat().st_mode & 0o777 == 0o600


def test_lake_and_landing_are_owner_only(written):
    lake, landing = written / "lake", written / "landing"
    assert any(lake.rglob("*.parquet")) and any(p.is_file() for p in landing.rglob("*"))
    assert _open_to_others(lake) == []
    assert _open_to_others(landing) == []


@needs_root
def test_another_os_user_reads_neither_secrets_nor_lake(written):
    from lakehouse.config import settings

    parquet = next((written / "lake").rglob("*.parquet"))
    landed = next(p for p in (written / "landing").rglob("*") if p.is_file())
    # nobody can reach the folder itself: only the files' modes stop it
    assert _as_nobody("test", "-x", str(written)).returncode == 0
    for target in (settings().secrets_file, parquet, landed):
        res = _as_nobody("cat", str(target))
        assert res.returncode != 0 and "Permission denied" in res.stderr, target
    res = _as_nobody("ls", str(written / "lake"))
    assert res.returncode != 0 and "Permission denied" in res.stderr
