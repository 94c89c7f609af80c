"""What is new is decided by the file and its manifest entry: a file rejected
because its manifest announced the wrong row count is ingested when the
source re-sends the day with a corrected manifest and the same bytes (as the
rejection message asks), and re-sending that again changes nothing."""

from __future__ import annotations

import pytest
from helpers import contract_fixture as fx

pytestmark = pytest.mark.e2e
FILE = f"xuhui/{fx.DAY1}/penalties.csv"


def _deliver(landing, announced: int) -> None:
    rows = [fx.pen("XH-1", fx.E_A, "甲", fx.D_XH, "2017-04-01"), fx.pen("XH-2", fx.E_A, "甲", fx.D_XH, "2017-04-01")]
    fx.write_folder(landing, "xuhui", fx.DAY1, "S",
                    {"penalties.csv": ("penalties", fx.csv_bytes(fx.PEN_S, rows), announced)})


def _state(read_delta) -> dict:
    runs = sorted((r["_file"], r["status"], (r["reason"] or "").split(":")[0], r["rows_in"], r["rows_accepted"])
                  for r in read_delta("ops", "ingest_runs").collect())
    return {"runs": runs, "silver": sorted(r["record_id"] for r in read_delta("silver", "penalties").collect()),
            "bronze": read_delta("bronze", "penalties").count()}


def test_a_corrected_manifest_with_the_same_bytes_is_ingested_once(isolated_lakehouse, spark, read_delta):
    from lakehouse.ingest.pipeline import ingest

    landing = isolated_lakehouse / "landing"
    _deliver(landing, announced=3)                      # the manifest is wrong: the file has 2 rows
    first = ingest(sources=["xuhui"], landing=landing, spark=spark)
    assert [(f.status, f.reason.split(":")[0]) for f in first.files] == [("rejected", "row_count_mismatch")]
    assert "re-send" in first.files[0].reason
    bytes_sent = (landing / FILE).read_bytes()

    again = ingest(sources=["xuhui"], landing=landing, spark=spark)     # nothing changed: nothing to do
    assert again.files == [] and "nothing new to ingest" in again.notes

    _deliver(landing, announced=2)                      # re-sent: corrected manifest, the same bytes
    assert (landing / FILE).read_bytes() == bytes_sent
    fixed = ingest(sources=["xuhui"], landing=landing, spark=spark)
    assert [(f._file, f.status, f.rows_in, f.rows_accepted) for f in fixed.files] == [(FILE, "accepted", 2, 2)]
    after_fix = _state(read_delta)
    assert after_fix["silver"] == ["XH-1", "XH-2"] and after_fix["bronze"] == 2

    _deliver(landing, announced=2)                      # the same re-send once more
    resent = ingest(sources=["xuhui"], landing=landing, spark=spark)
    assert resent.files == [] and _state(read_delta) == after_fix
