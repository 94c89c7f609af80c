"""Assemble the report page from the sections and write it to disk."""

from __future__ import annotations

import html
import logging
from datetime import datetime, timezone
from pathlib import Path

from lakehouse.config import settings
from lakehouse.serving.report.present import is_empty, mark_no_data, show
from lakehouse.serving.report.sections import SECTIONS, Context, Section

log = logging.getLogger(__name__)

FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'

CSS = f"""
body {{ font-family: {FONT}; margin: 0; color: #222; background: #f6f7f9; }}
header {{ background: #1f3b5b; color: #fff; padding: 16px 32px; }}
header h1 {{ margin: 0 0 4px 0; font-size: 24px; }}
nav a {{ color: #cfe0f3; margin-right: 16px; text-decoration: none; }}
main {{ padding: 8px 32px 32px 32px; }}
section {{ background: #fff; border-radius: 6px; padding: 16px 20px; margin: 16px 0;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
section h2 {{ margin-top: 0; font-size: 20px; }}
.intro {{ color: #555; margin-top: -6px; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 12px 0; }}
.kpi {{ border: 1px solid #e2e5ea; border-radius: 6px; padding: 8px 14px; min-width: 120px; }}
.kpi .value {{ font-size: 22px; font-weight: bold; display: block; }}
.kpi .label {{ color: #666; font-size: 13px; }}
table {{ border-collapse: collapse; font-size: 13px; margin: 8px 0; }}
th, td {{ border-bottom: 1px solid #e6e6e6; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f0f2f5; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.more {{ color: #666; font-style: italic; }}
.note {{ color: #8a5a00; }}
footer {{ color: #777; font-size: 12px; padding: 0 32px 24px 32px; }}
"""


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _section_html(section: Section) -> str:
    parts = [f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>']
    if section.intro:
        parts.append(f'<p class="intro">{html.escape(section.intro)}</p>')
    if section.kpis:
        parts.append('<div class="kpis">')
        for key, (label, value) in section.kpis.items():
            shown = html.escape(show(value))
            parts.append(f'<div class="kpi"><span class="value" data-kpi="{key}">{shown}</span>'
                         f'<span class="label">{html.escape(label)}</span></div>')
        parts.append("</div>")
    for note in section.notes:
        parts.append(f'<p class="note">{html.escape(note)}</p>')
    for i, fig in enumerate(section.figures):
        fig.update_layout(font_family=FONT, template="plotly_white")
        empty = is_empty(fig)
        if empty:
            mark_no_data(fig)
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{section.key}-{i}",
                          config={"displaylogo": False, "responsive": True})
        parts.append(f'<div class="chart" data-section="{section.key}" data-empty="{str(empty).lower()}">'
                     f'{div}</div>')
    parts.extend(section.tables)
    parts.append("</section>")
    return "\n".join(parts)


def _failed_section(fn, exc: Exception) -> Section:
    """A section whose marts are missing or unreadable says so instead of breaking the page."""
    title = (fn.__doc__ or fn.__name__).strip().splitlines()[0]
    return Section(key=fn.__name__, title=title,
                   notes=[f"This section could not be drawn: {exc}. Build the marts (lakehouse marts) "
                          "and run lakehouse report again."])


def _links() -> str:
    """Where the tools' own pages are, as file links (they open from disk)."""
    from lakehouse.ingest.quality.gate import data_docs_index
    from lakehouse.serving.marts import DBT_PROJECT_DIR

    dbt_docs = DBT_PROJECT_DIR / "target" / "static_index.html"
    gx_docs = Path(data_docs_index())
    return (f'<br>dbt docs: <a href="{dbt_docs.as_uri()}">{html.escape(str(dbt_docs))}</a> · '
            f'Great Expectations Data Docs (need a network for their styles): '
            f'<a href="{gx_docs.as_uri()}">{html.escape(str(gx_docs))}</a>')


def render(sections: list[Section], generated_at: datetime, as_of: str | None) -> str:
    nav = " ".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(_section_html(s) for s in sections)
    stamp = generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>市场监管综合报告 · supervision report</title>
<style>{CSS}</style>
<script type="text/javascript">{_plotly_js()}</script>
</head><body>
<header><h1>市场监管综合报告 <small>supervision report</small></h1>
<div>数据截至 as of {html.escape(as_of or "?")} · 生成于 generated {stamp}</div>
<nav>{nav}</nav></header>
<main>
{body}
</main>
<footer>From the PostgreSQL marts (schema marts), read as the analyst role. Regenerated by the build_marts DAG
after every build; by hand: lakehouse report. One entity: lakehouse entity &lt;USCC | name&gt;.
{_links()}</footer>
</body></html>
"""


def build_report(out_dir: Path | None = None) -> Path:
    """Write the report; returns the path of index.html."""
    from lakehouse.serving import warehouse

    out_dir = Path(out_dir or settings().report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections: list[Section] = []
    with warehouse.connect(role="analyst") as conn:
        ctx = Context(conn=conn, state_dir=out_dir)
        for fn in SECTIONS:
            try:
                sections.append(fn(ctx))
            except Exception as exc:   # one missing mart must not hide the other charts
                conn.rollback()
                log.warning("report section %s: %s", fn.__name__, exc)
                sections.append(_failed_section(fn, exc))
        as_of = ctx.as_of()
    path = out_dir / "index.html"
    path.write_text(render(sections, datetime.now(timezone.utc), as_of), encoding="utf-8")
    return path
