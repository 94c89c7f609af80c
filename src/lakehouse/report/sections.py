"""The report's sections: one function per section, each reading the marts and
returning a Section (title, figures, tables, headline figures). To add a
section, write one more function taking a Context and append it to SECTIONS.

Everything a person reads is a name (district, department, source, place,
class) or a rule's description, taken from the marts' name columns, the
catalog (schemas/) and the rule seeds; codes only appear in hover text.
Long tables show their top rows and how many more there are (present.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lakehouse.report.present import LEVELS, TOP_N, html_table, landing_relative, place_name, show, unique_labels

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


# --------------------------------------------------------------------------- 归集质量

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


# --------------------------------------------------------------------------- 信用分类

def _credit_snapshot(ctx: Context, current: dict[str, str]) -> tuple[dict[str, str] | None, str]:
    """The classes at the previous build, and a label for it.

    A dbt table build replaces the table, so the table's oid names the build. The
    report keeps the non-green classes of the last two builds it saw; drawing the
    same build twice compares with the same previous build."""
    [(build_id,)] = [tuple(r.values()) for r in ctx.rows(
        "select 'marts.fct_credit_risk'::regclass::oid::bigint as build_id")]
    path = ctx.state_dir / "credit_classes_by_build.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    if saved and saved[-1]["build_id"] == build_id:
        previous = saved[-2] if len(saved) > 1 else None
    else:
        previous = saved[-1] if saved else None
        seen_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        saved = ([previous] if previous else []) + [{"build_id": build_id, "seen_at": seen_at, "classes": current}]
        path.write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")
    if previous is None:
        return None, ""
    return previous["classes"], f"drawn {previous.get('seen_at', '?')}"


def credit_classes(ctx: Context) -> Section:
    """信用分类 credit classes"""
    rows = ctx.rows("""
        select registered_district_name, credit_class, count(*)::int as entities
        from marts.fct_credit_risk group by 1, 2 order by 1""")
    section = Section("credit_classes", "信用分类 credit classes by district",
                      "Entities per registered district by credit class (rules of seeds/credit_rules.csv), "
                      "and the entities whose class changed since the previous build.")
    districts = sorted({r["registered_district_name"] for r in rows})
    count = {(r["registered_district_name"], r["credit_class"]): r["entities"] for r in rows}
    fig = go.Figure()
    for cls, (name, colour) in CREDIT_CLASSES.items():
        fig.add_bar(name=name, x=districts, y=[count.get((d, cls), 0) for d in districts], marker_color=colour,
                    hovertemplate=f"%{{x}} {name}: %{{y:,}}<extra></extra>")
    fig.update_layout(barmode="stack", title="各区信用分类 classes by registered district", yaxis_title="entities")
    section.figures.append(fig)
    for cls, (name, _) in CREDIT_CLASSES.items():
        section.kpis[f"credit_{cls}"] = (name, sum(v for (_, c), v in count.items() if c == cls))
    _credit_changes(ctx, section)
    return section


def _credit_changes(ctx: Context, section: Section) -> None:
    """Which entities changed class since the previous build, worst new class first, with the rules in words."""
    current = {r["uscc"]: r["credit_class"] for r in ctx.rows(
        "select uscc, credit_class from marts.fct_credit_risk where credit_class <> 'green'")}
    previous, label = _credit_snapshot(ctx, current)
    if previous is None:
        section.notes.append("First build the report has seen: the next build will show which classes changed.")
        return
    rank = {cls: i for i, cls in enumerate(CREDIT_CLASSES)}
    changed = sorted((u for u in set(current) | set(previous) if current.get(u, "green") != previous.get(u, "green")),
                     key=lambda u: (-rank[current.get(u, "green")], -rank[previous.get(u, "green")], u))
    section.kpis["credit_changes"] = ("较上次构建变化 changed since previous build", len(changed))
    if not changed:
        section.notes.append(f"No entity changed class since the previous build ({label}).")
        return
    shown = changed[:TOP_N]
    details = {r["uscc"]: r for r in ctx.rows(
        """select uscc, entity_name, registered_district_name, rule_ids
           from marts.fct_credit_risk where uscc = any(%s)""", (shown,))}
    rules = {r["rule_id"]: r["description"] for r in ctx.rows(
        "select rule_id, description from marts.dim_credit_rules")}
    transitions: dict[tuple[str, str], int] = {}
    for u in changed:
        key = (previous.get(u, "green"), current.get(u, "green"))
        transitions[key] = transitions.get(key, 0) + 1
    change_fig = go.Figure(go.Bar(
        x=[f"{CREDIT_CLASSES[a][0]} → {CREDIT_CLASSES[b][0]}" for a, b in transitions],
        y=list(transitions.values()), marker_color=[CREDIT_CLASSES[b][1] for _, b in transitions]))
    change_fig.update_layout(title=f"较上次构建的变化 changes since the previous build ({label})",
                             yaxis_title="entities")
    section.figures.append(change_fig)
    section.tables.append("<h3>变化的主体 entities that changed</h3>" + html_table(
        ["统一社会信用代码 USCC", "名称 name", "登记区 district", "原 before", "现 now", "依据 rules that apply now"],
        [[u, details.get(u, {}).get("entity_name"), details.get(u, {}).get("registered_district_name"),
          CREDIT_CLASSES[previous.get(u, "green")][0], CREDIT_CLASSES[current.get(u, "green")][0],
          "; ".join(rules.get(rid, rid) for rid in details.get(u, {}).get("rule_ids") or []) or "—"]
         for u in shown], total=len(changed), full_list="marts.fct_credit_risk_history, lakehouse entity <USCC>"))


# --------------------------------------------------------------------------- 跨区监管

def cross_district(ctx: Context) -> Section:
    """跨区监管 cross-district supervision"""
    rows = ctx.rows("""
        select registered_district_name, holding_district_name, feed, sum(records)::int as records
        from marts.fct_cross_district_supervision group by 1, 2, 3""")
    section = Section("cross_district", "跨区监管 cross-district supervision",
                      "Records a district holds on entities registered in another district: registered "
                      "district (rows) × holding district (columns), per feed.")
    registered = sorted({r["registered_district_name"] for r in rows})
    holding = sorted({r["holding_district_name"] for r in rows})
    feeds = list(FEED_NAMES)
    fig = make_subplots(rows=1, cols=3, subplot_titles=[FEED_NAMES[f] for f in feeds], shared_yaxes=True,
                        horizontal_spacing=0.04)
    value = {(r["registered_district_name"], r["holding_district_name"], r["feed"]): r["records"] for r in rows}
    for i, feed in enumerate(feeds, start=1):
        z = [[value.get((reg, hold, feed)) for hold in holding] for reg in registered]
        fig.add_trace(go.Heatmap(z=z, x=holding, y=registered, coloraxis="coloraxis", xgap=1, ygap=1,
                                 hovertemplate="登记 %{y} · 持有 %{x}: %{z:,}<extra>" + feed + "</extra>"),
                      row=1, col=i)
    fig.update_layout(title="登记区 × 持有区 registered × holding district", margin=dict(t=90),
                      coloraxis=dict(colorscale=[[0, "#c6dbef"], [1, "#08306b"]]),
                      height=max(420, 26 * len(registered) + 180))
    section.figures.append(fig)
    section.kpis["cross_district_records"] = ("跨区记录 cross-district records", sum(value.values()))
    return section


# --------------------------------------------------------------------------- 双告知

def dual_notification_funnel(ctx: Context) -> Section:
    """双告知 funnel"""
    by_district = ctx.rows("""
        select registered_district_name as name, sum(pushed)::int as pushed, sum(answered)::int as answered,
               sum(issued)::int as issued, sum(overdue)::int as overdue
        from marts.fct_dual_notification_funnel group by 1 order by 2 desc""")
    by_department = ctx.rows(f"""
        select pushed_department_name as name, sum(pushed)::int as pushed, sum(answered)::int as answered,
               sum(issued)::int as issued, sum(overdue)::int as overdue
        from marts.fct_dual_notification_funnel group by 1 order by 2 desc limit {TOP_N}""")
    section = Section("dual_notification_funnel", "双告知 funnel",
                      "Pushes to the licensing departments → answered → licence issued, and overdue pushes "
                      "(no answer within the agreed days), by registered district and by department.")
    totals = {k: sum(r[k] for r in by_district) for k in ("pushed", "answered", "issued", "overdue")}
    funnel = go.Figure(go.Funnel(y=["推送 pushed", "已反馈 answered", "已办证 issued"],
                                 x=[totals["pushed"], totals["answered"], totals["issued"]],
                                 textinfo="value+percent initial", marker_color=["#1e88e5", "#43a047", "#2e7d32"]))
    funnel.update_layout(title="全市 whole city", height=320)
    section.figures.append(funnel)
    for title, data in (("按登记区 by registered district", by_district),
                        (f"按部门 by department (top {TOP_N})", by_department)):
        names = [r["name"] for r in data]
        fig = go.Figure()
        for key, label, colour in (("pushed", "推送 pushed", "#1e88e5"), ("answered", "已反馈 answered", "#43a047"),
                                   ("issued", "已办证 issued", "#2e7d32"), ("overdue", "逾期 overdue", "#e53935")):
            fig.add_bar(name=label, x=names, y=[r[key] for r in data], marker_color=colour)
        fig.update_layout(barmode="group", title=title)
        section.figures.append(fig)
    section.kpis = {f"dual_{k}": (label, totals[k]) for k, label in
                    (("pushed", "推送 pushed"), ("answered", "已反馈 answered"), ("issued", "已办证 issued"),
                     ("overdue", "逾期 overdue"))}
    return section


# --------------------------------------------------------------------------- 双随机

def random_plans(ctx: Context) -> Section:
    """双随机 plans"""
    rows = ctx.rows("""
        select plan_id, plan_name, lead_department_name, expected_drawn::float as expected_drawn, drawn::int as drawn,
               inspected_entities::int as inspected, entities_with_problems::int as problems,
               results_published, results_published_on_time, drawn_matches_ratio
        from marts.fct_random_inspection_coverage order by start_date, plan_id""")
    section = Section("random_plans", "双随机 random inspection plans",
                      "Per plan: entities drawn against population × sampling ratio, inspected, with problems, "
                      "and whether results were published on time.")
    labels = [r["plan_id"] for r in rows]
    names = [r["plan_name"] or r["plan_id"] for r in rows]
    fig = go.Figure()
    fig.add_bar(name="应抽 required (population × ratio)", x=labels, y=[r["expected_drawn"] for r in rows],
                marker_color="#b0bec5")
    fig.add_bar(name="已抽 drawn", x=labels, y=[r["drawn"] for r in rows], marker_color="#1e88e5")
    fig.add_bar(name="已检查 inspected", x=labels, y=[r["inspected"] for r in rows], marker_color="#43a047")
    fig.add_bar(name="发现问题 problems", x=labels, y=[r["problems"] for r in rows], marker_color="#e53935")
    fig.update_traces(customdata=names, hovertemplate="%{customdata}<br>%{y:,}<extra>%{fullData.name}</extra>")
    fig.update_layout(barmode="group", title="抽取与检查 drawn vs required, inspected, problems",
                      yaxis_title="entities", xaxis_type="category")
    section.figures.append(fig)
    yes_no = {True: "是 yes", False: "否 no", None: "—"}
    section.tables.append(html_table(
        ["计划 plan", "牵头部门 lead department", "应抽 required", "已抽 drawn", "比例相符 ratio met",
         "已检查 inspected", "问题 problems", "按时公示 published on time"],
        [[f"{label} {name}", r["lead_department_name"], r["expected_drawn"], r["drawn"],
          yes_no[r["drawn_matches_ratio"]], r["inspected"], r["problems"], yes_no[r["results_published_on_time"]]]
         for label, name, r in zip(labels, names, rows, strict=True)], numeric={2, 3, 5, 6},
        full_list="marts.fct_random_inspection_coverage"))
    section.kpis = {
        "random_plans": ("计划 plans", len(rows)),
        "random_on_time": ("按时公示 published on time", sum(bool(r["results_published_on_time"]) for r in rows)),
    }
    return section


# --------------------------------------------------------------------------- 联合检查与风险预警

def joint_inspections(ctx: Context) -> Section:
    """联合检查 joint inspections"""
    rows = ctx.rows(f"""
        select joint_id, lead_department_name, first_inspection_date, entities::int as entities,
               entities_with_problems::int as problems, cardinality(participating_department_codes)::int as partners
        from marts.fct_joint_inspections order by entities_with_problems desc, entities desc, joint_id
        limit {TOP_N}""")
    [total] = ctx.rows("select count(*)::int as n from marts.fct_joint_inspections")
    section = Section("joint_inspections", "联合检查 joint inspections",
                      f"The {TOP_N} joint inspections that found problems at the most entities.")
    # the lead department by name and the day; the inspection's number only in the hover
    labels = unique_labels([f"{r['lead_department_name'] or '未知部门 unknown department'} · "
                            f"{r['first_inspection_date']}" for r in rows])[::-1]
    ids = [r["joint_id"] for r in rows][::-1]
    fig = go.Figure()
    for key, name, colour in (("entities", "检查主体 entities", "#90caf9"), ("problems", "发现问题 with problems",
                                                                           "#e53935")):
        fig.add_bar(name=name, y=labels, x=[r[key] for r in rows][::-1], orientation="h", marker_color=colour,
                    customdata=ids, hovertemplate="%{y} (%{customdata}): %{x:,}<extra>" + name + "</extra>")
    fig.update_layout(barmode="overlay", title="联合检查 top joint inspections", height=max(320, 28 * len(rows) + 140))
    section.figures.append(fig)
    section.kpis["joint_inspections"] = ("联合检查 joint inspections", total["n"])
    return section


def risk_keyword_warnings(ctx: Context) -> Section:
    """风险词预警 risk-keyword warnings"""
    rows = ctx.rows(f"""
        select uscc, coalesce(entity_name, uscc) as entity_name, registered_district_name,
               count(distinct keyword)::int as words,
               string_agg(distinct keyword, '、') as keywords, string_agg(distinct domain, ', ') as domains
        from marts.fct_risk_keyword_warnings group by 1, 2, 3 order by 4 desc, 1 limit {TOP_N}""")
    [total] = ctx.rows("select count(distinct uscc)::int as n from marts.fct_risk_keyword_warnings")
    section = Section("risk_keyword_warnings", "风险词预警 risk-keyword warnings",
                      "Entities whose website home page carries P2P-finance risk words, most words first.")
    names = [r["entity_name"] for r in rows][::-1]
    fig = go.Figure(go.Bar(y=names, x=[r["words"] for r in rows][::-1], orientation="h", marker_color="#fb8c00",
                           text=[r["keywords"] for r in rows][::-1], textposition="auto",
                           hovertemplate="%{y}: %{x} words<br>%{text}<extra></extra>"))
    fig.update_layout(title="命中风险词最多的主体 entities with the most risk words", xaxis_title="distinct words",
                      height=max(320, 28 * len(rows) + 140))
    section.figures.append(fig)
    section.tables.append(html_table(
        ["名称 name", "统一社会信用代码 USCC", "登记区 district", "网站 website", "风险词 words"],
        [[r["entity_name"], r["uscc"], r["registered_district_name"], r["domains"], r["keywords"]] for r in rows],
        total=total["n"], full_list="marts.fct_risk_keyword_warnings"))
    section.kpis["risk_entities"] = ("预警主体 entities warned", total["n"])
    return section


def _measure(measure: str, value) -> str:
    if value is None:
        return "—"
    return f"{float(value):.0%}" if measure == "problems_per_inspection" else f"{float(value):.2f}"


def hotspot_reason(r: dict) -> str:
    """Why a place is a hotspot, in words and rounded figures (the mart's reason carries every digit)."""
    what = {"problems_per_inspection": "inspections finding problems",
            "penalties_per_entity": "penalties per entity"}.get(r["measure"], r["measure"])
    here = f"{_measure(r['measure'], r['value'])} {what} ({show(r['numerator'])} of {show(r['denominator'])})"
    if r["comparison"] == "ratio_to_district":
        return f"{here} against {_measure(r['measure'], r['district_value'])} in the district that month"
    return (f"{here} against {_measure(r['measure'], r['trailing_value'])} over the previous "
            f"{show(r['trailing_months'])} months ({show(r['trailing_numerator'])} of "
            f"{show(r['trailing_denominator'])})")


def buildings_and_hotspots(ctx: Context) -> Section:
    """楼宇经济与监管热点 buildings with the most entities, and where problems stand out"""
    buildings = ctx.rows(f"""
        select b.address_label, b.district_name, b.entities::int as entities,
               coalesce(sum(s.inspections), 0)::int as inspections,
               coalesce(sum(s.inspections_with_problems), 0)::int as problems
        from marts.dim_building b left join marts.fct_building_supervision s using (building_id)
        group by b.building_id, b.address_label, b.district_name, b.entities
        order by b.entities desc, problems desc, b.address_label limit {TOP_N}""")
    hotspots = ctx.rows(f"""
        select h.event_month, h.level, h.place_id, b.address_label, h.district_code, h.rule_id,
               h.rule_description, h.comparison, h.measure, h.value, h.numerator, h.denominator,
               h.district_value, h.trailing_value, h.trailing_months, h.trailing_numerator, h.trailing_denominator
        from marts.fct_supervision_hotspots h
        left join marts.dim_building b on b.building_id = h.building_id
        order by h.event_month desc, h.value - coalesce(h.trailing_value, h.district_value, 0) desc, h.place_id
        limit {TOP_N}""")
    [total] = ctx.rows("select count(*)::int as n from marts.fct_supervision_hotspots")
    section = Section("buildings_and_hotspots", "楼宇经济与监管热点 buildings and hotspots",
                      f"The {TOP_N} buildings with the most entities (by domicile or place of business) and the "
                      "inspections and problems recorded there; then the latest places whose problem rate stood "
                      "out, with the rule and the figures behind each.")
    labels = [f"{r['address_label']} · {r['district_name']}" for r in buildings][::-1]
    fig = go.Figure()
    fig.add_bar(name="主体 entities", y=labels, x=[r["entities"] for r in buildings][::-1], orientation="h",
                marker_color="#5c6bc0")
    fig.add_bar(name="发现问题 inspections with problems", y=labels, x=[r["problems"] for r in buildings][::-1],
                orientation="h", marker_color="#e53935")
    fig.update_layout(barmode="group", title="主体最多的楼宇 buildings with the most entities",
                      height=max(320, 36 * len(buildings) + 140))
    section.figures.append(fig)
    section.tables.append("<h3>监管热点 hotspots (latest first)</h3>" + html_table(
        ["月份 month", "层级 level", "地点 place", "区 district", "规则 rule", "原因 why"],
        [[str(r["event_month"])[:7], LEVELS.get(r["level"], r["level"]),
          place_name(r["level"], r["place_id"], r["address_label"]), ctx.district_name(r["district_code"]),
          (r["rule_description"] or r["rule_id"]).removeprefix("监管热点: "), hotspot_reason(r)] for r in hotspots],
        total=total["n"], full_list="marts.fct_supervision_hotspots"))
    section.kpis["hotspots"] = ("监管热点 hotspots", total["n"])
    return section


SECTIONS = [collection_quality, credit_classes, cross_district, dual_notification_funnel, random_plans,
            joint_inspections, risk_keyword_warnings, buildings_and_hotspots]
