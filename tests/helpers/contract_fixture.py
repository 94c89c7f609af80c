"""A hand-made delivery, written from ../shared/feeds.md (not by the project's
generator), that carries every fault the contract lists. Used by
test_faults.py: one ingest of all of it, then one test per fault."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from lakehouse.identifiers import org_code_check_char, uscc_check_char

DAY1, DAY2 = "2017-04-03", "2017-04-04"


def uscc(prefix8: str, body8: str) -> str:
    body = prefix8 + body8 + org_code_check_char(body8)
    return body + uscc_check_char(body)


def wrong_check(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


E_A = uscc("91310000", "MA1FLA01")          # registered in xuhui (310104), not in 310000
E_B_EXCEPTION = wrong_check(uscc("91310106", "MA1FLB02"))   # issued with a bad check char
E_C = uscc("92310101", "MA1FLC03")           # individual business, known by reg no
E_C_REGNO = "310101000123457"
E_D = uscc("91310101", "MA1FLD04")           # two firms share a name: huangpu one
E_E = uscc("91310112", "MA1FLE05")           # ... and the minhang one
D_HP = uscc("11310101", "00250047")
D_MH = uscc("11310112", "00250048")
D_JA = uscc("11310106", "00250049")
D_JS = uscc("11310116", "00250050")
D_XH = uscc("11310104", "00250051")
D_UNKNOWN = uscc("11310101", "99999999")

ENTITY_HEADER = ["统一社会信用代码", "注册号", "主体名称", "曾用名", "主体类型", "登记区县代码", "住所", "法定代表人",
                 "法定代表人证件号码", "注册资本（万元）", "成立日期", "登记状态", "行业代码", "经营范围", "更新时间"]
DEPT_HEADER = ["部门代码", "部门名称", "层级", "区县代码", "更新时间"]
PEN_S = ["记录编号", "处罚决定书文号", "统一社会信用代码", "主体名称", "处罚机关代码", "处罚机关", "处罚决定日期",
         "违法行为类型", "主要违法事实", "处罚依据", "处罚种类", "罚款金额", "没收金额", "状态", "更新时间"]
LIC_S = ["记录编号", "统一社会信用代码", "主体名称", "许可证编号", "许可类别", "许可机关代码", "许可机关", "许可决定日期",
         "有效期自", "有效期至", "状态", "经营场所", "更新时间"]
PEN_P = ["JLBH", "CFJDSWH", "TYSHXYDM", "ZTMC", "CFJGDM", "CFJG", "CFRQ", "WFXWLX", "ZYWFSS", "CFYJ", "CFZL",
         "FKJE", "MSJE", "ZT", "GXSJ"]


def pen(rid, code, name, dept, day, fine="1000", status="有效", updated=None, conf="", kinds="罚款"):
    return [rid, f"沪市监处〔2017〕{rid}号", code, name, dept, "市场监督管理局", day, "食品安全",
            "销售过期食品", "《食品安全法》", kinds, fine, conf, status, updated or f"{day} 10:00:00"]


def csv_bytes(header, rows, bom=False) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buf.getvalue()).encode("utf-8")


def write_folder(landing: Path, source: str, day: str, template: str, files: dict[str, tuple[str, bytes, int]],
                 manifest: bool = True, manifest_override: dict | None = None) -> None:
    """files: name -> (feed, bytes, rows)."""
    folder = landing / source / day
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, (feed, data, rows) in files.items():
        (folder / name).write_bytes(data)
        entry = {"name": name, "feed": feed, "rows": rows, "sha256": hashlib.sha256(data).hexdigest()}
        entry.update((manifest_override or {}).get(name, {}))
        entries.append(entry)
    if manifest:
        (folder / "_MANIFEST.json").write_text(json.dumps(
            {"source": source, "date": day, "template": template, "files": entries}, ensure_ascii=False))


def xlsx_bytes(sheet: str, title: str, header, rows) -> bytes:
    import datetime as dt

    from openpyxl import Workbook

    from lakehouse.generator.writers import deterministic_zip

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append(header)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    buf = io.BytesIO()
    wb.save(buf)
    return deterministic_zip(buf.getvalue())     # the same bytes (and sha256) every time it is built


def build(landing: Path) -> None:
    import datetime as dt

    entities = [
        [E_A, "", "上海甲乙餐饮管理有限公司", "上海甲乙餐饮有限公司", "企业", "310104",
         "上海市徐汇区漕溪北路１２号２号楼１５０１室", "张三", "310101198001011234",
         "100", "2015-01-01", "存续", "H6210", "餐饮服务", "2017-04-01 09:00:00"],
        [E_B_EXCEPTION, "", "上海丙丁科技有限公司", "", "企业", "310108", "闸北区共和新路100弄3号楼5层", "李四",
         "310101198001011235", "50", "2010-05-01", "存续", "I6510", "软件", "2017-04-01 09:00:00"],
        [E_C, E_C_REGNO, "黄浦区王五小吃店", "", "个体工商户", "310101", "黄浦区某路3号", "王五",
         "310101198001011236", "", "2005-03-01", "存续", "H6210", "小吃", "2017-04-01 09:00:00"],
        [E_D, "", "上海同名贸易有限公司", "", "企业", "310101", "黄浦区某路4号", "赵六",
         "310101198001011237", "10", "2012-01-01", "存续", "F5100", "贸易", "2017-04-01 09:00:00"],
        [E_E, "", "上海同名贸易有限公司", "", "企业", "310112", "闵行区某路5号", "钱七",
         "310101198001011238", "10", "2013-01-01", "存续", "F5100", "贸易", "2017-04-01 09:00:00"],
    ]
    depts = [[D_HP, "上海市黄浦区市场监督管理局", "区级", "310103", "2017-01-01 00:00:00"],   # legacy code 卢湾
             [D_MH, "上海市闵行区市场监督管理局", "区级", "310112", "2017-01-01 00:00:00"],
             [D_JA, "上海市静安区市场监督管理局", "区级", "310106", "2017-01-01 00:00:00"],
             [D_JS, "上海市金山区市场监督管理局", "区级", "310116", "2017-01-01 00:00:00"],
             [D_XH, "上海市徐汇区市场监督管理局", "区级", "310104", "2017-01-01 00:00:00"]]
    write_folder(landing, "city", DAY1, "S", {
        "entities.csv": ("entities", csv_bytes(ENTITY_HEADER, entities, bom=True), len(entities)),
        "departments.csv": ("departments", csv_bytes(DEPT_HEADER, depts), len(depts)),
    })

    fw_lower = "\u3000" + "".join(chr(ord(c) + 0xFEE0) for c in E_A.lower()) + " "
    hp = [
        pen("HP-1", fw_lower, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01"),
        pen("HP-2", wrong_check(E_A), "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01"),
        pen("HP-3", E_B_EXCEPTION, "上海丙丁科技有限公司", D_HP, "2017-04-01", fine="3000"),
        pen("HP-4", E_C_REGNO, "黄浦区王五小吃店", D_HP, "2017-04-01"),
        pen("HP-5", wrong_check(E_A), "上海甲乙餐饮有限公司  ", D_HP, "2017-04-01"),
        pen("HP-6", wrong_check(E_D), "上海查无此名有限公司", D_HP, "2017-04-01"),
        pen("HP-7", "9131000", "上海同名贸易有限公司", D_HP, "2017-04-01"),
        pen("HP-8", E_A, "上海甲乙餐饮管理有限公司", D_HP, "0000-00-00"),
        pen("HP-9", E_A, "上海甲乙餐饮管理有限公司", D_HP, "1948-12-31"),
        pen("HP-10", E_A, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01", fine="-500"),
        pen("HP-11", E_A, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01", fine="200000000"),
        pen("HP-12", E_A, "上海甲乙餐饮管理有限公司", D_UNKNOWN, "2017-04-01"),
        pen("HP-13", E_A, "上海甲乙餐饮管理有限公司", D_HP, "2016-12-01"),
        pen("HP-14", E_A, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-04"),
    ]
    lic = [["HP-L-1", E_A, "上海甲乙餐饮管理有限公司", "JY1", "宠物美容许可", D_HP, "黄浦局", "2017-04-01",
            "2017-04-01", "2022-03-31", "有效", "黄浦区某路", "2017-04-01 10:00:00"],
           ["HP-L-2", E_A, "上海甲乙餐饮管理有限公司", "JY2", "食品经营许可", D_HP, "黄浦局", "2017-04-01",
            "2017-04-01", "2022-03-31", "有效", "上海市卢湾区淮海中路３００号恒隆广场A座12层1201室",
            "2017-04-01 10:00:00"]]
    write_folder(landing, "huangpu", DAY1, "S", {
        "penalties.csv": ("penalties", csv_bytes(PEN_S, hp), len(hp)),
        "licences.csv": ("licences", csv_bytes(LIC_S, lic), len(lic)),
    })
    # day 2: HP-1 re-sent unchanged, HP-3 revoked later (new version), a new unknown column
    day2 = [pen("HP-1", fw_lower, "上海甲乙餐饮管理有限公司", D_HP, "2017-04-01") + [""],
            pen("HP-3", E_B_EXCEPTION, "上海丙丁科技有限公司", D_HP, "2017-04-01", fine="3000", status="已撤销",
                updated="2017-04-04 08:00:00") + ["复议撤销"]]
    write_folder(landing, "huangpu", DAY2, "S", {
        "penalties.csv": ("penalties", csv_bytes(PEN_S + ["备注"], day2), 2)})

    p_rows = ["|".join(PEN_P),
              "|".join(["MH-1", "沪市监闵处〔2017〕1号", E_E, "上海同名贸易有限公司", D_MH, "闵行局", "20170402",
                        "价格违法", "未明码标价 多次", "《价格法》", "警告,罚款", "0.5", "NULL", "有效",
                        "20170402093000"])]
    write_folder(landing, "minhang", DAY1, "P", {
        "penalties.txt": ("penalties", ("\r\n".join(p_rows) + "\r\n").encode("gb18030"), 1)})

    j_rows = [{"recordId": "JA-1", "decisionNo": "沪市监静处〔2017〕1号",
               "entity": {"uscc": E_B_EXCEPTION, "name": "上海丙丁科技有限公司"},
               "department": {"code": D_JA, "name": "静安局"}, "decisionDate": "2017-04-02",
               "penaltyKinds": ["警告", "罚款"], "fineAmount": "5,000.00", "confiscatedAmount": None,
               "status": "EXECUTED", "updatedAt": "2017-04-02T09:30:00+08:00"},
              {"recordId": "JA-2", "entity": {"uscc": E_A, "name": "上海甲乙餐饮管理有限公司"},
               "department": {"code": D_JA, "name": "静安局"}, "decisionDate": "2017-04-02",
               "status": "EFFECTIVE", "updatedAt": "2017-04-02T10:00:00+08:00"}]
    write_folder(landing, "jingan", DAY1, "J", {"penalties.jsonl": (
        "penalties", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in j_rows).encode(), 2)})

    x_rows = [["JS-1", "沪市监金处〔2017〕1号", 913101000000000000, "上海甲乙餐饮管理有限公司", D_JS, "金山局",
               "2017年4月1日", "食品安全", "无", "《食品安全法》", "罚款", "5000元", "", "有效", "2017-04-01 10:00:00"],
              ["JS-2", "沪市监金处〔2017〕2号", E_D, "上海同名贸易有限公司", D_JS, "金山局",
               dt.date(2017, 4, 2), "食品安全", "无", "《食品安全法》", "罚款", "1,200元", "", "有效",
               "2017-04-02 10:00:00"]]
    write_folder(landing, "jinshan", DAY1, "X", {"penalties.xlsx": (
        "penalties", xlsx_bytes("行政处罚", f"金山区行政处罚信息导出 {DAY1}", PEN_S, x_rows), 2)})

    xh_header = [("罚没款金额" if h == "罚款金额" else h) for h in PEN_S]   # known rename since 2017-03-01
    write_folder(landing, "xuhui", DAY1, "S", {"penalties.csv": (
        "penalties", csv_bytes(xh_header, [pen("XH-1", E_A, "上海甲乙餐饮管理有限公司", D_XH, "2017-04-01",
                                                fine="8000")]), 1)})
    # a rename adds an alias: the next day xuhui sends the template's standard header again
    write_folder(landing, "xuhui", DAY2, "S", {"penalties.csv": (
        "penalties", csv_bytes(PEN_S, [pen("XH-2", E_A, "上海甲乙餐饮管理有限公司", D_XH, "2017-04-02",
                                           fine="6000")]), 1)})

    good = csv_bytes(LIC_S, lic[1:])
    truncated = csv_bytes(PEN_S, hp[:2])[:-1] + b'\r\n"HP-99,unterminated'
    write_folder(landing, "putuo", DAY1, "S", {"penalties.csv": ("penalties", truncated, 3),
                                                "licences.csv": ("licences", good, 1)})
    write_folder(landing, "hongkou", DAY1, "S", {"penalties.csv": ("penalties", b"", 0),
                                                  "inspections.csv": ("inspections", csv_bytes(
                                                      ["记录编号", "统一社会信用代码", "主体名称", "检查机关代码",
                                                       "检查机关", "检查日期", "检查类型", "检查结果", "更新时间"],
                                                      []), 2)})
    bad_bytes = csv_bytes(PEN_S, hp[:1]).replace("上海".encode(), b"\xff\xfe", 1)
    write_folder(landing, "yangpu", DAY1, "S", {"penalties.csv": ("penalties", bad_bytes, 1)})
    write_folder(landing, "baoshan", DAY1, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, hp[:2]), 2),
                                                  "licences.csv": ("licences", good, 1)},
                 manifest_override={"penalties.csv": {"rows": 5}, "licences.csv": {"sha256": "0" * 64}})
    write_folder(landing, "jiading", DAY1, "S", {"penalties.csv": (
        "penalties", csv_bytes(PEN_S[1:], [r[1:] for r in hp[:1]]), 1)})
    write_folder(landing, "changning", DAY1, "S", {"penalties.csv": ("penalties", csv_bytes(PEN_S, hp[:1]), 1)},
                 manifest=False)
