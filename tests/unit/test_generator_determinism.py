"""Same seed, same bytes; the world does not depend on which sources are written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lakehouse.generator import PRESETS, generate
from lakehouse.generator.cli import main


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "summary.json":
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_same_seed_same_bytes(tmp_path):
    a = generate(
        out=tmp_path / "a" / "landing", truth=tmp_path / "a" / "truth", preset="tiny", seed=3, progress=False
    )
    generate(
        out=tmp_path / "b" / "landing", truth=tmp_path / "b" / "truth", preset="tiny", seed=3, progress=False
    )
    da, db = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert da == db
    assert any(k.endswith(".xlsx") for k in da)
    assert 100 < a["rows_written"] < 2000
    generate(
        out=tmp_path / "c" / "landing", truth=tmp_path / "c" / "truth", preset="tiny", seed=4, progress=False
    )
    dc = _digest(tmp_path / "c")
    assert dc.keys() & da.keys() and all(
        dc[k] != da[k] for k in dc.keys() & da.keys() if k.endswith(".jsonl") and "landing" in k
    )


def test_sources_filter_keeps_the_world(tmp_path):
    generate(
        out=tmp_path / "all" / "landing",
        truth=tmp_path / "all" / "truth",
        preset="tiny",
        seed=5,
        progress=False,
    )
    generate(
        out=tmp_path / "two" / "landing",
        truth=tmp_path / "two" / "truth",
        preset="tiny",
        seed=5,
        sources=["jingan", "jinshan"],
        progress=False,
    )
    full = _digest(tmp_path / "all" / "landing")
    part = _digest(tmp_path / "two" / "landing")
    assert part and all(k.split("/")[0] in ("jingan", "jinshan") for k in part)
    assert all(full[k] == v for k, v in part.items())


def test_cli(tmp_path, capsys):
    assert (
        main(
            ["--preset", "tiny", "--days", "1", "--seed", "7", "--out", str(tmp_path / "landing"), "--quiet"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == 1 and out["preset"] == "tiny"
    assert (tmp_path / "truth" / "summary.json").exists()
    assert {"tiny", "small", "city", "bench"} <= set(PRESETS)
