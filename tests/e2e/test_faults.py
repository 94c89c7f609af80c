"""Every fault of ../shared/feeds.md, on a hand-made delivery (contract_fixture),
ingested once through the real ingest_backfill DAG (Spark, Delta, GX): good
rows land with the right values, bad ones are quarantined with the right
rule, broken files are rejected with their reason, counts reconcile."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from helpers import contract_fixture as fx

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lakehouse(isolated_lakehouse_module, dagbag, read_delta):
    fx.build(isolated_lakehouse_module / "landing")
    run = dagbag.get_dag("ingest_backfill").test(run_conf={"start": fx.DAY1, "end": fx.DAY2})
    assert "success" in str(run.state).lower()

    def silver(table):
        return {r["record_id"] if "record_id" in r else r[0]: r.asDict(recursive=True)
                for r in read_delta("silver", table).collect()}

    quarantine = {}
    for r in read_delta("quarantine", "rows").collect():
        quarantine[(r["_source"], r["_row_number"], r["_file"])] = r
    runs = {r["_file"]: r.asDict(recursive=True) for r in read_delta("ops", "ingest_runs").collect()}
    return {"penalties": silver("penalties"), "licences": silver("licences"), "quarantine": quarantine,
            "runs": runs, "read_delta": read_delta}


def _quarantined(lh, record_id):
    return [q for q in lh["quarantine"].values() if f'"{record_id}"' in q["record_key"]]


def test_uscc_width_case_and_spaces_are_normalised(lakehouse):
    row = lakehouse["penalties"]["HP-1"]
    assert row["uscc"] == fx.E_A and row["resolved_by"] == "uscc"


def test_district_comes_from_the_registry_not_the_uscc(lakehouse):
    row = lakehouse["penalties"]["HP-1"]
    assert fx.E_A[2:8] == "310000"
    assert row["registered_district"] == "310104" and row["holding_district"] == "310101"


def test_wrong_check_character_resolved_by_exact_name(lakehouse):
    row = lakehouse["penalties"]["HP-2"]
    assert (row["uscc"], row["resolved_by"]) == (fx.E_A, "name")


def test_wrong_check_character_unresolvable_is_quarantined(lakehouse):
    assert "HP-6" not in lakehouse["penalties"]
    [q] = _quarantined(lakehouse, "HP-6")
    assert q["rule_ids"] == ["uscc_unresolved"]


def test_wrong_length_resolved_by_name_within_the_holding_district(lakehouse):
    row = lakehouse["penalties"]["HP-7"]
    assert (row["uscc"], row["resolved_by"], row["registered_district"]) == (fx.E_D, "name", "310101")


def test_code_issued_with_a_bad_check_is_accepted_and_flagged(lakehouse):
    for rid in ("HP-3", "JA-1"):
        row = lakehouse["penalties"][rid]
        assert row["uscc"] == fx.E_B_EXCEPTION and "uscc_check_exception" in row["flags"]
        assert row["registered_district"] == "310106"        # legacy 310108 (闸北) mapped


def test_fifteen_digit_registration_number_mapped_through_registry(lakehouse):
    row = lakehouse["penalties"]["HP-4"]
    assert (row["uscc"], row["resolved_by"]) == (fx.E_C, "reg_no")


def test_former_name_with_trailing_spaces_matches_and_is_kept_as_sent(lakehouse):
    row = lakehouse["penalties"]["HP-5"]
    assert (row["uscc"], row["resolved_by"]) == (fx.E_A, "name")
    assert "name_differs" in row["flags"]
    assert row["entity_name"].startswith("上海甲乙餐饮有限公司")


def test_impossible_dates_are_quarantined(lakehouse):
    for rid in ("HP-8", "HP-9", "HP-14"):          # 0000-00-00, before 1949, after the delivery day
        assert rid not in lakehouse["penalties"]
        [q] = _quarantined(lakehouse, rid)
        assert "date_impossible" in q["rule_ids"], rid


def test_negative_and_absurd_amounts_are_quarantined(lakehouse):
    for rid in ("HP-10", "HP-11"):
        [q] = _quarantined(lakehouse, rid)
        assert q["rule_ids"] == ["amount_invalid"], rid


def test_unknown_department_and_licence_type_are_flagged(lakehouse):
    assert "unknown_department" in lakehouse["penalties"]["HP-12"]["flags"]
    assert "unknown_department" not in lakehouse["penalties"]["HP-1"]["flags"]
    assert "unknown_licence_type" in lakehouse["licences"]["HP-L-1"]["flags"]
    assert "unknown_licence_type" not in lakehouse["licences"]["HP-L-2"]["flags"]


def test_late_record_is_flagged(lakehouse):
    assert "late" in lakehouse["penalties"]["HP-13"]["flags"]
    assert "late" not in lakehouse["penalties"]["HP-1"]["flags"]


def test_legacy_division_code_of_a_department_is_mapped(lakehouse):
    depts = {r["department_code"]: r for r in lakehouse["read_delta"]("silver", "departments").collect()}
    assert depts[fx.D_HP]["district_code"] == "310101" and "legacy_district" in depts[fx.D_HP]["flags"]


def test_resend_unchanged_is_a_duplicate_and_a_later_version_wins_with_history(lakehouse):
    day2 = lakehouse["runs"][f"huangpu/{fx.DAY2}/penalties.csv"]
    assert (day2["rows_in"], day2["rows_duplicate"], day2["rows_accepted"]) == (2, 1, 1)
    assert lakehouse["penalties"]["HP-3"]["status"] == "REVOKED"
    history = [r for r in lakehouse["read_delta"]("silver", "penalties_history").collect()
               if r["record_id"] == "HP-3"]
    assert sorted(r["status"] for r in history) == ["EFFECTIVE", "REVOKED"]


def test_unknown_new_column_is_kept_and_reported(lakehouse):
    assert lakehouse["penalties"]["HP-3"]["extra_columns"] == {"备注": "复议撤销"}
    assert lakehouse["runs"][f"huangpu/{fx.DAY2}/penalties.csv"]["unknown_columns"] == ["备注"]


def test_known_rename_is_applied_from_its_day(lakehouse):
    assert lakehouse["penalties"]["XH-1"]["fine_amount"] == Decimal("8000.00")


def test_standard_header_keeps_working_after_a_rename(lakehouse):
    row = lakehouse["penalties"]["XH-2"]
    assert row["fine_amount"] == Decimal("6000.00") and not row["extra_columns"]
    assert lakehouse["runs"][f"xuhui/{fx.DAY2}/penalties.csv"]["unknown_columns"] == []


def test_template_p_gb18030_pipes_and_ten_thousand_yuan(lakehouse):
    row = lakehouse["penalties"]["MH-1"]
    assert row["fine_amount"] == Decimal("5000.00") and row["confiscated_amount"] is None
    assert row["penalty_kinds"] == ["警告", "罚款"] and str(row["decision_date"]) == "2017-04-02"
    assert row["uscc"] == fx.E_E and row["registered_district"] == "310112"


def test_template_j_nested_keys_string_amounts_and_absent_keys(lakehouse):
    one, two = lakehouse["penalties"]["JA-1"], lakehouse["penalties"]["JA-2"]
    assert one["fine_amount"] == Decimal("5000.00") and one["status"] == "EXECUTED"
    assert one["department_code"] == fx.D_JA and one["penalty_kinds"] == ["警告", "罚款"]
    assert two["fine_amount"] is None and two["decision_no"] is None


def test_template_x_numeric_uscc_cell_text_dates_and_yuan_suffix(lakehouse):
    one, two = lakehouse["penalties"]["JS-1"], lakehouse["penalties"]["JS-2"]
    assert (one["uscc"], one["resolved_by"]) == (fx.E_A, "name")     # 9.13101E+17 is unrecoverable
    assert str(one["decision_date"]) == "2017-04-01" and one["fine_amount"] == Decimal("5000.00")
    assert str(two["decision_date"]) == "2017-04-02" and two["fine_amount"] == Decimal("1200.00")


@pytest.mark.parametrize("file, reason", [
    (f"putuo/{fx.DAY1}/penalties.csv", "truncated"),
    (f"hongkou/{fx.DAY1}/penalties.csv", "empty_file"),
    (f"hongkou/{fx.DAY1}/inspections.csv", "header_only"),
    (f"yangpu/{fx.DAY1}/penalties.csv", "bad_encoding"),
    (f"baoshan/{fx.DAY1}/penalties.csv", "row_count_mismatch"),
    (f"baoshan/{fx.DAY1}/licences.csv", "manifest_sha256_mismatch"),
    (f"jiading/{fx.DAY1}/penalties.csv", "missing_required_column"),
])
def test_broken_files_are_rejected_whole_with_their_reason(lakehouse, file, reason):
    run = lakehouse["runs"][file]
    assert run["status"] == "rejected" and run["reason"].startswith(reason), run["reason"]
    assert run["rows_accepted"] == 0
    feed = file.split("/")[-1].split(".")[0]
    from lakehouse.lake import delta
    if Path(delta.table_path("bronze", feed)).exists():     # nothing of it reaches bronze
        assert not [b for b in lakehouse["read_delta"]("bronze", feed).collect() if b["_file"] == file]


def test_one_broken_file_leaves_the_rest_of_its_folder_processed(lakehouse):
    assert lakehouse["runs"][f"putuo/{fx.DAY1}/licences.csv"]["status"] == "accepted"
    assert lakehouse["runs"][f"putuo/{fx.DAY1}/licences.csv"]["rows_accepted"] == 1


def test_folder_without_manifest_is_not_read(lakehouse):
    assert not [f for f in lakehouse["runs"] if f.startswith("changning/")]


def test_every_file_reconciles(lakehouse):
    for file, r in lakehouse["runs"].items():
        if r["status"] == "accepted":
            assert r["rows_in"] == r["rows_accepted"] + r["rows_duplicate"] + r["rows_quarantined"], file
    day1 = lakehouse["runs"][f"huangpu/{fx.DAY1}/penalties.csv"]
    assert (day1["rows_in"], day1["rows_accepted"], day1["rows_quarantined"]) == (14, 8, 6)


def test_addresses_are_parsed_beside_the_address_as_sent(lakehouse):
    parts = ("district", "road", "lane", "number", "building", "floor", "room")
    lic = lakehouse["licences"]["HP-L-2"]
    assert lic["address"] == "上海市卢湾区淮海中路３００号恒隆广场A座12层1201室"   # as sent
    assert [lic[f"address_{p}"] for p in parts] == ["310101", "淮海中路", None, "300", "A", "12", "1201"]
    assert "address_unparsed" not in lic["flags"]
    entities = {r["uscc"]: r.asDict() for r in lakehouse["read_delta"]("silver", "entities").collect()}
    assert [entities[fx.E_A][f"address_{p}"] for p in parts] == [
        "310104", "漕溪北路", None, "12", "2", None, "1501"]
    assert [entities[fx.E_B_EXCEPTION][f"address_{p}"] for p in parts] == [
        "310106", "共和新路", "100", None, "3", "5", None]   # legacy 闸北区 -> 静安区


def test_an_unparseable_address_is_flagged_not_dropped(lakehouse):
    lic = lakehouse["licences"]["HP-L-1"]
    assert lic["address"] == "黄浦区某路" and "address_unparsed" in lic["flags"]
    assert lic["address_road"] is None and lic["address_district"] is None
