"""Spark job: publish what changed in silver since the last publish into PostgreSQL lake.*.

    PYTHONPATH=src python jobs/publish.py
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.lake.spark) jobs/publish.py

Output, error lines and exit codes are those of `lakehouse publish`.
"""

import sys
from functools import partial

from lakehouse import cli

main = partial(cli.job_main, "publish")    # as a program: python / spark-submit (the DAG tasks call the library)

if __name__ == "__main__":
    sys.exit(main())
