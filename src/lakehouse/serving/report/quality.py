"""归集质量 collection quality: each source's deliveries by day (delivered,
missing, quarantined, rejected), rows per source, and the files and rows
that did not make it, with their reasons."""

from __future__ import annotations

import plotly.graph_objects as go

from lakehouse.serving.report.context import Context, Section, feed_name
from lakehouse.serving.report.present import html_table, landing_relative

# grid cell codes -> (label, colour); a code is the cell's z value
GRID = [("无记录 no record", "#eeeeee"), ("未交付 missing", "#616161"), ("正常 ok", "#66bb6a"),
        ("隔离 quarantined", "#ffb300"), ("拒收 rejected", "#e53935")]
NO_RECORD, MISSING, OK, QUARANTINED, REJECTED = range(len(GRID))
CELL_MARK = {MISSING: "未交付", QUARANTINED: "隔离", REJECTED: "拒收"}   # written in the cell, not only coloured


def _delivery_status(r: dict) -> tuple[int, str]:
    """Grid code of one source-day: what the mart holds, worst first."""
    if r["not_delivered"]:
        return MISSING, "未交付 not delivered by the cut-off"
    if r["files_rejected"] or r["files_blocked"]:
        return REJECTED, "文件被拒 file rejected/blocked"
    if r["rows_quarantined"]:
        return QUARANTINED, "有隔离行 rows quarantined"
    return OK, "正常 all accepted"


def _quality_rows(ctx: Context) -> list[dict]:
    return ctx.rows("""
        select source, source_name, delivery_date,
               bool_or(delivery_status = 'not delivered') as not_delivered,
               max(last_delivery_date) filter (where delivery_status = 'not delivered') as last_delivered,
               sum(files_received)::int as files_received,
               sum(files_rejected)::int as files_rejected, sum(files_blocked)::int as files_blocked,
               sum(rows_received)::int as rows_received, sum(rows_accepted)::int as rows_accepted,
               sum(rows_duplicate)::int as rows_duplicate, sum(rows_quarantined)::int as rows_quarantined,
               sum(rows_late)::int as rows_late
        from marts.fct_collection_quality group by 1, 2, 3 order by 2, 3""")


def _quality_grid(rows: list[dict]) -> tuple[go.Figure, dict[int, int]]:
    """Sources × days, one colour (and word) per cell; returns the figure and the count per code."""
    days = sorted({r["delivery_date"] for r in rows})
    sources = sorted({r["source_name"] for r in rows})
    cell = {(r["source_name"], r["delivery_date"]): r for r in rows}
    z, marks, hover, counts = [], [], [], dict.fromkeys(range(len(GRID)), 0)
    for s in sources:
        z.append([]), marks.append([]), hover.append([])
        for d in days:
            r = cell.get((s, d))
            if r is None:
                code, text = NO_RECORD, f"{s} {d}: 无记录 no file and not marked missing"
            else:
                code, label = _delivery_status(r)
                text = (f"{s} {d}: {label}<br>files {r['files_received']}, rejected {r['files_rejected']}"
                        f"<br>rows accepted {r['rows_accepted']:,}, quarantined {r['rows_quarantined']:,}, "
                        f"duplicate {r['rows_duplicate']:,}, late {r['rows_late']:,}")
            counts[code] += 1
            z[-1].append(code), marks[-1].append(CELL_MARK.get(code, "")), hover[-1].append(text)
    n = len(GRID)
    scale = [stop for i, (_, colour) in enumerate(GRID) for stop in ([i / n, colour], [(i + 1) / n, colour])]
    grid = go.Figure(go.Heatmap(
        z=z, x=[str(d) for d in days], y=sources, text=marks, texttemplate="%{text}", hovertext=hover,
        hoverinfo="text", zmin=-0.5, zmax=n - 0.5, xgap=1, ygap=1, colorscale=scale,
        colorbar=dict(tickvals=list(range(n)), ticktext=[label for label, _ in GRID])))
    grid.update_layout(title="来源 × 日期 sources × delivery days", height=max(320, 24 * len(sources) + 140),
                       xaxis_type="category")
    return grid, counts


def _rows_per_source(rows: list[dict]) -> tuple[go.Figure, dict[str, dict[str, int]]]:
    sources = sorted({r["source_name"] for r in rows})
    per_source = {s: dict(accepted=0, quarantined=0, duplicate=0, rejected=0, late=0) for s in sources}
    for r in rows:
        p = per_source[r["source_name"]]
        p["accepted"] += r["rows_accepted"]
        p["quarantined"] += r["rows_quarantined"]
        p["duplicate"] += r["rows_duplicate"]
        p["late"] += r["rows_late"]
        p["rejected"] += max(0, r["rows_received"] - r["rows_accepted"] - r["rows_duplicate"]
                             - r["rows_quarantined"])
    bars = go.Figure()
    for key, label, colour in (("accepted", "接收 accepted", "#66bb6a"), ("duplicate", "重复 duplicate", "#90a4ae"),
                               ("quarantined", "隔离 quarantined", "#ffb300"),
                               ("rejected", "拒收文件中 in rejected files", "#e53935")):
        bars.add_bar(name=label, x=sources, y=[per_source[s][key] for s in sources], marker_color=colour)
    bars.add_scatter(name="迟报 late (of accepted)", x=sources, y=[per_source[s]["late"] for s in sources],
                     mode="markers", marker=dict(symbol="diamond", size=10, color="#5e35b1"))
    bars.update_layout(barmode="stack", title="每个来源的行 rows per source", yaxis_title="rows")
    return bars, per_source


def _quality_tables(ctx: Context, rows: list[dict]) -> list[str]:
    """Missing deliveries, rejected files, quarantine by rule, validation failures: top rows of each."""
    from lakehouse.config import settings

    missing = [r for r in rows if r["not_delivered"]]
    tables = ['<h3 id="missing_deliveries">未交付 missing deliveries</h3>' + (html_table(
        ["来源 source", "日期 day", "最近交付 latest delivery"],
        [[r["source_name"], r["delivery_date"], r["last_delivered"]] for r in missing],
        full_list="marts.fct_collection_quality where delivery_status = 'not delivered'")
        if missing else "<p>Every source delivered on every business day recorded.</p>")]
    rejected = ctx.rows("""
        select source_name, feed, delivery_date, array_to_string(rejection_reasons, '; ') as reasons,
               files_rejected::int as files_rejected
        from marts.fct_collection_quality where files_rejected > 0 order by 3 desc, 1, 2""")
    if rejected:
        landing = str(settings().landing)
        tables.append("<h3>被拒文件 rejected files</h3>" + html_table(
            ["来源 source", "数据 feed", "日期 day", "文件数 files", "原因 reasons"],
            [[r["source_name"], feed_name(r["feed"]), r["delivery_date"], r["files_rejected"],
              landing_relative(r["reasons"] or "", landing)] for r in rejected],
            numeric={3}, full_list="marts.fct_collection_quality.rejection_reasons"))
    by_rule = ctx.rows("""
        select q.key as rule_id, sum(q.value::bigint)::int as quarantined,
               string_agg(distinct c.source_name, '、') as sources
        from marts.fct_collection_quality c cross join lateral jsonb_each_text(c.quarantined_by_rule) q
        group by 1 order by 2 desc, 1""")
    if by_rule:
        tables.append("<h3>隔离原因 quarantined rows by rule</h3>" + html_table(
            ["规则 rule", "行 rows", "来源 sources"],
            [[ctx.row_rule(r["rule_id"]), r["quarantined"], r["sources"]] for r in by_rule], numeric={1}))
    failures = ctx.rows("""
        select source_name, feed, delivery_date, array_to_string(expectation_failures, '; ') as failures
        from marts.fct_collection_quality where not expectations_passed or cardinality(expectation_failures) > 0
        order by 3 desc, 1, 2""")
    tables.append("<h3 id=\"validation\">数据校验 validation results (Great Expectations)</h3>" + (
        html_table(["来源 source", "数据 feed", "日期 day", "未通过的期望 failed expectations"],
                   [[r["source_name"], feed_name(r["feed"]), r["delivery_date"], r["failures"]] for r in failures],
                   full_list="marts.fct_collection_quality.expectation_failures")
        if failures else "<p>Every expectation passed on every delivered batch.</p>"))
    return tables


def collection_quality(ctx: Context) -> Section:
    """归集质量 collection quality"""
    rows = _quality_rows(ctx)
    section = Section("collection_quality", "归集质量 collection quality",
                      "Each source's deliveries per day: what was received, accepted, quarantined (rows kept "
                      "with their rule), rejected (whole files), late; a dark grey cell (未交付) is a business "
                      "day the source sent nothing for by the cut-off.")
    if not rows:
        section.notes.append("No deliveries recorded yet.")
        return section
    grid, counts = _quality_grid(rows)
    bars, per_source = _rows_per_source(rows)
    section.kpis = {
        "rows_accepted": ("行已接收 rows accepted", sum(p["accepted"] for p in per_source.values())),
        "rows_quarantined": ("行已隔离 rows quarantined", sum(p["quarantined"] for p in per_source.values())),
        "files_rejected": ("文件被拒 files rejected", sum(r["files_rejected"] for r in rows)),
        "missing_deliveries": ("未交付 missing source-days", counts[MISSING]),
    }
    if counts[NO_RECORD]:
        section.notes.append(f"{counts[NO_RECORD]:,} light grey cells (无记录): no file that day and not marked "
                             "missing (not a business day for the source, or its cut-off has not passed).")
    section.figures = [grid, bars]
    section.tables = _quality_tables(ctx, rows)
    return section
