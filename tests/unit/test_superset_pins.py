"""Superset lives in a virtualenv of its own (docs/dashboards.md): every
package of it is pinned, and none of it is in the project's environment."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from lakehouse.services import superset

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_every_package_of_supersets_virtualenv_is_pinned():
    lines = [line for line in superset.REQUIREMENTS.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line) for line in lines), lines
    assert "apache_superset==6.1.0" in lines and any(line.startswith("psycopg2-binary==") for line in lines)


def test_superset_stays_out_of_the_projects_environment():
    assert "superset" not in PYPROJECT.read_text(encoding="utf-8").lower()
    assert importlib.util.find_spec("superset") is None


def test_every_dataset_reads_the_one_marts_connection_and_no_lake_table():
    datasets = list((superset.DASHBOARDS_DIR / "datasets").rglob("*.yaml"))
    assert datasets
    specs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in datasets]
    assert len({s["database_uuid"] for s in specs}) == 1
    for spec in specs:
        assert spec["schema"] == "marts" and spec["catalog"] is None, spec["table_name"]
        assert " lake." not in spec["sql"] and "staging." not in spec["sql"], spec["table_name"]
