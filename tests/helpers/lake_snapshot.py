"""Every Delta table of a lake as comparable values, for "equal to a clean
run" checks: table -> sorted list of rows (as JSON), so a duplicated row or a
changed value shows up as a difference.

Left out, because they legitimately differ between two runs of the same
landing: run ids and the times a run stamps (ingested, started, finished,
recorded), and ops/ingest_batches (the record of attempts, crashed ones
included). A table that does not exist compares equal to an empty one."""

from __future__ import annotations

import json
from pathlib import Path

RUN_STAMPS = {"_ingest_run_id", "ingest_run_id", "_ingested_at", "started_at", "finished_at", "recorded_at"}
ATTEMPT_TABLES = {"ops/ingest_batches"}


def delta_tables(lake: Path) -> list[str]:
    return sorted(str(log.parent.relative_to(lake)) for log in lake.glob("*/*/_delta_log"))


def snapshot(spark, lake: Path) -> dict[str, list[str]]:
    out = {}
    for table in delta_tables(lake):
        if table in ATTEMPT_TABLES:
            continue
        df = spark.read.format("delta").load(str(lake / table))
        df = df.select(*sorted(c for c in df.columns if c not in RUN_STAMPS))
        rows = [json.dumps(r.asDict(recursive=True), sort_keys=True, default=str) for r in df.collect()]
        if rows:
            out[table] = sorted(rows)
    return out


def differences(got: dict[str, list[str]], want: dict[str, list[str]], limit: int = 3) -> list[str]:
    """What differs, table by table: row counts and a few rows only on one side."""
    out = []
    for table in sorted(set(got) | set(want)):
        g, w = got.get(table, []), want.get(table, [])
        if g == w:
            continue
        extra = _minus(g, w)
        missing = _minus(w, g)
        out.append(f"{table}: {len(g)} rows vs {len(w)} in the clean run; extra {extra[:limit]}; "
                   f"missing {missing[:limit]}")
    return out


def _minus(a: list[str], b: list[str]) -> list[str]:
    from collections import Counter

    return sorted((Counter(a) - Counter(b)).elements())
