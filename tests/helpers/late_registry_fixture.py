"""A hand-made landing in which records arrive days before the registry
knows their entity, in every template (S huangpu, P minhang, J jingan,
X jinshan), and a registered entity moves district: the registry and the
department list catch up on day 3. Used by test_registry_catch_up.py."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.contract_fixture import (
    DEPT_HEADER,
    E_A,
    ENTITY_HEADER,
    PEN_P,
    PEN_S,
    csv_bytes,
    pen,
    uscc,
    write_folder,
    wrong_check,
    xlsx_bytes,
)

DAY1, DAY2, DAY3 = "2017-04-03", "2017-04-04", "2017-04-05"
E_NEW = uscc("91310105", "MA1FLN06")          # registered on day 3, in changning (310105)
E_NEW_REGNO = "310105000654321"
NEW_NAME = "上海新来科技有限公司"
D_HP = uscc("11310101", "00250047")
D_MH = uscc("11310112", "00250048")
D_JA = uscc("11310106", "00250049")
D_JS = uscc("11310116", "00250050")
D_NEW = uscc("11310101", "00250099")          # in the department list from day 3
E_STAYS = uscc("91310104", "MA1FLG07")        # registered from day 1, unchanged on day 3

# record id -> (resolution expected once the registry knows E_NEW)
PROMOTED = {"HP-N2": "name", "MH-N1": "reg_no", "JA-N1": "name", "JS-N1": "name"}


def _entity(code, reg_no, name, district, updated):
    return [code, reg_no, name, "", "企业", district, "某路1号", "张三", "310101198001011234", "100", "2015-01-01",
            "存续", "H6210", "软件", updated]


def _dept(code, name, district):
    return [code, name, "区级", district, "2017-01-01 00:00:00"]


def build(landing: Path) -> None:
    depts = [_dept(D_HP, "黄浦局", "310101"), _dept(D_MH, "闵行局", "310112"), _dept(D_JA, "静安局", "310106"),
             _dept(D_JS, "金山局", "310116")]
    ents = [_entity(E_A, "", "上海甲乙餐饮管理有限公司", "310104", "2017-04-01 09:00:00"),
            _entity(E_STAYS, "", "上海不动商贸有限公司", "310104", "2017-04-01 09:00:00")]
    write_folder(landing, "city", DAY1, "S", {
        "entities.csv": ("entities", csv_bytes(ENTITY_HEADER, ents, bom=True), len(ents)),
        "departments.csv": ("departments", csv_bytes(DEPT_HEADER, depts), len(depts))})

    hp = [pen("HP-N1", E_NEW, NEW_NAME, D_HP, "2017-04-01"),                  # valid code: accepted, flagged
          pen("HP-N2", wrong_check(E_NEW), NEW_NAME, D_HP, "2017-04-01"),     # unresolvable until day 3
          pen("HP-A", E_A, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01"),     # its entity moves on day 3
          pen("HP-D", E_A, "上海甲乙餐饮管理有限公司", D_NEW, "2017-04-01")]    # department unknown until day 3
    write_folder(landing, "huangpu", DAY1, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, hp), len(hp))})
    # department unknown until day 3, entity unchanged then: only the department list heals it
    xh = [pen("XH-D", E_STAYS, "上海不动商贸有限公司", D_NEW, "2017-04-01")]
    write_folder(landing, "xuhui", DAY1, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, xh), len(xh))})
    p_rows = ["|".join(PEN_P), "|".join(["MH-N1", "沪市监闵处〔2017〕9号", E_NEW_REGNO, NEW_NAME, D_MH, "闵行局",
                                         "20170402", "价格违法", "未明码标价", "《价格法》", "罚款", "0.5", "NULL",
                                         "有效", "20170402093000"])]
    write_folder(landing, "minhang", DAY1, "P", {
        "penalties.txt": ("penalties", ("\r\n".join(p_rows) + "\r\n").encode("gb18030"), 1)})
    j_row = {"recordId": "JA-N1", "decisionNo": "沪市监静处〔2017〕9号",
             "entity": {"uscc": wrong_check(E_NEW), "name": NEW_NAME},
             "department": {"code": D_JA, "name": "静安局"}, "decisionDate": "2017-04-02",
             "penaltyKinds": ["罚款"], "fineAmount": "500.00", "status": "EFFECTIVE",
             "updatedAt": "2017-04-02T09:30:00+08:00"}
    write_folder(landing, "jingan", DAY1, "J", {
        "penalties.jsonl": ("penalties", (json.dumps(j_row, ensure_ascii=False) + "\n").encode(), 1)})
    x_rows = [["JS-N1", "沪市监金处〔2017〕9号", wrong_check(E_NEW), NEW_NAME, D_JS, "金山局", "2017-04-02",
               "食品安全", "无", "《食品安全法》", "罚款", "1,200元", "", "有效", "2017-04-02 10:00:00"]]
    write_folder(landing, "jinshan", DAY1, "X", {"penalties.xlsx": (
        "penalties", xlsx_bytes("行政处罚", f"金山区行政处罚信息导出 {DAY1}", PEN_S, x_rows), 1)})

    # day 2: huangpu re-sends HP-N2 unchanged (a duplicate once both resolve)
    write_folder(landing, "huangpu", DAY2, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, hp[1:2]), 1)})
    # ... and xuhui re-sends XH-D, in silver since day 1: a duplicate of silver's row
    write_folder(landing, "xuhui", DAY2, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, xh), 1)})

    # day 3: the registry learns E_NEW, E_A moves to 静安 (310106); the list learns D_NEW
    ents3 = [_entity(E_NEW, E_NEW_REGNO, NEW_NAME, "310105", "2017-04-05 09:00:00"),
             _entity(E_A, "", "上海甲乙餐饮管理有限公司", "310106", "2017-04-05 09:00:00")]
    write_folder(landing, "city", DAY3, "S", {
        "entities.csv": ("entities", csv_bytes(ENTITY_HEADER, ents3, bom=True), len(ents3)),
        "departments.csv": ("departments", csv_bytes(DEPT_HEADER, [_dept(D_NEW, "新设局", "310101")]), 1)})
