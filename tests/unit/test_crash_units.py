"""The pieces of crash safety that need no Spark: the lake lock, the one-line
explanations of known failures, broken manifests rejecting their folder."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
from datetime import date

import pytest


@pytest.fixture
def lake_env(tmp_path, monkeypatch):
    from lakehouse.config import settings

    monkeypatch.setenv("LAKEHOUSE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("LAKEHOUSE_LOCK_WAIT_SECONDS", "0")
    settings.cache_clear()
    yield tmp_path
    settings.cache_clear()


def _try_lock(queue) -> None:
    from lakehouse.config import settings
    from lakehouse.lake import lakelock

    settings.cache_clear()
    try:
        with lakelock.lake_lock("ingest"):
            queue.put("got it")
    except lakelock.LakeBusy as exc:
        queue.put(str(exc))


def test_second_process_is_refused_with_the_holder(lake_env):
    from lakehouse.lake import lakelock

    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with lakelock.lake_lock("ingest"):
        p = ctx.Process(target=_try_lock, args=(queue,))
        p.start()
        message = queue.get(timeout=60)
        p.join()
    assert f"locked by another ingest (pid {os.getpid()} on " in message and "rerun" in message, message
    p = ctx.Process(target=_try_lock, args=(queue,))
    p.start()
    assert queue.get(timeout=60) == "got it"     # released with the block
    p.join()


def test_publish_lock_is_separate_from_ingest(lake_env):
    from lakehouse.lake import lakelock

    with lakelock.lake_lock("ingest"), lakelock.lake_lock("publish"):
        assert lakelock.lock_path("ingest") != lakelock.lock_path("publish")


def test_no_lock_file_for_s3a(monkeypatch):
    from lakehouse.config import settings
    from lakehouse.lake import lakelock

    monkeypatch.setenv("LAKEHOUSE_LAKE", "s3a://bucket/lake")
    settings.cache_clear()
    try:
        assert lakelock.lock_path("ingest") is None
        with lakelock.lake_lock("ingest"):
            pass
    finally:
        settings.cache_clear()


def test_disk_full_found_deep_in_the_chain(lake_env):
    from lakehouse.lake import faults

    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("TASK_WRITE_FAILED") from inner
    except RuntimeError as exc:
        line = faults.explain(exc)
    assert line.startswith(f"the disk holding the lake at {lake_env / 'lake'} is full; free space and rerun")


def test_unknown_failures_are_left_alone(lake_env):
    from lakehouse.lake import faults

    assert faults.explain(KeyError("x")) is None
    with pytest.raises(KeyError):
        with faults.clear_errors():
            raise KeyError("x")


def _folder(landing, source, day, files, manifest=None):
    folder = landing / source / day
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    doc = manifest if manifest is not None else json.dumps(
        {"source": source, "date": day, "files": [{"name": n, "feed": "penalties", "rows": 1, "sha256": "0" * 64}
                                                 for n in files]})
    (folder / "_MANIFEST.json").write_text(doc)


def test_broken_manifests_reject_their_folder_only(tmp_path):
    from lakehouse.ingest.landing import find_deliveries

    landing = tmp_path
    _folder(landing, "a", "2017-04-03", {"p.csv": "x\n1\n"})
    _folder(landing, "a", "2017-04-04", {"p.csv": "x\n1\n"}, manifest="{oops")
    _folder(landing, "b", "2017-04-03", {"p.csv": "x\n1\n"},
            manifest=json.dumps({"source": "c", "date": "2017-04-03", "files": []}))
    _folder(landing, "b", "2017-04-04", {"p.csv": "x\n1\n"})
    (landing / "b" / "2017-04-04" / "extra.csv").write_text("x\n2\n")
    rejected = []
    found, _ = find_deliveries(landing, ["a", "b"], rejected=rejected)
    assert [(d.source, d.day) for d in found] == [("a", date(2017, 4, 3))]
    assert {(r.source, str(r.day)): r.reason for r in rejected} == {
        ("a", "2017-04-04"): "manifest_unreadable", ("b", "2017-04-03"): "manifest_wrong_folder",
        ("b", "2017-04-04"): "manifest_unlisted_file"}
    unlisted = next(r for r in rejected if r.reason == "manifest_unlisted_file")
    assert "extra.csv" in unlisted.message and unlisted.manifest == "b/2017-04-04/_MANIFEST.json"
    assert len(unlisted.sha256) == 64
