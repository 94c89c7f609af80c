"""The ops tables' one description (catalog/ops_tables.py) and the one type
grammar (catalog/types.py) agree with what reads and writes them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.catalog import load_catalog, ops_tables
from lakehouse.catalog import types as table_types
from lakehouse.ingest.runlog import LEDGER_ONLY, RunLogEntry

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_delivery_lineage_is_the_catalogs_lineage():
    lineage = load_catalog(SCHEMAS).tables["licences"].common["lineage"]
    declared = [(c.name, c.type) for c in lineage[:len(ops_tables.DELIVERY_LINEAGE)]]
    assert declared == list(ops_tables.DELIVERY_LINEAGE)


def test_run_log_entry_has_every_run_log_column():
    # _file_sha256: RunLogEntry.row(); the listing's size and time go to the ledger only
    fields = set(RunLogEntry.__dataclass_fields__) - set(LEDGER_ONLY) | {"_file_sha256"}
    assert fields == set(ops_tables.RUN_LOG.column_names)


def test_postgres_ddl_declares_every_column_with_its_key():
    ddl = ops_tables.RUN_LOG.postgres_ddl()
    assert "quarantined_by_rule jsonb" in ddl and "expectations_passed boolean" in ddl
    assert "primary key (ingest_run_id, _file, _file_sha256)" in ddl
    assert "rows_promoted bigint" in ddl.split("alter table", 1)[1]     # added to tables from before it


@pytest.mark.parametrize("type_name, arrow, spark, postgres", [
    ("bool", pa.bool_(), "boolean", "boolean"),
    ("int", pa.int64(), "bigint", "bigint"),
    ("decimal(18, 2)", pa.decimal128(18, 2), "decimal(18,2)", "numeric(18,2)"),
    ("map<string,int>", pa.map_(pa.string(), pa.int64()), "map<string,bigint>", "jsonb"),
])
def test_one_type_grammar(type_name, arrow, spark, postgres):
    assert table_types.arrow_type(type_name) == arrow
    assert table_types.spark_type(type_name) == spark
    assert table_types.postgres_type(type_name) == postgres


def test_unknown_type_names_the_grammar():
    with pytest.raises(ValueError, match="map<string,int>"):
        table_types.postgres_type("float")
