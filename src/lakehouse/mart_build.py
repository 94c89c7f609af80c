"""One marts build: dbt build, docs, and a record of which sources were
stale at that moment (dbt source freshness), kept in lake.mart_builds."""

from __future__ import annotations

import json

from lakehouse import warehouse
from lakehouse.marts import run_dbt, source_freshness


def build_and_record(published: list[str]) -> dict:
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
        # lake.mart_builds is created by warehouse.bootstrap (bootstrap.sql)
        with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
            cur.execute("insert into lake.mart_builds (published, stale_sources, status) values (%s, %s, %s)",
                        (published, json.dumps(stale, ensure_ascii=False), status))
            conn.commit()
    return {"status": status, "stale_sources": stale, "published": published}
