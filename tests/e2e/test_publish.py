"""Publishing silver into PostgreSQL: changes only (Delta change feed from the
last published version), bulk COPY, one transaction per table, and
publishing twice changes nothing."""

from __future__ import annotations

from datetime import date

import pytest
from helpers import contract_fixture as fx

pytestmark = pytest.mark.e2e


def _lake_penalties():
    from lakehouse.serving import warehouse

    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("select record_id, status, fine_amount, penalty_kinds, _file from lake.penalties order by 1")
        rows = cur.fetchall()
        cur.execute("select delta_version from lake._publish_state where table_name = 'penalties'")
        return rows, cur.fetchone()[0]


def test_publish_is_incremental_and_idempotent(isolated_lakehouse, spark):
    from lakehouse.ingest.pipeline import ingest
    from lakehouse.serving.publish import publish

    landing = isolated_lakehouse / "landing"
    rows = [fx.pen("P-1", fx.E_A, "甲", fx.D_HP, "2017-04-01", fine="100", kinds="警告；罚款"),
            fx.pen("P-2", fx.E_A, "甲", fx.D_HP, "2017-04-02", fine="200")]
    fx.write_folder(landing, "huangpu", fx.DAY1, "S", {"penalties.csv": ("penalties", fx.csv_bytes(fx.PEN_S, rows), 2)})
    ingest(sources=["huangpu"], spark=spark)

    first = {p.table: p for p in publish(spark=spark)}
    assert first["penalties"].from_version is None and first["penalties"].upserted == 2
    published, version = _lake_penalties()
    assert [(r[0], r[1], str(r[2]), r[3]) for r in published] == [
        ("P-1", "EFFECTIVE", "100.00", ["警告", "罚款"]), ("P-2", "EFFECTIVE", "200.00", ["罚款"])]

    again = {p.table: p for p in publish(spark=spark)}
    assert "penalties" not in again                      # nothing changed: nothing published
    assert _lake_penalties() == (published, version)

    # day 2: P-2 revoked (a later version), P-3 new; P-1 not re-sent
    day2 = [fx.pen("P-2", fx.E_A, "甲", fx.D_HP, "2017-04-02", fine="200", status="已撤销",
                   updated="2017-04-04 09:00:00"),
            fx.pen("P-3", fx.E_A, "甲", fx.D_HP, "2017-04-03", fine="300")]
    fx.write_folder(landing, "huangpu", fx.DAY2, "S", {"penalties.csv": ("penalties", fx.csv_bytes(fx.PEN_S, day2), 2)})
    ingest(sources=["huangpu"], start=date(2017, 4, 4), spark=spark)
    second = {p.table: p for p in publish(spark=spark)}
    assert second["penalties"].from_version == version and second["penalties"].upserted == 2
    published, _ = _lake_penalties()
    assert [(r[0], r[1], str(r[2])) for r in published] == [
        ("P-1", "EFFECTIVE", "100.00"), ("P-2", "REVOKED", "200.00"), ("P-3", "EFFECTIVE", "300.00")]
    assert published[1][4] == f"huangpu/{fx.DAY2}/penalties.csv"   # lineage travels to PostgreSQL
