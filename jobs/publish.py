"""Spark job: publish what changed in silver since the last publish into PostgreSQL lake.*.

    PYTHONPATH=src python jobs/publish.py
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.spark) jobs/publish.py

Output, error lines and exit codes are those of `lakehouse publish`.
"""

import sys
from functools import partial

from lakehouse import cli

run = partial(cli.job_run, "publish")      # in this process: the DAG tasks (orchestration.run_job)
main = partial(cli.job_main, "publish")    # as a program: python / spark-submit

if __name__ == "__main__":
    sys.exit(main())
