"""Publish silver into PostgreSQL `lake.*`: only what changed since the last
publish (Delta change data feed from the last published version), loaded
with COPY into a temp table and applied in one transaction per table, so
readers never see half a batch. Publishing twice changes nothing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from pyspark.sql import Window
from pyspark.sql import functions as F

from lakehouse import lake, warehouse
from lakehouse.catalog import Catalog, load_catalog
from lakehouse.config import settings

log = logging.getLogger(__name__)


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
        out.append((name, lake.table_path("silver", name), list(table.key), warehouse.lake_columns(table)))
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
    catalog = catalog or load_catalog(settings().schemas_dir)
    if spark is None:
        from lakehouse.spark import get_spark
        spark = get_spark()
    warehouse.ensure_lake_tables(catalog)
    results = []
    with warehouse.connect() as conn:
        targets = _targets(catalog)
        for pg_name, (layer, name, key) in warehouse.OPS_TABLES.items():
            targets.append((pg_name, lake.table_path(layer, name), key, _pg_columns(conn, pg_name)))
        for pg_table, path, key, columns in targets:
            if not lake.exists(spark, path):
                continue
            result = _publish_table(spark, conn, pg_table, path, key, columns)
            if result:
                results.append(result)
    return results


def _publish_table(spark, conn, pg_table: str, path: str, key: list[str], columns) -> Published | None:
    latest = lake.latest_version(spark, path)
    with conn.cursor() as cur:
        cur.execute("select delta_version from lake._publish_state where table_name = %s", (pg_table,))
        row = cur.fetchone()
    last = row[0] if row else None
    if last is not None and last >= latest:
        return None
    if last is None:
        changes = spark.read.format("delta").option("versionAsOf", latest).load(path) \
            .withColumn("_change_type", F.lit("insert"))
        full = True
    else:
        raw = (spark.read.format("delta").option("readChangeFeed", "true")
               .option("startingVersion", last + 1).option("endingVersion", latest).load(path)
               .where("_change_type != 'update_preimage'"))
        # net effect per key: the last change wins (a delete then an insert = insert)
        order = Window.partitionBy(*key).orderBy(F.col("_commit_version").desc(),
                                                 F.when(F.col("_change_type") == "delete", 0).otherwise(1).desc())
        changes = raw.withColumn("_rn", F.row_number().over(order)).where("_rn = 1").drop("_rn")
        full = False
    names = [c for c, _ in columns]
    upserts = changes.where("_change_type != 'delete'").select(*[_to_text(F.col(c), t).alias(c) for c, t in columns])
    deletes = changes.where("_change_type = 'delete'").select(*key)
    up_pdf = upserts.toPandas()
    del_pdf = deletes.toPandas() if not full else None

    with conn.cursor() as cur:
        cols_sql = ", ".join(f'"{c}"' for c in names)
        key_sql = " and ".join(f't."{k}" is not distinct from s."{k}"' for k in key)
        cur.execute(f'create temp table _pub (like lake."{pg_table}" including defaults) on commit drop')
        if full:
            cur.execute(f'truncate lake."{pg_table}"')
        if del_pdf is not None and len(del_pdf):
            cur.execute("create temp table _pub_del as select " +
                        ", ".join(f'"{k}"' for k in key) + f' from lake."{pg_table}" limit 0')
            _copy(cur, "_pub_del", del_pdf, key)
            cur.execute(f'delete from lake."{pg_table}" t using _pub_del s where {key_sql}')
            cur.execute("drop table _pub_del")
        if len(up_pdf):
            _copy(cur, "_pub", up_pdf, names)
            cur.execute(f'delete from lake."{pg_table}" t using _pub s where {key_sql}')
            cur.execute(f'insert into lake."{pg_table}" ({cols_sql}) select {cols_sql} from _pub')
        cur.execute("""insert into lake._publish_state (table_name, delta_version, published_at)
                       values (%s, %s, now())
                       on conflict (table_name) do update set delta_version = excluded.delta_version,
                                                             published_at = excluded.published_at""",
                    (pg_table, latest))
    conn.commit()
    return Published(pg_table, last, latest, len(up_pdf), 0 if del_pdf is None else len(del_pdf))


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


def _copy(cur, target: str, pdf, columns: list[str]) -> None:
    buf = io.StringIO()
    pdf[columns].to_csv(buf, index=False, header=False, na_rep="\\N")
    buf.seek(0)
    cols_sql = ", ".join(f'"{c}"' for c in columns)
    cur.copy_expert(f"copy {target} ({cols_sql}) from stdin with (format csv, null '\\N')", buf)


__all__ = ["publish", "Published"]
