"""Not a test: the MERGE cost of a day's batch into current silver tables
with and without deletion vectors (docs/performance.md), on the lake of
the current settings (e.g. after `scripts/benchmark.py --preset city --days 40`
with LAKEHOUSE_HOME set to its home). Each table is copied twice (8 files,
one copy with deletion vectors), its last delivery day's rows are merged
back as new versions, then the copy is read in full; two rounds each way.

    .venv/bin/python scripts/deletion_vectors.py [table ...]   # default: inspections licences penalties
"""
import shutil
import sys
import time

from pyspark.sql import functions as F

from lakehouse.catalog import load_catalog
from lakehouse.ingest import silver
from lakehouse.lake import delta
from lakehouse.lake.spark import get_spark

spark = get_spark()
catalog = load_catalog()
ROOT = "/tmp/lakehouse-deletion-vectors"    # the copies; deleted first
shutil.rmtree(ROOT, ignore_errors=True)
results = []
for name in sys.argv[1:] or ["inspections", "licences", "penalties"]:
    table = catalog.tables[name]
    src = spark.read.format("delta").load(delta.table_path("silver", name))
    n = src.count()
    last = src.agg(F.max("_delivery_date")).first()[0]
    # a day's batch: that day's rows as new versions (a content column changed) plus as many new keys
    day = src.where(F.col("_delivery_date") == last)
    changed = day.withColumn("_row_hash", F.concat(F.col("_row_hash"), F.lit("x")))
    batch = changed.cache()
    nb = batch.count()
    for rep, dv in ((1, True), (1, False), (2, False), (2, True)):
        path = f"{ROOT}/{name}_{rep}_{'dv' if dv else 'nodv'}"
        (src.repartition(8).write.format("delta").option("delta.enableDeletionVectors", str(dv).lower())
         .save(path))
        t0 = time.time()
        silver.merge_current(spark, path, batch, table.key, silver.columns(table))
        merge_s = time.time() - t0
        m = spark.sql(f"DESCRIBE HISTORY delta.`{path}` LIMIT 1").select("operationMetrics").first()[0]
        t0 = time.time()
        spark.read.format("delta").load(path).agg(F.count("*"), F.max("_row_hash")).collect()
        read_s = time.time() - t0
        results.append((name, n, nb, rep, dv, round(merge_s, 1), round(read_s, 1), m.get("numTargetFilesAdded"),
                        m.get("numTargetRowsCopied"), m.get("numDeletionVectorsAdded")))
        print(results[-1], flush=True)
    batch.unpersist()
print("table rows batch round deletion_vectors merge_s read_s files_added rows_copied dvs_added")
for r in results:
    print(*r)
