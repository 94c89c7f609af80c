"""Test harness (tests/e2e/test_warm_engine.py), run as its own process with
SPARK_REMOTE set and a LAKEHOUSE_FAULT_KILL_* point: the real ingest on the
Spark Connect server, which kill -9s itself mid-batch. Beside the batch, in
the same server session, one more write to a table of the batch is in flight
when the kill comes (an append of a copy of one existing row, slowed by a
Python UDF): what a parallel table write of the batch looks like to the
server when its client dies. Without recovery stopping the session first,
that append would commit after the next run had undone the batch.

argv: <silver table path> <file to write the in-flight append's start time to> <seconds it takes>
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from lakehouse.ingest.pipeline import ingest
from lakehouse.lake import delta
from lakehouse.lake.spark import get_spark


def main(target: str, stamp: Path, seconds: float) -> None:
    spark = get_spark()
    row = spark.read.format("delta").load(target).limit(1).collect()[0]
    schema = spark.read.format("delta").load(target).schema
    batches = delta.table_path("ops", "ingest_batches")
    before = delta.latest_version(spark, batches)

    def slow(value):
        time.sleep(seconds)
        return value

    def in_flight_append() -> None:
        while delta.latest_version(spark, batches) == before:      # until the batch has begun
            time.sleep(0.2)
        from pyspark.sql import functions as F

        first = next(f.name for f in schema.fields if f.dataType.simpleString() == "string")
        udf = F.udf(slow, "string").asNondeterministic()
        df = spark.createDataFrame([row], schema).withColumn(first, udf(F.col(first)))
        stamp.write_text(str(time.time()))
        df.write.format("delta").mode("append").save(target)

    threading.Thread(target=in_flight_append, daemon=True).start()
    ingest(spark=spark)
    time.sleep(seconds * 2)    # the fault point should have killed this process long before


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]))
