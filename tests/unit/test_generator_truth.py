"""The answer file's entity resolution follows schemas/rules.yaml (hand-made cases)."""

from __future__ import annotations

import random

from lakehouse.generator.faults import ExcelNumber
from lakehouse.generator.truth import RegistryView
from lakehouse.generator.world import make_uscc, wrong_check

A = make_uscc("91", "310000", "MA1ABCDE")
B = make_uscc("92", "310106", "12345678")
C = make_uscc("92", "310000", "87654321")
ODD = wrong_check(make_uscc("91", "310000", "MA1XYW12"), random.Random(1))


def view() -> RegistryView:
    v = RegistryView({"310101": "huangpu", "310106": "jingan", "310115": "pudong"}, {"310108": "310106"})
    v.upsert(
        {
            "uscc": A,
            "reg_no": "310000000000018",
            "name": "上海甲（集团）有限公司",
            "former_names": ["上海乙有限公司"],
            "registered_district": "310115",
        }
    )
    v.upsert(
        {"uscc": B, "reg_no": None, "name": "老王面馆", "former_names": [], "registered_district": "310108"}
    )
    v.upsert(
        {"uscc": C, "reg_no": None, "name": "老王面馆", "former_names": [], "registered_district": "310101"}
    )
    v.upsert(
        {
            "uscc": ODD,
            "reg_no": None,
            "name": "上海丙有限公司",
            "former_names": [],
            "registered_district": "310101",
        }
    )
    return v


def test_resolution_order():
    v = view()
    assert v.resolve(f"\u3000{A.lower()} ", "上海甲(集团)有限公司 ", "310115") == (A, "uscc", "310115", [])
    assert v.resolve(A, "上海乙有限公司", "310101") == (A, "uscc", "310115", ["name_differs"])
    assert v.resolve(ODD, "上海丙有限公司", "310101") == (ODD, "uscc", "310101", ["uscc_check_exception"])
    fresh = make_uscc("91", "310000", "MB123456")
    assert v.resolve(fresh, "whatever", "310101") == (fresh, "uscc", None, ["entity_not_in_registry"])
    assert v.resolve("310000000000018", "上海甲（集团）有限公司", "310101")[:2] == (A, "reg_no")
    assert v.resolve(A[:17], "上海乙有限公司", "310101") == (A, "name", "310115", ["name_differs"])
    # two entities share the name: the one registered in the holding district (legacy code mapped)
    assert v.resolve(B[:17] + "0", "老王面馆", "310106")[:2] == (B, "name")
    assert v.resolve(B[:17] + "0", "老王面馆", "310101")[:2] == (C, "name")
    assert v.resolve(B[:17] + "0", "老王面馆", "310115")[1] == "unresolved"
    num = ExcelNumber(9.13101e17)
    num.shown = "9.13101E+17"
    assert v.resolve(num, "上海丙", "310101")[1] == "unresolved"
