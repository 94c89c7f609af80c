"""Spark job: compact (OPTIMIZE), checkpoint and VACUUM every Delta table of the lake.

    PYTHONPATH=src python jobs/maintain.py --retain-days 30
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.lake.spark) jobs/maintain.py

Output, error lines and exit codes are those of `lakehouse maintain`.
"""

import sys
from functools import partial

from lakehouse import cli

main = partial(cli.job_main, "maintain")    # as a program: python / spark-submit (the DAG tasks call the library)

if __name__ == "__main__":
    sys.exit(main())
