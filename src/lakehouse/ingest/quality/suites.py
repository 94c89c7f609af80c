"""Expectation suites derived from the canonical tables (schemas/tables).

`expectations/<table>.json` is generated from here (`lakehouse suites`)
and a unit test checks the committed files still match the schemas, so a
column's rules are described once. `critical: true` in an expectation's meta
blocks the batch; others only warn (bigquery-etl's check vs. warning).
"""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.catalog import Catalog, Table
from lakehouse.config import settings


def _exp(kind: str, critical: bool, **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "meta": {"critical": critical}}


def derive_suite(table: Table, catalog: Catalog) -> dict:
    """The suite for one silver table's batch of new versions."""
    exps: list[dict] = [_exp("expect_table_row_count_to_be_between", False, min_value=1)]
    for key in table.key:
        exps.append(_exp("expect_column_values_to_not_be_null", True, column=key))
    if len(table.key) == 1:
        exps.append(_exp("expect_column_values_to_be_unique", True, column=table.key[0]))
    else:
        exps.append(_exp("expect_compound_columns_to_be_unique", True, column_list=list(table.key)))
    for col in table.columns:
        if col.values:
            exps.append(_exp("expect_column_values_to_be_in_set", True, column=col.name, value_set=col.values))
        if col.required and col.name not in table.key:
            exps.append(_exp("expect_column_values_to_not_be_null", True, column=col.name))
        if col.type.startswith("decimal") and getattr(col, "unit", None) == "yuan":
            exps.append(_exp("expect_column_values_to_be_between", True, column=col.name, min_value=0,
                             max_value=float(catalog.thresholds.max_amount_yuan)))
    if table.entity_ref:
        exps.append(_exp("expect_column_values_to_be_in_set", True, column="resolved_by",
                         value_set=["uscc", "reg_no", "name"]))
        exps.append(_exp("expect_column_value_lengths_to_equal", True, column="uscc", value=18))
        exps.append(_exp("expect_column_values_to_not_be_null", False, column="registered_district",
                         mostly=0.9))
    if table.district_held:
        exps.append(_exp("expect_column_values_to_be_in_set", True, column="holding_district",
                         value_set=sorted(catalog.districts)))
    return {"name": f"silver_{table.name}", "expectations": exps,
            "meta": {"derived_from": f"schemas/tables/{table.name}.yaml"}}


def write_suites(catalog: Catalog, target: Path | None = None) -> list[Path]:
    target = target or settings().expectations_dir
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in sorted(catalog.tables.items()):
        path = target / f"{name}.json"
        path.write_text(json.dumps(derive_suite(table, catalog), ensure_ascii=False, indent=2) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def load_suite(table: str, source_dir: Path | None = None) -> dict:
    path = (source_dir or settings().expectations_dir) / f"{table}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no expectation suite {path}; run `lakehouse suites`") from None
