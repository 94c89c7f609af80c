"""A day's files depend on the seed and the day, not on how many days a run
generates: a longer run with the same seed and start leaves the earlier days'
bytes as they were (e.g. `make demo`'s three days, then the README's five)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest

from lakehouse.generator import generate


def _files(landing: Path, days: set[str]) -> dict[str, str]:
    return {str(p.relative_to(landing)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(landing.rglob("*")) if p.is_file() and p.parent.name in days}


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_more_days_leave_the_earlier_days_bytes(tmp_path, preset):
    start = date(2017, 4, 10)
    short = generate(out=tmp_path / "two" / "landing", truth=tmp_path / "two" / "truth", start=start, days=2,
                     preset=preset, seed=11, progress=False)
    generate(out=tmp_path / "four" / "landing", truth=tmp_path / "four" / "truth", start=start, days=4,
             preset=preset, seed=11, progress=False)
    days = {"2017-04-10", "2017-04-11"}
    assert (short["start"], short["end"]) == ("2017-04-10", "2017-04-11")
    two, four = _files(tmp_path / "two" / "landing", days), _files(tmp_path / "four" / "landing", days)
    assert len(two) > 50
    assert {name: four.get(name) for name in two} == two
    # the only files the longer run adds to those days: the manifests of folders that
    # were still uploading on the short run's last day (no manifest yet)
    added = sorted(set(four) - set(two))
    assert all(name.endswith("/2017-04-11/_MANIFEST.json") for name in added), added
    for name in added:
        assert any(other.startswith(name.removesuffix("_MANIFEST.json")) for other in two), name
