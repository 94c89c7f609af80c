"""silver.classify on the real Spark: a small batch's outcomes are the same
whether silver is narrowed to the batch's keys first (narrow=True, a day
against a large lake) or the whole table is windowed with it."""

from datetime import date, datetime

from lakehouse.ingest import silver

COLUMNS = ("a string, b string, v timestamp, _row_hash string, _delivery_date date, _file string, "
           "_file_sha256 string, _row_number bigint")


def _row(a, b, v, content, day, file, n):
    return (a, b, datetime(2026, 1, v) if v else None, content, date(2026, 2, day), file, "sha", n)


def test_small_batch_narrowing_keeps_every_outcome(spark):
    # silver: 200 keys no batch row touches, plus the keys the batch re-sends or updates
    current = [_row(f"k{i}", "x", 1, f"c{i}", 1, "old/f1.csv", i) for i in range(200)]
    current += [_row("same", "x", 5, "s1", 1, "old/f1.csv", 900),
                _row("newer", "x", 5, "n1", 1, "old/f1.csv", 901),
                _row("older", "x", 5, "o1", 1, "old/f1.csv", 902),
                _row("nullb", None, 5, "z1", 1, "old/f1.csv", 903)]
    batch = [_row("same", "x", 5, "s1", 3, "new/f2.csv", 1),      # re-sent: duplicate
             _row("newer", "x", 6, "n2", 3, "new/f2.csv", 2),     # a later version: accepted
             _row("older", "x", 4, "o0", 3, "new/f2.csv", 3),     # an earlier version than silver's: duplicate
             _row("nullb", None, 5, "z1", 3, "new/f2.csv", 4),    # key with a null part, re-sent: duplicate
             _row("fresh", "x", 1, "f1", 3, "new/f2.csv", 5),     # a new key: accepted
             _row("fresh", "x", 1, "f1", 3, "new/f2.csv", 6)]     # the same again in the batch: duplicate
    cur = spark.createDataFrame(current, COLUMNS)
    new = spark.createDataFrame(batch, COLUMNS)

    def outcomes(narrow: bool) -> dict[int, str]:
        rows = silver.classify(new, cur, None, ["a", "b"], "v", ["new/f2.csv@sha"],
                               files_in_current=False, narrow=narrow).collect()
        return {r["_row_number"]: r["_outcome"] for r in rows}

    expected = {1: "duplicate", 2: "accepted", 3: "duplicate", 4: "duplicate", 5: "accepted", 6: "duplicate"}
    assert outcomes(narrow=False) == expected
    assert outcomes(narrow=True) == expected
