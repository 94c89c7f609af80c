"""Spark job: ingest deliveries, landing -> bronze -> silver (+ quarantine).

    PYTHONPATH=src python jobs/ingest.py --source huangpu --day 2017-04-14
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.lake.spark) jobs/ingest.py \
        --start 2017-04-10 --end 2017-04-12

Output, error lines and exit codes are those of `lakehouse ingest`.
"""

import sys
from functools import partial

from lakehouse import cli

main = partial(cli.job_main, "ingest")    # as a program: python / spark-submit (the DAG tasks call the library)

if __name__ == "__main__":
    sys.exit(main())
