"""One marts build: dbt build, docs, and a record of which sources were
stale at that moment (dbt source freshness) and which tests warned, kept in
lake.mart_builds.
When the publish before it changed nothing, dbt is skipped (status 'skipped').

The incremental models (dbt_project/macros/incremental_watermark.sql) see
every lake row written since their last build, but not a row deleted (a
RESTORE of a failed batch that had been published): when a publish since the
last successful build deleted any row, or the models have never been built
with their watermarks, the build is a --full-refresh."""

from __future__ import annotations

import json
import re

from lakehouse.serving import warehouse
from lakehouse.serving.marts import run_dbt, source_freshness


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
        warnings = run_dbt(["build", *(["--full-refresh"] if needs_full_refresh(published) else [])])
        # --static: one target/static_index.html that opens from disk (index.html needs a server)
        run_dbt(["docs", "generate", "--static"])
    except Exception:
        status = "failed"
        raise
    finally:
        _record(published, stale, status, warnings)
    return {"status": status, "stale_sources": stale, "published": published, "dbt_warnings": warnings}


def _record(published: list[str], stale: dict, status: str, warnings: list[str]) -> None:
    # lake.mart_builds is created by warehouse.bootstrap (warehouse_bootstrap.sql)
    with warehouse.connect(role="loader") as conn, conn.cursor() as cur:
        cur.execute("insert into lake.mart_builds (published, stale_sources, status, dbt_warnings) "
                    "values (%s, %s, %s, %s)",
                    (published, json.dumps(stale, ensure_ascii=False), status,
                     json.dumps(warnings, ensure_ascii=False)))
        conn.commit()


_DELETED = re.compile(r"^(\w+): .* -(\d+)$")
# the lake tables the incremental models read by transaction id (written_since_last_build
# in dbt_project/): a row deleted from another table (the quarantine's promoted rows)
# changes no incremental model; the department list is fingerprinted, deletes included
WATCHED_BY_INCREMENTAL_MODELS = frozenset({"licences", "inspections", "penalties", "entities"})


def needs_full_refresh(published: list[str]) -> bool:
    """Whether this build must be a --full-refresh: rows were deleted from a watched
    lake.* table by this publish or one whose build failed since the last successful build (the
    lines read "<table>: v<from>->v<to> +<upserted> -<deleted>"), or the incremental
    models have no watermarks yet (a first build, or one from before them)."""
    with warehouse.connect(role="transformer") as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('intermediate.mart_watermarks') is not null")
        if not cur.fetchone()[0]:
            return True
        cur.execute("""select coalesce(array_agg(line), '{}') from lake.mart_builds, unnest(published) as line
                       where status = 'failed' and built_at > coalesce(
                           (select max(built_at) from lake.mart_builds where status = 'success'), '-infinity')""")
        unbuilt = cur.fetchone()[0]
    return deletes_watched_rows([*published, *unbuilt])


def deletes_watched_rows(published: list[str]) -> bool:
    """Whether any of these publish lines deleted rows of a watched table."""
    return any(m.group(1) in WATCHED_BY_INCREMENTAL_MODELS and int(m.group(2)) > 0
               for line in published if (m := _DELETED.match(line)))
