"""主体查询: one entity's cross-district profile, from the marts (analyst role).

`find_entity(query)` takes a USCC (18 characters), an old registration number
(15 digits) or a name (current or former; exact first, then a part of it) and
returns an EntityProfile; `format_profile` turns it into the text
`lakehouse entity` prints.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from lakehouse.catalog import load_catalog
from lakehouse.identifiers import normalise_identifier

USCC_LIKE = re.compile(r"^[0-9A-Z]{18}$")
REG_NO_LIKE = re.compile(r"^\d{15}$")
CLASS_NAMES = {"green": "良好", "yellow": "警示", "red": "失信", "black": "严重失信"}


class EntityNotFound(LookupError):
    """No entity, or more than one, matches the query; the message says what to do."""


@dataclass
class EntityProfile:
    registry: dict                                      # one row of marts.dim_entity_profile
    records: dict[tuple[str, str], int]                 # (holding district name, feed) -> records
    credit: dict                                        # one row of marts.fct_credit_risk
    rules: list[dict] = field(default_factory=list)     # the rules that set the class (marts.dim_credit_rules)
    in_registry: bool = True                            # False: records name this USCC, the registry does not


def _rows(cur, sql: str, params) -> list[dict]:
    cur.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _match(cur, query: str) -> list[dict]:
    text, code = query.strip(), normalise_identifier(query)
    if USCC_LIKE.match(code):
        return _rows(cur, "select * from marts.dim_entity_profile where uscc = %s", (code,))
    if REG_NO_LIKE.match(code):
        return _rows(cur, "select * from marts.dim_entity_profile where reg_no = %s", (code,))
    exact = _rows(cur, "select * from marts.dim_entity_profile where entity_name = %s or %s = any(former_names)"
                  " order by uscc", (text, text))
    if exact:
        return exact
    return _rows(cur, "select * from marts.dim_entity_profile where entity_name like %s order by uscc limit 21",
                 (f"%{text}%",))


def _records(cur, uscc: str) -> dict[tuple[str, str], int]:
    return {(r["holding_district_name"], r["feed"]): r["records"] for r in _rows(
        cur, "select holding_district_name, feed, sum(records)::int as records "
             "from marts.fct_entity_district_records where uscc = %s group by 1, 2", (uscc,))}


def _unregistered(cur, query: str) -> EntityProfile | None:
    """A USCC that records carry but the registry lacks: its records, nothing else."""
    code = normalise_identifier(query)
    records = _records(cur, code) if USCC_LIKE.match(code) else {}
    if not records:
        return None
    return EntityProfile(registry={"uscc": code, "entity_name": "(不在登记库 not in the registry)"},
                         records=records, credit={}, in_registry=False)


def find_entity(query: str) -> EntityProfile:
    from lakehouse.serving import warehouse

    with warehouse.connect(role="analyst") as conn, conn.cursor() as cur:
        found = _match(cur, query)
        if not found and (unregistered := _unregistered(cur, query)):
            return unregistered
        if not found:
            raise EntityNotFound(f"no entity matches {query!r} (tried USCC, registration number, current and "
                                 "former names, then names containing it). Check the spelling, or build the "
                                 "marts first: lakehouse marts")
        if len(found) > 1:
            listed = "\n  ".join(f"{r['uscc']}  {r['entity_name']}" for r in found[:20])
            raise EntityNotFound(f"{len(found) if len(found) <= 20 else 'more than 20'} entities match "
                                 f"{query!r}; run again with one USCC:\n  {listed}")
        registry = found[0]
        records = _records(cur, registry["uscc"])
        credit = (_rows(cur, "select * from marts.fct_credit_risk where uscc = %s", (registry["uscc"],)) or [{}])[0]
        rules = _rows(cur, "select * from marts.dim_credit_rules where rule_id = any(%s) order by class_rank desc, "
                           "rule_id", (list(credit.get("rule_ids") or []),))
    return EntityProfile(registry=registry, records=records, credit=credit, rules=rules)


def _pad(text, width: int) -> str:
    """Left-align for a terminal, where Chinese characters take two columns."""
    text = str(text)
    shown = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - shown)


def _yes_no(value) -> str:
    return "是 yes" if value else "否 no"


def format_profile(p: EntityProfile) -> str:
    r = p.registry
    lines = [f"主体查询 {r['entity_name']}  ({r['uscc']})", ""]
    lines += _registry_lines(r) if p.in_registry else [
        "  The registry has no entity with this USCC; districts hold the records below on it."]
    lines += _records_lines(p.records)
    if p.in_registry:
        lines += _list_and_credit_lines(r, p)
    return "\n".join(lines)


def _registry_lines(r: dict) -> list[str]:
    facts = [("注册号 registration no.", r.get("reg_no") or "—"),
             ("曾用名 former names", "、".join(r.get("former_names") or []) or "—"),
             ("类型 type", r["entity_type"]),
             ("登记区 registered district", r["registered_district_name"]),
             ("登记状态 status", r["registration_status"]),
             ("成立日期 established", r["established_date"]),
             ("行业 industry", r["industry_code"]),
             ("有效许可 valid licences", r["valid_licences"]),
             ("近三年检查 inspections (3 y)", f"{r['inspections_3y']} ({r['inspections_with_problems_3y']} with problems)"),
             ("近三年处罚 penalties (3 y)", f"{r['penalties_3y']}, fines {r['fines_total_3y']} yuan, "
                                          f"confiscated {r['confiscations_total_3y']} yuan"),
             ("数据截至 as of", r["as_of_date"])]
    return [f"  {_pad(k, 32)}{v}" for k, v in facts]


def _records_lines(records: dict[tuple[str, str], int]) -> list[str]:
    lines = ["", "各区记录 records per district and feed:"]
    if records:
        feeds = load_catalog().district_feeds  # the feeds districts hold (schemas/tables)
        districts = sorted({d for d, _ in records})
        lines.append(f"  {_pad('district', 12)}" + "".join(f"{f:>13}" for f in feeds))
        for d in districts:
            lines.append(f"  {_pad(d, 12)}" + "".join(f"{records.get((d, f), 0):>13}" for f in feeds))
        lines.append(f"  {_pad('total', 12)}" + "".join(
            f"{sum(n for (_, feed), n in records.items() if feed == f):>13}" for f in feeds))
    else:
        lines.append("  none: no district holds licences, inspections or penalties on it")
    return lines


def _list_and_credit_lines(r: dict, p: EntityProfile) -> list[str]:
    lines = ["", "名录 list status:",
              f"  {_pad('经营异常名录 abnormal operations list', 44)}{_yes_no(r['on_abnormal_list'])}",
              f"  {_pad('严重违法失信名单 serious violations list', 44)}{_yes_no(r['on_serious_list'])}"]

    cls = p.credit.get("credit_class", r.get("credit_class", "green"))
    lines += ["", f"信用分类 credit class: {CLASS_NAMES.get(cls, cls)} ({cls}), rules version "
                  f"{p.credit.get('rules_version', '?')}, as of {p.credit.get('as_of_date', r['as_of_date'])}"]
    if p.rules:
        lines.append("  rules that set it:")
        lines += [f"    {rule['rule_id']} ({rule['class_name_zh']}): {rule['description']}" for rule in p.rules]
        lines.append("  evidence (records that made the rules fire):")
        lines += [f"    {e}" for e in p.credit.get("evidence_ids") or []]
    else:
        lines.append("  no rule fires: 良好 by default")
    return lines
