"""How the report shows things to a person: numbers, tables cut to their top
rows, places and paths by the names people use, charts with nothing to draw.
Pure functions (no database), so the unit tests pin them down."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import plotly.graph_objects as go

TOP_N = 15
NO_DATA = "暂无数据 no data"
LEVELS = {"building": "楼宇 building", "road": "道路 road"}

# an absolute prefix (a folder, or file:/…, s3a://bucket/…) before "<source>/<YYYY-MM-DD>/" in a message
_LANDING_PREFIX = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?/[^\s:;'\"()]*?/(?=[A-Za-z0-9_-]+/\d{4}-\d{2}-\d{2}/)")


def show(value) -> str:
    """A value as a person reads it: 56 not 56.0, 1,234 with a separator, '' for nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (float, Decimal)):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def html_table(columns: list[str], rows: list[list], numeric: set[int] = frozenset(), limit: int = TOP_N,
               total: int | None = None, full_list: str = "") -> str:
    """The first `limit` rows, then one line saying how many more there are and where
    to find them (`total`: the whole count when `rows` is already cut by the query)."""
    if not rows and not total:
        return f'<p class="nodata">{NO_DATA}</p>'
    shown = rows[:limit]
    rest = (len(rows) if total is None else total) - len(shown)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for r in shown:
        cells = [f'<td class="num">{html.escape(show(v))}</td>' if i in numeric else f"<td>{html.escape(show(v))}</td>"
                 for i, v in enumerate(r)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    foot = ""
    if rest > 0:
        where = f" · full list: {full_list}" if full_list else ""
        foot = (f'<tfoot><tr><td class="more" colspan="{len(columns)}" data-more="{rest}">'
                f"另有 {rest:,} 行未列出 · {rest:,} more not shown{html.escape(where)}</td></tr></tfoot>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table>"


def landing_relative(message: str, landing: str | None = None) -> str:
    """A run-log reason with the landing's absolute prefix cut off: 'huangpu/2017-04-13/_MANIFEST.json: …'."""
    if landing:
        message = message.replace(landing.rstrip("/") + "/", "")
    return _LANDING_PREFIX.sub("", message)


def place_name(level: str, place_id: str, address_label: str | None) -> str:
    """A hotspot's place as people write it: the building's address, or the road's name
    (place ids are 'district|road' or 'district|road|lane|number|building')."""
    if address_label:
        return address_label
    parts = [p for p in (place_id or "").split("|")[1:] if p]
    return " ".join(parts) if parts else (place_id or "")


def _has_points(trace) -> bool:
    for name in ("x", "y", "z", "values"):
        values = getattr(trace, name, None) if name in trace else None
        if values is None:
            continue
        flat = [v for row in values for v in (row if isinstance(row, (list, tuple)) else [row])]
        if any(v is not None for v in flat):
            return True
    return False


def is_empty(fig: go.Figure) -> bool:
    return not any(_has_points(t) for t in fig.data)


def mark_no_data(fig: go.Figure) -> None:
    """An empty chart says so instead of showing bare axes."""
    fig.add_annotation(text=NO_DATA, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font=dict(size=18, color="#777"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=260, showlegend=False)


def unique_labels(labels: list[str]) -> list[str]:
    """Axis labels must differ (plotly merges equal ones): the second 'x' becomes 'x (2)'."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out
