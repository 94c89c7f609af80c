"""Canonical column types (as written in schemas/tables/*.yaml) to Arrow and
Spark types, so a column's type is declared once, in the YAML."""

from __future__ import annotations

import re

import pyarrow as pa

_DECIMAL = re.compile(r"decimal\((\d+),\s*(\d+)\)")


def arrow_type(type_name: str) -> pa.DataType:
    t = type_name.replace(" ", "")
    if t == "string":
        return pa.string()
    if t == "int":
        return pa.int64()
    if t == "bool":
        return pa.bool_()
    if t == "date":
        return pa.date32()
    if t == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if m := _DECIMAL.fullmatch(t):
        return pa.decimal128(int(m.group(1)), int(m.group(2)))
    if t == "array<string>":
        return pa.list_(pa.string())
    if t == "map<string,string>":
        return pa.map_(pa.string(), pa.string())
    raise ValueError(f"unknown column type {type_name!r} in schemas/tables: use string, int, bool, date, "
                     "timestamp, decimal(p,s), array<string> or map<string,string>")


def spark_ddl(type_name: str) -> str:
    t = type_name.replace(" ", "")
    return {"int": "bigint", "bool": "boolean"}.get(t, t)


def postgres_type(type_name: str) -> str:
    t = type_name.replace(" ", "")
    if m := _DECIMAL.fullmatch(t):
        return f"numeric({m.group(1)},{m.group(2)})"
    return {"string": "text", "int": "bigint", "bool": "boolean", "date": "date",
            "timestamp": "timestamptz", "array<string>": "text[]", "map<string,string>": "jsonb"}[t]
