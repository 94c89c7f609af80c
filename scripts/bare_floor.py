#!/usr/bin/env python
"""The bare floor of an ingest: what any Spark + Delta job pays for the same files.

  .venv/bin/python scripts/bare_floor.py --lake DIR --files-from LIST

Starts Spark with the Delta jars (the project's session settings, so the
comparison is of work, not of configuration), reads the files LIST names
(one path a line) as lines,
appends them to one Delta table (`DIR/lines`) and MERGEs them by a hash of
the line into `DIR/history`, the table holding the earlier runs (change feed
and deletion vectors on, like silver). Prints one JSON line of seconds:
start (session), work (read + append + merge), total. An empty LIST is the
floor of a run with nothing new: Spark starts, and there is no work.
scripts/benchmark.py runs it for every step it measures, on the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bare_ingest(spark, lake: Path, files: list[str]) -> None:
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    lines = (spark.read.text(files)
             .select(F.sha2(F.col("value"), 256).alias("line_hash"), F.col("value").alias("line"))
             .dropDuplicates(["line_hash"]))                 # MERGE needs one source row per key
    lines.write.format("delta").mode("append").save(str(lake / "lines"))
    history = str(lake / "history")
    if not DeltaTable.isDeltaTable(spark, history):
        spark.createDataFrame([], lines.schema).write.format("delta") \
            .option("delta.enableChangeDataFeed", "true").option("delta.enableDeletionVectors", "true") \
            .save(history)
    (DeltaTable.forPath(spark, history).alias("h")
     .merge(lines.alias("s"), "h.line_hash = s.line_hash")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--files-from", type=Path, required=True, help="a file naming one input file a line")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    t0 = time.perf_counter()
    from lakehouse.lake.spark import get_spark

    spark = get_spark()
    t1 = time.perf_counter()
    files = args.files_from.read_text(encoding="utf-8").split("\n")[:-1]
    if files:
        bare_ingest(spark, args.lake, files)
    t2 = time.perf_counter()
    spark.stop()
    print(json.dumps({"start": round(t1 - t0, 2), "work": round(t2 - t1, 2), "total": round(t2 - t0, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
