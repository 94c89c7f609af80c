"""Publish silver into PostgreSQL `lake.*`: only what changed since the last
publish (Delta change data feed from the last published version), applied
in one transaction per table, so readers never see half a batch. Publishing
twice changes nothing.

The data path has no Python loop per row: Spark turns each column into the
text COPY reads and hands the rows over as Arrow, Arrow encodes them as CSV
batch by batch into COPY, and PostgreSQL applies them set-based (the first
publish COPYs straight into the truncated table; later ones COPY into a
staging table, then one DELETE and one INSERT ... ON CONFLICT DO UPDATE).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from functools import partial

import pyarrow.compute as pc
from pyarrow import csv as pacsv
from pyspark.sql import Window
from pyspark.sql import functions as F

from lakehouse.catalog import Catalog, load_catalog
from lakehouse.config import settings, table_workers
from lakehouse.lake import delta, faults, lakelock
from lakehouse.serving import warehouse

log = logging.getLogger(__name__)

CHANGE_TYPE = "_change_type"
COPY_CHUNK = 1 << 20      # bytes handed to COPY per read


@dataclass
class Published:
    table: str
    from_version: int | None
    to_version: int
    upserted: int
    deleted: int


def _targets(catalog: Catalog) -> list[tuple[str, str, list[str], list[tuple[str, str]]]]:
    """(pg table, delta path, key, [(column, pg type)])."""
    out = []
    for name, table in sorted(catalog.tables.items()):
        out.append((name, delta.table_path("silver", name), list(table.key), warehouse.lake_columns(table)))
    return out


def _pg_columns(conn, table: str) -> list[tuple[str, str]]:
    with conn.cursor() as cur:
        cur.execute("""select column_name, format_type(a.atttypid, a.atttypmod)
                       from information_schema.columns c
                       join pg_attribute a on a.attrelid = ('lake.' || c.table_name)::regclass
                                          and a.attname = c.column_name
                       where c.table_schema = 'lake' and c.table_name = %s order by c.ordinal_position""",
                    (table,))
        return cur.fetchall()


def publish(catalog: Catalog | None = None, spark=None) -> list[Published]:
    """Each table is one transaction together with its published version, so a
    publish killed or cut off half way leaves every table either as before or
    fully caught up, and the next publish goes on from there."""
    with lakelock.lake_lock("publish"), faults.clear_errors():
        return _publish(catalog, spark)


def _publish(catalog: Catalog | None, spark) -> list[Published]:
    from lakehouse.lake.spark import in_parallel, small_batch_tuning, small_lake

    catalog = catalog or load_catalog(settings().schemas_dir)
    if spark is None:
        from lakehouse.lake.spark import get_spark
        spark = get_spark()
    warehouse.ensure_lake_tables(catalog)
    results = []
    with warehouse.connect(role="loader") as conn:
        targets = _targets(catalog)
        for pg_name, (layer, name, key) in warehouse.OPS_TABLES.items():
            targets.append((pg_name, delta.table_path(layer, name), key, _pg_columns(conn, pg_name)))
        published = _published_versions(conn)
        targets = [t for t in targets if delta.exists(spark, t[1])]
        reads = [partial(_changes_since, spark, path, key, columns, published.get(pg_table))
                 for pg_table, path, key, columns in targets]
        # A small lake's publish is Spark latency per table (version lookup,
        # change feed, hand-over): its tables are read a few at a time, as the
        # ingest overlaps tables. A large one's are read one at a time, each
        # just before it is written, so one table's rows are in memory at once.
        small = small_lake(spark)
        with small_batch_tuning(spark, small, interpret=small):
            changes = in_parallel(reads, table_workers()) if small else (read() for read in reads)
            # PostgreSQL in the catalog's order, one transaction per table
            for (pg_table, _, key, _), change in zip(targets, changes, strict=True):
                if change is not None:
                    results.append(_apply_table(conn, pg_table, key, published.get(pg_table), *change))
    return results


def _publish_table(spark, conn, pg_table: str, path: str, key: list[str], columns) -> Published | None:
    """One table on its own, as publish does each: None when it is up to date."""
    last = _published_versions(conn).get(pg_table)
    change = _changes_since(spark, path, key, columns, last)
    return None if change is None else _apply_table(conn, pg_table, key, last, *change)


def _published_versions(conn) -> dict[str, int]:
    """The Delta version each lake.* table was last published at."""
    with conn.cursor() as cur:
        cur.execute("select table_name, delta_version from lake._publish_state")
        return dict(cur.fetchall())


def _changes_since(spark, path: str, key: list[str], columns, last: int | None):
    """(latest version, the rows to publish as Arrow), or None when `last` is the latest."""
    latest = delta.latest_version(spark, path)
    if last is not None and last >= latest:
        return None
    return latest, _collect_changes(_read_changes(spark, path, key, last, latest), columns)


def _apply_table(conn, pg_table: str, key: list[str], last: int | None, latest: int, changes) -> Published:
    deleted = pc.equal(changes.column(CHANGE_TYPE), "delete")
    upserts = changes.filter(pc.invert(deleted)).drop_columns([CHANGE_TYPE])
    deletes = changes.filter(deleted).drop_columns([CHANGE_TYPE])
    with conn.cursor() as cur:
        if last is None:
            _replace_all(cur, pg_table, upserts)
        else:
            _apply_changes(cur, pg_table, key, upserts, deletes)
        _record_published_version(cur, pg_table, latest)
    conn.commit()
    faults.after_commit(f"lake.{pg_table}")
    return Published(pg_table, last, latest, upserts.num_rows, deletes.num_rows)


def _read_changes(spark, path: str, key: list[str], last: int | None, latest: int):
    """The rows to publish, with `_change_type`: the whole table at `latest`
    on the first publish, else the net change per key since `last`."""
    if last is None:
        return (spark.read.format("delta").option("versionAsOf", latest).load(path)
                .withColumn(CHANGE_TYPE, F.lit("insert")))
    raw = (spark.read.format("delta").option("readChangeFeed", "true")
           .option("startingVersion", last + 1).option("endingVersion", latest).load(path)
           .where("_change_type != 'update_preimage'"))
    # net effect per key: the last change wins (a delete then an insert = insert)
    order = Window.partitionBy(*key).orderBy(F.col("_commit_version").desc(),
                                             F.when(F.col("_change_type") == "delete", 0).otherwise(1).desc())
    return raw.withColumn("_rn", F.row_number().over(order)).where("_rn = 1").drop("_rn")


def _collect_changes(changes, columns):
    """One Spark action: every column as the text COPY reads, plus the change
    type, straight into Arrow (no Python objects per row)."""
    return changes.select(F.col(CHANGE_TYPE), *[_to_text(F.col(c), t).alias(c) for c, t in columns]).toArrow()


def _replace_all(cur, pg_table: str, rows) -> None:
    """First publish: the table becomes exactly `rows` (COPY straight in)."""
    cur.execute(f'truncate lake."{pg_table}"')
    copy_arrow(cur, f'lake."{pg_table}"', rows)


def _apply_changes(cur, pg_table: str, key: list[str], upserts, deletes) -> None:
    """Later publishes: COPY the changed rows into a staging table, then one
    set-based DELETE for the deleted keys and one INSERT ... ON CONFLICT for
    the rest. A key is either deleted or upserted (net change per key)."""
    if deletes.num_rows:
        _stage(cur, "_pub_del", pg_table, deletes)
        match = " and ".join(f't."{k}" = s."{k}"' for k in key)
        cur.execute(f'delete from lake."{pg_table}" t using _pub_del s where {match}')
    if upserts.num_rows:
        _stage(cur, "_pub_up", pg_table, upserts)
        cols = ", ".join(f'"{c}"' for c in upserts.column_names)
        keys = ", ".join(f'"{k}"' for k in key)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in upserts.column_names if c not in key)
        action = f"do update set {updates}" if updates else "do nothing"
        cur.execute(f'insert into lake."{pg_table}" ({cols}) select {cols} from _pub_up '
                    f'on conflict ({keys}) {action}')


def _stage(cur, staging: str, pg_table: str, rows) -> None:
    """A temp table shaped like lake.<pg_table>, dropped at commit, holding `rows`."""
    cur.execute(f'create temp table {staging} (like lake."{pg_table}") on commit drop')
    copy_arrow(cur, staging, rows)


def _record_published_version(cur, pg_table: str, version: int) -> None:
    cur.execute("""insert into lake._publish_state (table_name, delta_version, published_at)
                   values (%s, %s, now())
                   on conflict (table_name) do update set delta_version = excluded.delta_version,
                                                         published_at = excluded.published_at""",
                (pg_table, version))


def _to_text(col, pg_type: str):
    """Spark value -> the text COPY reads for that PostgreSQL type."""
    if pg_type.endswith("[]"):
        # PostgreSQL array literal: {"a","b"} with quotes and backslashes escaped
        escaped = F.transform(col, lambda x: F.concat(F.lit('"'), F.regexp_replace(
            F.regexp_replace(x, r'\\', r'\\\\'), '"', '\\\\"'), F.lit('"')))
        return F.when(col.isNull(), F.lit(None)).otherwise(F.concat(F.lit("{"), F.array_join(escaped, ","),
                                                                     F.lit("}")))
    if pg_type == "jsonb":
        return F.to_json(col)
    if pg_type.startswith("timestamp"):
        return F.date_format(col, "yyyy-MM-dd HH:mm:ss.SSSSSS+00")
    return col.cast("string")


def copy_arrow(cur, target: str, rows) -> None:
    """COPY an Arrow table of text columns into `target` (its columns by name)."""
    cols = ", ".join(f'"{c}"' for c in rows.column_names)
    cur.copy_expert(f"copy {target} ({cols}) from stdin with (format csv, encoding 'UTF8')",
                    ArrowCsvStream(rows), size=COPY_CHUNK)


class ArrowCsvStream:
    """A read-only file over an Arrow table that encodes one record batch at
    a time as CSV, so the rows stream into COPY without the whole text in
    memory. Arrow's CSV is PostgreSQL's: strings quoted, NULL unquoted empty."""

    def __init__(self, rows, batch_rows: int = 20_000):
        self._batches = iter(rows.to_batches(max_chunksize=batch_rows))
        self._chunk = memoryview(b"")
        self._options = pacsv.WriteOptions(include_header=False)

    def read(self, size: int = -1) -> bytes:
        while not self._chunk:
            batch = next(self._batches, None)
            if batch is None:
                return b""
            out = io.BytesIO()
            pacsv.write_csv(batch, out, self._options)
            self._chunk = out.getbuffer()
        size = len(self._chunk) if size is None or size < 0 else size
        data, self._chunk = bytes(self._chunk[:size]), self._chunk[size:]
        return data


__all__ = ["publish", "Published", "copy_arrow"]
