"""The Spark entry points: one script per Spark step, thin over the package.

Each job parses its options and runs the `lakehouse` sub-command of the same
name (the same function, output, error lines and exit codes):

    PYTHONPATH=src python jobs/ingest.py --source huangpu --day 2017-04-14
    PYTHONPATH=src spark-submit $(PYTHONPATH=src python -m lakehouse.lake.spark) jobs/ingest.py --day 2017-04-14

The DAG tasks call the same library functions directly, with typed
arguments (lakehouse/orchestration.py), not through these options.

The package must be importable: `make setup` installs it (and this folder);
from a checkout without that, PYTHONPATH=src from the repository's root.
The marts build has no job: it is dbt on PostgreSQL, no Spark step.
"""
