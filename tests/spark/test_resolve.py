"""resolve.resolve_entities on the real Spark: each way a record finds its
registry entity (USCC, old registration number, unique name, the only name
in the holding district), the flags it earns and the rules it breaks when
it finds none, the same for a day's small batch (broadcast) and a backfill."""

from __future__ import annotations

import pytest

from lakehouse.catalog import load_catalog
from lakehouse.ingest.resolve import RegistryIndex, resolve_entities

RULES = load_catalog().rules

REGISTRY = [  # uscc, reg_no, registered district, name keys (current first)
    ("91310000AAAAAAAAA1", "310101000000011", "310101", ["甲公司"]),
    ("91310000BBBBBBBBB2", None, "310104", ["乙公司", "乙旧名"]),
    ("91310000CCCCCCCCC3", None, "310105", ["同名店"]),
    ("91310000DDDDDDDDD4", None, "310106", ["同名店"]),
    ("91310000EEEEEEEEE5", None, "310107", ["两区店"]),
    ("91310000FFFFFFFFF6", None, "310109", ["两区店"]),
]
BATCH_COLUMNS = ("_row_id bigint, uscc_as_sent string, _uscc_norm string, _uscc_check_ok boolean, _reg_no string, "
                 "_name_key string, _holding_district string, flags array<string>, _rules array<string>, "
                 "_reasons array<string>")
BATCH = [  # row id, as sent, normalised, check ok, reg no, name key, holding district
    (1, "91310000AAAAAAAAA1", "91310000AAAAAAAAA1", True, None, "甲公司", "310101"),    # by USCC
    (2, "91310000BBBBBBBBB2", "91310000BBBBBBBBB2", False, None, "乙旧名", "310104"),   # registry's own odd code
    (3, "310101000000011", "", False, "310101000000011", "甲公司", "310101"),          # by registration number
    (4, "", "", False, None, "乙公司", "310104"),                                     # the only such name
    (5, "", "", False, None, "同名店", "310106"),                                     # the only one in its district
    (6, "", "", False, None, "两区店", "310115"),                                     # two, neither in 310115
    (7, "91310000ZZZZZZZZZ9", "91310000ZZZZZZZZZ9", True, None, "新公司", "310101"),    # well formed, not held
    (8, "", "", False, None, None, "310101"),                                        # nothing sent
]


@pytest.mark.parametrize("small_batch", [True, False])
def test_each_way_to_the_registry_and_what_finding_none_means(spark, small_batch):
    registry = spark.createDataFrame(REGISTRY, "uscc string, reg_no string, registered_district string, "
                                               "name_keys array<string>")
    batch = spark.createDataFrame([(*r, [], [], []) for r in BATCH], BATCH_COLUMNS)
    index = RegistryIndex(spark, registry)
    try:
        got = {r["_row_id"]: r for r in resolve_entities(batch, index, RULES, small_batch=small_batch).collect()}
    finally:
        index.unpersist()

    def outcome(i):
        r = got[i]
        return r["resolved_by"], r["uscc"], r["registered_district"], sorted(r["flags"]), sorted(r["_rules"])

    assert outcome(1) == ("uscc", "91310000AAAAAAAAA1", "310101", [], [])
    assert outcome(2) == ("uscc", "91310000BBBBBBBBB2", "310104", ["name_differs", "uscc_check_exception"], [])
    assert outcome(3) == ("reg_no", "91310000AAAAAAAAA1", "310101", [], [])
    assert outcome(4) == ("name", "91310000BBBBBBBBB2", "310104", [], [])
    assert outcome(5) == ("name", "91310000DDDDDDDDD4", "310106", [], [])
    assert outcome(6) == ("unresolved", None, None, [], ["uscc_unresolved"])
    assert outcome(7) == ("uscc", "91310000ZZZZZZZZZ9", None, ["entity_not_in_registry"], [])
    assert outcome(8) == ("unresolved", None, None, [], ["required_missing"])
    unresolved = RULES["uscc_unresolved"]
    assert got[6]["_reasons"] == [f"uscc_unresolved: uscc: '': {unresolved.reason}; {unresolved.fix}"]
    assert got[8]["_reasons"][0].startswith("required_missing: uscc, name: ")
    assert got[8]["_reasons"][0].endswith(RULES["required_missing"].fix)
