# The front door. `make demo` and `make test` each do all their own set-up.
VENV ?= .venv
PY := $(VENV)/bin/python
export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: setup demo test test-slow test-spark unit e2e lint stop clean benchmark airflow airflow-stop dashboards cluster-up cluster-down connect-up connect-down s3-up s3-down

setup:            ## venv + pinned packages, Delta jars, PostgreSQL, Airflow metadata (idempotent)
	@bash scripts/setup.sh

demo: setup       ## generate a small city, run the DAGs, print where the results are
	@$(VENV)/bin/lakehouse demo

test: setup       ## lint, the quick unit suite, the Spark tier, then the end-to-end suite
	$(VENV)/bin/ruff check src dags jobs tests scripts
	$(VENV)/bin/lakehouse lint-sql
	$(PY) -m pytest tests/unit -q -p no:cacheprovider
	$(PY) -m pytest tests/spark -q -p no:cacheprovider
	$(PY) -m pytest tests/e2e -q -p no:cacheprovider --durations=15 -m "not slow"

test-slow: setup  ## the checks left out of `make test` for their time (city calibration, incremental marts, kill on a Connect server, Airflow port clash, Connect+cluster+s3, the scheduler)
	$(PY) -m pytest tests/e2e -q -p no:cacheprovider --durations=5 -m slow

test-spark: setup ## the DataFrame functions on a bare Spark + Delta session (a minute or two; no database)
	$(PY) -m pytest tests/spark -q -p no:cacheprovider

unit:             ## the quick unit suite only (seconds; no services needed)
	$(PY) -m pytest tests/unit -q

lint: setup       ## ruff over the Python, sqlfluff over the dbt SQL (also the first step of `make test`)
	$(VENV)/bin/ruff check src dags jobs tests scripts
	$(VENV)/bin/lakehouse lint-sql

benchmark: setup  ## prints throughput and wall times (see scripts/benchmark.py)
	$(PY) scripts/benchmark.py

cluster-up cluster-down connect-up connect-down s3-up s3-down:  ## local stand-ins of the scaled-out column (README)
	@$(VENV)/bin/lakehouse $(firstword $(subst -, ,$@)) $(lastword $(subst -, ,$@))

airflow: setup    ## start the Airflow UI (prints the URL and how to log in); stop: make airflow-stop
	@$(VENV)/bin/lakehouse airflow start

airflow-stop:     ## stop the Airflow UI and every process it started
	@$(VENV)/bin/lakehouse airflow stop

dashboards: setup ## start Superset on the marts with the dashboards of dashboards/ (prints the URL and how to log in)
	@$(VENV)/bin/lakehouse dashboards start

stop:             ## stop the Airflow UI, the warm Spark engine, Superset and the embedded PostgreSQL
	@$(VENV)/bin/lakehouse airflow stop
	@$(VENV)/bin/lakehouse connect down
	@$(VENV)/bin/lakehouse dashboards stop
	@$(VENV)/bin/lakehouse db stop

clean:            ## stop and delete everything under LAKEHOUSE_HOME (.lakehouse/)
	@$(VENV)/bin/lakehouse clean --all
