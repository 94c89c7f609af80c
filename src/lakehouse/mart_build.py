"""One marts build: dbt build, docs, and a record of which sources were
stale at that moment (dbt source freshness), kept in lake.mart_builds.
When the publish before it changed nothing, dbt is skipped (status 'skipped')."""

from __future__ import annotations

import json

from lakehouse import warehouse
from lakehouse.marts import run_dbt, source_freshness

DDL = """create table if not exists lake.mart_builds (
  built_at timestamptz primary key default now(), published text[], stale_sources jsonb, status text)"""


def build_and_record(published: list[str]) -> dict:
    if not published:
        _record([], {}, "skipped")
        print("nothing published since the last build: dbt build skipped (lake.mart_builds status 'skipped')")
        return {"status": "skipped", "stale_sources": {}, "published": []}
    freshness = source_freshness()
    stale = {name: status for name, status in freshness.items() if status not in ("pass",)}
    status = "success"
    try:
        run_dbt(["build"])
        run_dbt(["docs", "generate"])
    except Exception:
        status = "failed"
        raise
    finally:
        _record(published, stale, status)
    return {"status": status, "stale_sources": stale, "published": published}


def _record(published: list[str], stale: dict, status: str) -> None:
    with warehouse.connect() as conn, conn.cursor() as cur:
        cur.execute(DDL)
        cur.execute("grant select on lake.mart_builds to lakehouse_transformer")
        cur.execute("insert into lake.mart_builds (published, stale_sources, status) values (%s, %s, %s)",
                    (published, json.dumps(stale, ensure_ascii=False), status))
        conn.commit()
