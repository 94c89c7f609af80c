"""The one column type grammar (as written in schemas/tables/*.yaml and in
catalog/ops_tables.py) and its Arrow, Spark and PostgreSQL types, so a
column's type is declared once and every engine's type is derived from it."""

from __future__ import annotations

import re

import pyarrow as pa

# The catalog validates schemas/ against this; the functions below accept spaces after commas.
TYPE_RE = re.compile(
    r"^(string|bool|date|timestamp|int|decimal\((\d+),(\d+)\)|array<string>|map<string,string>|map<string,int>)$"
)
TYPE_NAMES = "string, int, bool, date, timestamp, decimal(p,s), array<string>, map<string,string>, map<string,int>"

_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")

_ARROW = {"string": pa.string(), "int": pa.int64(), "bool": pa.bool_(), "date": pa.date32(),
          "timestamp": pa.timestamp("us", tz="UTC"), "array<string>": pa.list_(pa.string()),
          "map<string,string>": pa.map_(pa.string(), pa.string()),
          "map<string,int>": pa.map_(pa.string(), pa.int64())}
_SPARK = {"string": "string", "int": "bigint", "bool": "boolean", "date": "date", "timestamp": "timestamp",
          "array<string>": "array<string>", "map<string,string>": "map<string,string>",
          "map<string,int>": "map<string,bigint>"}
_POSTGRES = {"string": "text", "int": "bigint", "bool": "boolean", "date": "date", "timestamp": "timestamptz",
             "array<string>": "text[]", "map<string,string>": "jsonb", "map<string,int>": "jsonb"}


def _normalised(type_name: str) -> str:
    t = type_name.replace(" ", "")
    if not TYPE_RE.match(t):
        raise ValueError(f"unknown column type {type_name!r} in schemas/tables: use {TYPE_NAMES}")
    return t


def arrow_type(type_name: str) -> pa.DataType:
    t = _normalised(type_name)
    if m := _DECIMAL.fullmatch(t):
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    return _ARROW[t]


def spark_type(type_name: str) -> str:
    """The Spark SQL DDL type (as in "name bigint, ...")."""
    t = _normalised(type_name)
    return t if _DECIMAL.fullmatch(t) else _SPARK[t]


def postgres_type(type_name: str) -> str:
    t = _normalised(type_name)
    if m := _DECIMAL.fullmatch(t):
        return f"numeric({m.group(1)},{m.group(2)})"
    return _POSTGRES[t]
