"""The COPY data path of publish on a Delta table of its own: values that
CSV and PostgreSQL literals get wrong (quotes, commas, newlines, backslashes,
empty string vs NULL, arrays, JSON, timestamps) arrive exactly, and a later
publish applies updates, deletes and inserts by key."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

pytestmark = pytest.mark.e2e

COLUMNS = [("id", "text"), ("label", "text"), ("amount", "numeric(12,2)"), ("tags", "text[]"),
           ("meta", "jsonb"), ("at", "timestamptz"), ("day", "date")]
SCHEMA = ("id string, label string, amount decimal(12,2), tags array<string>, meta map<string,string>, "
          "at timestamp, day date")


def _row(id_, label, amount, tags, meta, at, day):
    return (id_, label, Decimal(amount) if amount is not None else None, tags, meta, at, day)


T1 = datetime(2017, 4, 1, 8, 30, 15, 123456, tzinfo=timezone.utc)
T2 = datetime(2017, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
FIRST = {
    "A": _row("A", 'quote " comma , newline \n backslash \\ end', "1.50", ['警告', 'has "q"', "a,b", "back\\s"],
              {"k": 'v "x"'}, T1, date(2017, 4, 1)),
    "B": _row("B", "", "0.00", [], {}, T2, date(2017, 4, 2)),           # empty string, empty array/object
    "C": _row("C", None, None, None, None, None, None),                  # every value NULL
    "D": _row("D", "to be replaced", "4.00", ["x"], {"a": "1"}, T1, date(2017, 4, 4)),
}


def _lake_rows(conn):
    with conn.cursor() as cur:
        cur.execute("select id, label, amount, tags, meta, at, day from lake.pub_probe order by id")
        return {r[0]: r for r in cur.fetchall()}


def _expected(rows):
    # what PostgreSQL gives back: jsonb as a dict, NULLs as None
    return {k: (r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for k, r in rows.items()}


def test_copy_path_upserts_and_deletes_by_key(isolated_lakehouse, spark):
    from delta.tables import DeltaTable

    from lakehouse.serving import warehouse
    from lakehouse.serving.publish import _publish_table

    path = str(isolated_lakehouse / "lake" / "silver" / "pub_probe")
    spark.createDataFrame(list(FIRST.values()), SCHEMA).write.format("delta") \
        .option("delta.enableChangeDataFeed", "true").save(path)
    # lake.* tables are created by the bootstrap role and written by the loader (as ensure_lake_tables does)
    with warehouse.connect(role="admin") as admin, admin.cursor() as cur:
        cur.execute("create table lake.pub_probe (id text primary key, label text, amount numeric(12,2), "
                    "tags text[], meta jsonb, at timestamptz, day date)")
        cur.execute("grant select, insert, update, delete, truncate on lake.pub_probe to lakehouse_loader")
        cur.execute(warehouse.OPS_DDL)                                   # lake._publish_state
        admin.commit()
    with warehouse.connect(role="loader") as conn:
        first = _publish_table(spark, conn, "pub_probe", path, ["id"], COLUMNS)
        assert (first.from_version, first.upserted, first.deleted) == (None, 4, 0)
        assert _lake_rows(conn) == _expected(FIRST)

        # later commits: B updated (a value to NULL), C deleted, D deleted then re-inserted,
        # E inserted, F inserted then deleted (never reaches PostgreSQL)
        table = DeltaTable.forPath(spark, path)
        changed_b = _row("B", "now set", None, ["y"], {"b": "2"}, T1, date(2017, 5, 2))
        new_d = _row("D", "replaced", "40.00", ["z", "w"], {"d": "4"}, T2, date(2017, 5, 4))
        new_e = _row("E", "new", "5.55", ["e"], {"e": "5"}, T2, date(2017, 5, 5))
        updates = spark.createDataFrame([changed_b, new_e, _row("F", "gone", "6", None, None, None, None)], SCHEMA)
        table.alias("t").merge(updates.alias("s"), "t.id = s.id") \
            .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
        table.delete("id in ('C', 'D', 'F')")
        spark.createDataFrame([new_d], SCHEMA).write.format("delta").mode("append").save(path)

        second = _publish_table(spark, conn, "pub_probe", path, ["id"], COLUMNS)
        assert second.from_version == first.to_version and second.to_version == first.to_version + 3
        assert (second.upserted, second.deleted) == (3, 2)               # B, D, E / C, F
        expected = {"A": FIRST["A"], "B": changed_b, "D": new_d, "E": new_e}
        assert _lake_rows(conn) == _expected(expected)
        delta_now = {r["id"]: r["label"] for r in spark.read.format("delta").load(path).collect()}
        assert delta_now == {k: v[1] for k, v in expected.items()}       # PostgreSQL mirrors the Delta table

        assert _publish_table(spark, conn, "pub_probe", path, ["id"], COLUMNS) is None
        with conn.cursor() as cur:
            cur.execute("select delta_version from lake._publish_state where table_name = 'pub_probe'")
            assert cur.fetchone()[0] == second.to_version
