"""One marts build: dbt build, docs, and a record of which sources were
stale at that moment (dbt source freshness) and which tests warned, kept in
lake.mart_builds.
When the publish before it changed nothing, dbt is skipped (status 'skipped')."""

from __future__ import annotations

import json

from lakehouse import warehouse
from lakehouse.marts import run_dbt, source_freshness


def build_and_record(published: list[str]) -> dict:
    if not published:
        _record([], {}, "skipped", [])
        print("nothing published since the last build: dbt build skipped (lake.mart_builds status 'skipped')")
        return {"status": "skipped", "stale_sources": {}, "published": [], "dbt_warnings": []}
    freshness = source_freshness()
    stale = {name: status for name, status in freshness.items() if status not in ("pass",)}
    status = "success"
    warnings: list[str] = []
    try:
        warnings = run_dbt(["build"])
        # --static: one target/static_index.html that opens from disk (index.html needs a server)
        run_dbt(["docs", "generate", "--static"])
    except Exception:
        status = "failed"
        raise
    finally:
        _record(published, stale, status, warnings)
    return {"status": status, "stale_sources": stale, "published": published, "dbt_warnings": warnings}


def _record(published: list[str], stale: dict, status: str, warnings: list[str]) -> None:
    # lake.mart_builds is created by warehouse.bootstrap (bootstrap.sql)
    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("insert into lake.mart_builds (published, stale_sources, status, dbt_warnings) "
                    "values (%s, %s, %s, %s)",
                    (published, json.dumps(stale, ensure_ascii=False), status,
                     json.dumps(warnings, ensure_ascii=False)))
        conn.commit()
