"""Readers parse what the contract allows and reject broken files with the
right reason code and a message naming the file and the line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from lakehouse.catalog import load_catalog
from lakehouse.ingest.readers import FileRejected, check_row_count, read_delivery_file
from lakehouse.ingest.readers.xlsx_reader import cell_text

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.fixture(scope="module")
def tpl():
    return load_catalog(SCHEMAS).templates


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _rejected(path: Path, template, feed: str, reason: str) -> str:
    with pytest.raises(FileRejected) as info:
        read_delivery_file(path, template, feed)
    assert info.value.reason_code == reason, info.value.message
    assert str(path) in info.value.message
    return info.value.message


# --------------------------------------------------------------------------- S: csv

S_HEADER = "记录编号,统一社会信用代码,主体名称,主要违法事实,罚款金额"


def test_csv_bom_crlf_quoted_multiline(tmp_path, tpl):
    text = (
        S_HEADER + "\r\n"
        'R1,91310106MA1FL0XX1X,"上海某某餐饮管理有限公司","第一行, 有逗号\r\n第二行 ""引号""",5000.00\r\n'
        "R2,,上海二号,,\r\n"
    )
    path = _write(tmp_path, "penalties.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))
    f = read_delivery_file(path, tpl["S"], "penalties")
    assert f.header == ["记录编号", "统一社会信用代码", "主体名称", "主要违法事实", "罚款金额"]
    assert [r.row_number for r in f.rows] == [1, 2]
    assert f.rows[0].values["主要违法事实"] == '第一行, 有逗号\r\n第二行 "引号"'
    assert f.rows[0].values["罚款金额"] == "5000.00"
    assert f.rows[1].values["统一社会信用代码"] is None
    assert f.rows[1].values["主要违法事实"] is None


def test_csv_no_bom_lf_no_trailing_newline(tmp_path, tpl):
    path = _write(tmp_path, "p.csv", (S_HEADER + "\nR1,X,名,事实,1\n\nR2,Y,名2,事实2,2").encode())
    f = read_delivery_file(path, tpl["S"], "penalties")
    assert [r.values["记录编号"] for r in f.rows] == ["R1", "R2"]
    assert f.rows[1].values["罚款金额"] == "2"


def test_csv_header_only_returns_no_rows(tmp_path, tpl):
    path = _write(tmp_path, "p.csv", (S_HEADER + "\r\n").encode())
    f = read_delivery_file(path, tpl["S"], "penalties")
    assert f.rows == [] and len(f.header) == 5
    with pytest.raises(FileRejected) as info:
        check_row_count(f, 3)
    assert info.value.reason_code == "header_only"
    check_row_count(f, 0)


def test_row_count_mismatch(tmp_path, tpl):
    path = _write(tmp_path, "p.csv", (S_HEADER + "\nR1,X,名,事实,1\n").encode())
    f = read_delivery_file(path, tpl["S"], "penalties")
    with pytest.raises(FileRejected) as info:
        check_row_count(f, 2)
    assert info.value.reason_code == "row_count_mismatch" and "1 data rows" in info.value.message


def test_csv_empty_file(tmp_path, tpl):
    _rejected(_write(tmp_path, "p.csv", b""), tpl["S"], "penalties", "empty_file")


def test_csv_truncated_inside_quotes(tmp_path, tpl):
    data = (S_HEADER + '\nR1,X,名,事实,1\nR2,Y,名2,"被截断的事实').encode()
    msg = _rejected(_write(tmp_path, "p.csv", data), tpl["S"], "penalties", "truncated")
    assert "data row 2" in msg


def test_csv_truncated_short_last_line(tmp_path, tpl):
    data = (S_HEADER + "\nR1,X,名,事实,1\nR2,Y,名").encode()
    msg = _rejected(_write(tmp_path, "p.csv", data), tpl["S"], "penalties", "truncated")
    assert "line 3" in msg and "3 of 5 fields" in msg


def test_csv_wrong_field_count_mid_file(tmp_path, tpl):
    data = (S_HEADER + "\nR1,X,名\nR2,Y,名2,事实,2\n").encode()
    msg = _rejected(_write(tmp_path, "p.csv", data), tpl["S"], "penalties", "malformed")
    assert "line 2" in msg and "3 fields" in msg


def test_csv_bad_encoding_names_offset(tmp_path, tpl):
    head = (S_HEADER + "\nR1,").encode()
    data = head + b"\xff\xfe," + "名,事实,1\n".encode()
    msg = _rejected(_write(tmp_path, "p.csv", data), tpl["S"], "penalties", "bad_encoding")
    assert f"byte offset {len(head)}" in msg and "line 2" in msg


# --------------------------------------------------------------------------- P: delimited

P_HEADER = "JLBH|TYSHXYDM|ZTMC|ZYWFSS|FKJE|CFZL"


def test_delimited_gb18030_crlf_null(tmp_path, tpl):
    text = (
        P_HEADER
        + "\r\nR1|91310112MA1GB1234X|上海闵行某某公司|事实 有空格｜全角竖线|0.5|警告,罚款"
        + "\r\nR2|NULL||NULL|NULL|\r\n"
    )
    path = _write(tmp_path, "penalties.txt", text.encode("gb18030"))
    f = read_delivery_file(path, tpl["P"], "penalties")
    assert f.header == ["JLBH", "TYSHXYDM", "ZTMC", "ZYWFSS", "FKJE", "CFZL"]
    r1, r2 = f.rows
    assert r1.values["ZTMC"] == "上海闵行某某公司"
    assert r1.values["ZYWFSS"] == "事实 有空格｜全角竖线"
    assert r1.values["CFZL"] == "警告,罚款"
    assert all(v is None for k, v in r2.values.items() if k != "JLBH")


def test_delimited_lf_and_no_final_newline(tmp_path, tpl):
    text = P_HEADER + "\nR1|X|名|事|1|警告\nR2|Y|名|事|2|警告"
    f = read_delivery_file(_write(tmp_path, "p.txt", text.encode("gb18030")), tpl["P"], "penalties")
    assert [r.values["FKJE"] for r in f.rows] == ["1", "2"]


def test_delimited_truncated_last_line(tmp_path, tpl):
    text = P_HEADER + "\r\nR1|X|名|事|1|警告\r\nR2|Y|名"
    msg = _rejected(_write(tmp_path, "p.txt", text.encode("gb18030")), tpl["P"], "penalties", "truncated")
    assert "line 3" in msg


def test_delimited_cut_inside_multibyte_char(tmp_path, tpl):
    data = (P_HEADER + "\r\nR1|X|名|事|1|警告\r\nR2|Y|").encode("gb18030") + "上".encode("gb18030")[:1]
    _rejected(_write(tmp_path, "p.txt", data), tpl["P"], "penalties", "truncated")


def test_delimited_extra_pipe_mid_file(tmp_path, tpl):
    text = P_HEADER + "\r\nR1|X|名|事|实|1|警告\r\nR2|Y|名|事|2|警告\r\n"
    msg = _rejected(_write(tmp_path, "p.txt", text.encode("gb18030")), tpl["P"], "penalties", "malformed")
    assert "line 2" in msg and "7 fields" in msg


def test_delimited_bad_bytes(tmp_path, tpl):
    head = (P_HEADER + "\r\nR1|").encode("gb18030")
    data = head + b"\xff\x20|" + "名|事|1|警告\r\n".encode("gb18030")
    msg = _rejected(_write(tmp_path, "p.txt", data), tpl["P"], "penalties", "bad_encoding")
    assert f"byte offset {len(head)}" in msg and "gb18030" in msg


def test_delimited_header_only_and_empty(tmp_path, tpl):
    f = read_delivery_file(_write(tmp_path, "p.txt", (P_HEADER + "\r\n").encode()), tpl["P"], "penalties")
    assert f.rows == []
    _rejected(_write(tmp_path, "e.txt", b""), tpl["P"], "penalties", "empty_file")


# --------------------------------------------------------------------------- J: jsonl


def test_jsonl_nested_absent_null_arrays(tmp_path, tpl):
    lines = [
        {
            "recordId": "JA-1",
            "entity": {"uscc": "91310106MA1FL0XX1X", "name": "上海某某"},
            "penaltyKinds": ["警告", "罚款"],
            "fineAmount": "5,000.00",
            "itemsChecked": 17,
            "flag": True,
        },
        {
            "recordId": "JA-2",
            "entity": {"uscc": None, "name": "二号"},
            "fineAmount": None,
            "newKey": "x",
            "decisionDate": "",
        },
    ]
    text = "\n".join(json.dumps(o, ensure_ascii=False) for o in lines) + "\n"
    f = read_delivery_file(_write(tmp_path, "penalties.jsonl", text.encode()), tpl["J"], "penalties")
    assert f.header == [
        "recordId",
        "entity.uscc",
        "entity.name",
        "penaltyKinds",
        "fineAmount",
        "itemsChecked",
        "flag",
        "newKey",
        "decisionDate",
    ]
    r1, r2 = f.rows
    assert json.loads(r1.values["penaltyKinds"]) == ["警告", "罚款"]
    assert r1.values["fineAmount"] == "5,000.00"
    assert r1.values["itemsChecked"] == "17" and r1.values["flag"] == "true"
    assert r2.values["entity.uscc"] is None and r2.values["fineAmount"] is None
    assert "penaltyKinds" not in r2.values  # absent key -> .get() gives None
    assert r2.values["decisionDate"] is None  # "" is a null value of J


def test_jsonl_keeps_number_text(tmp_path, tpl):
    f = read_delivery_file(_write(tmp_path, "p.jsonl", b'{"fineAmount": 5000.50}'), tpl["J"], "penalties")
    assert f.rows[0].values["fineAmount"] == "5000.50"


def test_jsonl_bad_line_mid_file(tmp_path, tpl):
    data = b'{"recordId":"A"}\n{"recordId":"B",}\n{"recordId":"C"}\n'
    msg = _rejected(_write(tmp_path, "p.jsonl", data), tpl["J"], "penalties", "malformed")
    assert "line 2" in msg


def test_jsonl_truncated_last_line(tmp_path, tpl):
    data = b'{"recordId":"A"}\n{"recordId":"B","entity":{"uscc":"9131'
    msg = _rejected(_write(tmp_path, "p.jsonl", data), tpl["J"], "penalties", "truncated")
    assert "line 2" in msg


def test_jsonl_not_an_object(tmp_path, tpl):
    _rejected(
        _write(tmp_path, "p.jsonl", b'{"recordId":"A"}\n["B"]\n{"recordId":"C"}\n'),
        tpl["J"],
        "penalties",
        "malformed",
    )


def test_jsonl_crlf_bom_and_u2028(tmp_path, tpl):
    data = '\ufeff{"recordId":"A","facts":"一\u2028二"}\r\n{"recordId":"B"}\r\n'.encode()
    f = read_delivery_file(_write(tmp_path, "p.jsonl", data), tpl["J"], "penalties")
    assert [r.values["recordId"] for r in f.rows] == ["A", "B"]
    assert f.rows[0].values["facts"] == "一\u2028二"


# --------------------------------------------------------------------------- X: xlsx

X_HEADER = ["记录编号", "统一社会信用代码", "主体名称", "处罚决定日期", "罚款金额", "更新时间"]


def _xlsx(tmp_path: Path, rows: list[list], sheet: str = "行政处罚", title: bool = True) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append(["金山区行政处罚信息导出 2017-04-14"])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(X_HEADER))
    ws.append(X_HEADER)
    for r in rows:
        ws.append(r)
    path = tmp_path / "penalties.xlsx"
    wb.save(path)
    return path


def test_xlsx_title_dates_numbers(tmp_path, tpl):
    path = _xlsx(
        tmp_path,
        [
            [
                "JS-1",
                "91310116MA1JK0001X",
                "上海金山某某",
                dt.datetime(2017, 4, 11),
                "5000元",
                dt.datetime(2017, 4, 14, 9, 30, 0),
            ],
            ["JS-2", 9.13101166e17, "二号", "2017年4月9日", 5000, None],
            ["JS-3", 913101161234567890, "三号", dt.date(2017, 4, 8), 1234.5, "2017-04-14 10:00:00"],
            [None, None, None, None, None, None],
        ],
    )
    f = read_delivery_file(path, tpl["X"], "penalties")
    assert f.header == X_HEADER
    assert len(f.rows) == 3
    r1, r2, r3 = (r.values for r in f.rows)
    assert r1["处罚决定日期"] == "2017-04-11" and r1["罚款金额"] == "5000元"
    assert r1["更新时间"] == "2017-04-14 09:30:00"
    assert r2["统一社会信用代码"] == "9.13101E+17"  # information lost, visibly
    assert r3["统一社会信用代码"] == "9.13101E+17"
    assert r2["处罚决定日期"] == "2017年4月9日" and r2["罚款金额"] == "5000" and r2["更新时间"] is None
    assert r3["罚款金额"] == "1234.5" and r3["处罚决定日期"] == "2017-04-08"


def test_xlsx_without_title_row_finds_header(tmp_path, tpl):
    f = read_delivery_file(
        _xlsx(tmp_path, [["JS-1", "X", "名", None, None, None]], title=False), tpl["X"], "penalties"
    )
    assert f.header == X_HEADER and f.rows[0].values["记录编号"] == "JS-1"


def test_xlsx_header_only(tmp_path, tpl):
    assert read_delivery_file(_xlsx(tmp_path, []), tpl["X"], "penalties").rows == []


def test_xlsx_missing_sheet(tmp_path, tpl):
    msg = _rejected(_xlsx(tmp_path, [], sheet="Sheet1"), tpl["X"], "penalties", "malformed")
    assert "行政处罚" in msg and "Sheet1" in msg


def test_xlsx_value_without_header(tmp_path, tpl):
    msg = _rejected(
        _xlsx(tmp_path, [["JS-1", "X", "名", None, None, None, "多余"]]), tpl["X"], "penalties", "malformed"
    )
    assert "row 3" in msg and "column G" in msg


def test_xlsx_not_a_workbook_and_truncated(tmp_path, tpl):
    _rejected(_write(tmp_path, "a.xlsx", b"not a zip at all"), tpl["X"], "penalties", "malformed")
    good = _xlsx(tmp_path, [["JS-1", "X", "名", None, None, None]]).read_bytes()
    _rejected(_write(tmp_path, "b.xlsx", good[: len(good) // 2]), tpl["X"], "penalties", "truncated")
    _rejected(_write(tmp_path, "c.xlsx", b""), tpl["X"], "penalties", "empty_file")


@pytest.mark.parametrize(
    "value,text",
    [
        (None, None),
        (5000, "5000"),
        (5000.0, "5000"),
        (0.5, "0.5"),
        (99999999999, "99999999999"),
        (913101061234567890, "9.13101E+17"),
        (310106000123456, "3.10106E+14"),
        (True, "TRUE"),
        (dt.datetime(2017, 4, 14), "2017-04-14"),
        (dt.datetime(2017, 4, 14, 9, 5, 7), "2017-04-14 09:05:07"),
    ],
)
def test_cell_text(value, text):
    assert cell_text(value) == text
