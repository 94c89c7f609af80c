"""信用分类 credit classes: entities per class and district, and the changes
since the report's previous build."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import plotly.graph_objects as go

from lakehouse.serving.report.context import CREDIT_CLASSES, Context, Section
from lakehouse.serving.report.present import TOP_N, html_table


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
