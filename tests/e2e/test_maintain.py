"""Table maintenance (lakehouse.lake.maintain through the maintain_lake DAG): after
many small batches, OPTIMIZE and VACUUM shrink the number of files of every
Delta table while each table reads exactly the rows it read before."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.e2e

SOURCES = ["city", "huangpu"]   # the registry and one district: every layer, many small commits


def _snapshot(spark, paths):
    out = {}
    for p in paths:
        rows = spark.read.format("delta").load(p).collect()
        out[p] = sorted(repr(sorted(r.asDict(recursive=True).items())) for r in rows)
    return out


def test_maintenance_compacts_and_vacuums_without_changing_a_row(isolated_lakehouse, spark, dagbag, monkeypatch):
    from delta.tables import DeltaTable

    from lakehouse.config import settings
    from lakehouse.generator import generate
    from lakehouse.ingest.pipeline import ingest
    from lakehouse.lake.maintain import _files_on_disk, lake_tables

    root = isolated_lakehouse
    generate(out=root / "landing", truth=root / "truth", start=dt.date(2017, 2, 27), days=2, preset="tiny",
             seed=5, sources=SOURCES, progress=False)
    monkeypatch.setenv("LAKEHOUSE_BATCH_ROWS", "1")     # one delivery per batch: many small commits
    ingest(sources=SOURCES, spark=spark)

    paths = lake_tables(spark)
    layers = {p.rsplit("/", 2)[-2] for p in paths}
    assert layers == {"bronze", "silver", "quarantine", "ops"}, paths
    before = _snapshot(spark, paths)
    files_before = {p: int(DeltaTable.forPath(spark, p).detail().collect()[0]["numFiles"]) for p in paths}
    disk_before = sum(_files_on_disk(spark, p) for p in paths)
    assert max(files_before.values()) >= 4, files_before      # the small batches did leave small files

    monkeypatch.setenv("LAKEHOUSE_VACUUM_RETAIN_DAYS", "0")  # no time travel kept: vacuum at once
    settings.cache_clear()
    tracker = spark.sparkContext.statusTracker()
    jobs_before = set(tracker.getJobIdsForGroup())
    run = dagbag.get_dag("maintain_lake").test()     # its tasks run here, on this session
    assert "success" in str(run.state).lower()
    # VACUUM's file listing in a few tasks, not Spark's default 10,000 per table
    stages = {s for j in set(tracker.getJobIdsForGroup()) - jobs_before if (info := tracker.getJobInfo(j))
              for s in info.stageIds}
    tasks = [info.numTasks for s in stages if (info := tracker.getStageInfo(s))]
    assert tasks and max(tasks) <= 64, max(tasks, default=None)

    files_after = {p: int(DeltaTable.forPath(spark, p).detail().collect()[0]["numFiles"]) for p in paths}
    for p in paths:
        assert files_after[p] <= max(1, files_before[p]), p
        if files_before[p] >= 4:
            assert files_after[p] < files_before[p], (p, files_before[p], files_after[p])
    assert sum(_files_on_disk(spark, p) for p in paths) < disk_before     # vacuumed from storage too
    assert _snapshot(spark, paths) == before                              # every row as before
    props = DeltaTable.forPath(spark, paths[0]).detail().collect()[0]["properties"]
    assert props["delta.checkpointInterval"] == str(settings().checkpoint_interval)
    # the lake keeps working: one more day ingests on the compacted tables
    generate(out=root / "landing", truth=root / "truth", start=dt.date(2017, 3, 1), days=1, preset="tiny",
             seed=5, sources=SOURCES, progress=False)
    report = ingest(sources=SOURCES, spark=spark)
    assert report.files and all(f.status != "blocked" for f in report.files)

    # `lakehouse maintain` (its own process and JVM): quiet, only the written tables
    # have work; right after, a second run has nothing to do and commits nothing
    from lakehouse.lake import delta

    first = _maintain_cli()
    assert "Deleted" not in first.stdout, first.stdout[-2000:]       # Delta's VACUUM println, silenced
    assert f"[maintain] {len(paths)} tables: " in first.stdout, first.stdout[-2000:]
    versions = {p: delta.latest_version(spark, p) for p in paths}
    second = _maintain_cli()
    assert f"{len(paths)} tables: 0 compacted, 0 vacuumed, {len(paths)} had nothing to do" in second.stdout, \
        second.stdout[-2000:]
    assert {p: delta.latest_version(spark, p) for p in paths} == versions
    assert "Deleted" not in second.stdout


def _maintain_cli():
    import os
    import subprocess
    import sys
    import time

    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "lakehouse.cli", "maintain", "--retain-days", "0"],
                         env=dict(os.environ), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    print(f"lakehouse maintain: {time.monotonic() - t0:.1f} s")
    return run
