"""The supervision sections: cross-district supervision, the 双告知 funnel,
双随机 plans, joint inspections, risk-keyword warnings, buildings and hotspots."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lakehouse.serving.report.context import FEED_NAMES, Context, Section
from lakehouse.serving.report.present import LEVELS, TOP_N, html_table, place_name, show, unique_labels

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
