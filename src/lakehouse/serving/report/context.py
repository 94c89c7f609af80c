"""What every section shares: the Section it returns, the Context it reads
the marts through (with the catalog's names for codes and rules), and the
names of the credit classes and feeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import plotly.graph_objects as go

# class -> (Chinese name, colour); order = rank
CREDIT_CLASSES = {
    "green": ("良好", "#2e7d32"),
    "yellow": ("警示", "#f2c200"),
    "red": ("失信", "#c62828"),
    "black": ("严重失信", "#111111"),
}
FEED_NAMES = {"licences": "许可 licences", "inspections": "检查 inspections", "penalties": "处罚 penalties"}
WHOLE_DELIVERY = "整批 whole delivery"   # a folder refused for its manifest has no feed


@dataclass
class Section:
    key: str                      # html id; charts get ids chart-<key>-<n>
    title: str
    intro: str = ""
    kpis: dict[str, tuple[str, object]] = field(default_factory=dict)   # data-kpi key -> (label, value)
    figures: list[go.Figure] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)                     # ready HTML
    notes: list[str] = field(default_factory=list)


@dataclass
class Context:
    conn: object                  # psycopg2 connection, analyst role
    state_dir: Path               # where the report keeps what it must remember between builds

    def rows(self, sql: str, params=None) -> list[dict]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def as_of(self) -> str | None:
        try:
            got = self.rows("select max(as_of_date) as d from marts.fct_credit_risk")
            return str(got[0]["d"]) if got and got[0]["d"] else None
        except Exception:
            self.conn.rollback()
            return None

    @cached_property
    def catalog(self):
        from lakehouse.catalog import load_catalog
        from lakehouse.config import settings

        return load_catalog(settings().schemas_dir)

    def district_name(self, code: str | None) -> str:
        district = self.catalog.districts.get(code or "")
        return district.name if district else (code or "未知 unknown")

    def row_rule(self, rule_id: str) -> str:
        """A quarantine/flag rule of schemas/rules.yaml in words."""
        rule = self.catalog.rules.get(rule_id)
        return rule.reason if rule else rule_id


def feed_name(feed: str | None) -> str:
    return WHOLE_DELIVERY if feed in (None, "UNKNOWN", "NONE") else FEED_NAMES.get(feed, feed)
