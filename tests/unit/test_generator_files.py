"""The generator's files, read back with independent readers (csv, json, openpyxl)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from helpers.feed_reader import canonical, load_jsonl, load_yaml, read_rows, sha256

from lakehouse.generator import generate
from lakehouse.identifiers import is_valid_org_code, is_valid_regno, is_valid_uscc, normalise_identifier

TEMPLATES = {"S", "P", "J", "X"}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    base = tmp_path_factory.mktemp("gen")
    summary = generate(out=base / "landing", truth=base / "truth", preset="small", seed=7, progress=False)
    return base / "landing", base / "truth", summary


def _template(source: str) -> str:
    return load_yaml(f"sources/{source}.yaml")["template"]


def test_layout_and_manifests(small):
    landing, truth, _ = small
    files = {r["file"]: r for r in load_jsonl(truth / "files.jsonl")}
    not_ready = {
        r["file"] for r in files.values() if r["expected_status"] == "not_ready" and r["feed"] is None
    }
    assert not_ready, "the small preset has a folder still uploading"
    sources = sorted(p.name for p in landing.iterdir())
    assert len(sources) == 17
    templates_seen = set()
    for folder in sorted(landing.glob("*/*")):
        rel = f"{folder.parent.name}/{folder.name}"
        manifest_path = folder / "_MANIFEST.json"
        if not manifest_path.exists():
            assert rel in not_ready
            continue
        m = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert list(m) == ["source", "date", "template", "files"]
        assert m["source"] == folder.parent.name and m["date"] == folder.name
        assert m["template"] == _template(m["source"])
        templates_seen.add(m["template"])
        for entry in m["files"]:
            assert set(entry) == {"name", "feed", "rows", "sha256"}
            path = folder / entry["name"]
            rec = files[f"{rel}/{entry['name']}"]
            reason = rec["reject_reason"]
            if reason == "manifest_sha256_mismatch":
                assert sha256(path) != entry["sha256"]
                continue
            assert sha256(path) == entry["sha256"]
            try:
                _, rows = read_rows(path, m["template"])
                n = len(rows)
            except Exception:
                n = None
            if reason is None:
                assert n == entry["rows"] == rec["rows_written"], rel
                assert rec["expected_status"] == "accepted"
            elif reason == "manifest_rows_mismatch":
                assert n is not None and n != entry["rows"]
            elif reason == "empty_file":
                assert path.stat().st_size == 0 and entry["rows"] > 0
            elif reason == "header_only":
                assert n == 0 and entry["rows"] > 0
            elif reason in ("truncated", "bad_encoding"):
                assert n is None, f"{rel}/{entry['name']} should not parse"
            elif reason == "missing_required_column":
                assert n == entry["rows"]
    assert templates_seen == TEMPLATES


def test_every_fault_and_feed_present(small):
    landing, truth, summary = small
    faults = summary["fault_totals"]
    expected = {
        "uscc_fullwidth",
        "uscc_lowercase",
        "uscc_spaces",
        "uscc_ideographic_space",
        "uscc_bad_check",
        "uscc_wrong_length",
        "uscc_not_in_registry",
        "reg_no_instead",
        "x_numeric_uscc",
        "name_bracket_variant",
        "name_trailing_space",
        "name_former",
        "date_future",
        "date_before_1949",
        "date_zero",
        "date_unparseable",
        "amount_negative",
        "amount_absurd",
        "amount_unparseable",
        "unknown_department",
        "unknown_licence_type",
        "value_unknown",
        "required_missing",
        "late",
        "duplicate_resend",
        "correction_update",
        "uscc_check_exception",
        "legacy_district",
        "unknown_district",
        "truncated",
        "empty_file",
        "header_only",
        "bad_encoding",
        "manifest_rows_mismatch",
        "manifest_sha256_mismatch",
        "not_ready",
        "known_rename",
        "unknown_column",
        "reordered_columns",
        "missing_required_column",
        "bom",
    }
    missing = {f for f in expected if not faults.get(f)}
    assert not missing, missing
    rows = load_jsonl(truth / "rows.jsonl")
    rules = Counter(r for row in rows for r in row["rules"])
    flags = Counter(f for row in rows for f in row["flags"])
    from lakehouse.catalog import load_catalog

    catalog = load_catalog()      # every rule of schemas/rules.yaml occurs: a new rule needs its fault
    for rule in catalog.rule_ids("quarantine"):
        assert rules[rule] > 0, rule
    for flag in catalog.rule_ids("flag"):
        assert flags[flag] > 0, flag
    expected_kinds = Counter(r["expected"] for r in rows)
    assert {"accepted", "duplicate", "updated", "quarantined"} <= set(expected_kinds)
    resolved = Counter(r["resolved_by"] for r in rows)
    assert {"uscc", "reg_no", "name", "unresolved"} <= set(resolved)
    city_feeds = set(load_yaml("sources/city.yaml")["feeds"])
    assert city_feeds == {p.stem for p in landing.glob("city/*/*.csv")}


def test_rows_match_the_answer_file(small):
    """Every accepted file parses to the rows the truth lists, with the values of the silver rows."""
    landing, truth, _ = small
    files = [r for r in load_jsonl(truth / "files.jsonl") if r["expected_status"] == "accepted"]
    rows = {}
    for r in load_jsonl(truth / "rows.jsonl"):
        rows[(r["file"], r["row_number"])] = r
    silver = {}
    for table in ("licences", "inspections", "penalties"):
        for s in load_jsonl(truth / "silver" / f"{table}.jsonl"):
            silver[(table, s["source"], s["record_id"])] = s
    compared = Counter()
    for rec in files:
        template = _template(rec["source"])
        _, parsed = read_rows(landing / rec["file"], template)
        assert len(parsed) == rec["rows_written"]
        for n, raw in enumerate(parsed, 1):
            t = rows[(rec["file"], n)]
            if rec["feed"] not in ("licences", "inspections", "penalties"):
                continue
            c = canonical(template, rec["feed"], rec["source"], raw)
            assert (c.get("record_id") or None) == (t["key"]["record_id"] or None)
            s = silver.get((rec["feed"], rec["source"], t["key"]["record_id"]))
            if (
                t["expected"] in ("accepted", "updated")
                and s
                and s["status" if rec["feed"] != "inspections" else "result"]
                == c.get("status" if rec["feed"] != "inspections" else "result")
            ):
                event = "inspection_date" if rec["feed"] == "inspections" else "decision_date"
                assert c[event] == s[event]
                assert str(c["entity_name"]) == s["entity_name"]
                if rec["feed"] == "penalties":
                    assert c.get("fine_amount") == s["fine_amount"]
                    assert c.get("confiscated_amount") == s["confiscated_amount"]
                compared[template] += 1
    assert set(compared) == TEMPLATES


def test_identifiers_pass_their_checks(small):
    landing, truth, summary = small
    exceptions = set(summary["check_exception_usccs"])
    assert exceptions
    seen = 0
    for path in sorted(landing.glob("city/*/entities.csv")):
        _, rows = read_rows(path, "S")
        for r in rows:
            code = r["统一社会信用代码"]
            assert is_valid_uscc(code) == (code not in exceptions), code
            assert is_valid_org_code(code[8:17]), code
            if r["注册号"]:
                assert is_valid_regno(r["注册号"]), r["注册号"]
            seen += 1
    assert seen > 1000
    for path in sorted(landing.glob("city/*/departments.csv")):
        for r in read_rows(path, "S")[1]:
            assert r["部门代码"].startswith("11") and is_valid_uscc(r["部门代码"])
    faulty = {"uscc_bad_check", "uscc_wrong_length", "x_numeric_uscc", "reg_no_instead"}
    # the identifiers as sent, read from the files, against the faults the truth reports
    truth_rows = {(r["file"], r["row_number"]): r for r in load_jsonl(truth / "rows.jsonl")}
    for f in load_jsonl(truth / "files.jsonl"):
        if f["expected_status"] != "accepted" or f["feed"] in ("entities", "departments"):
            continue
        template = _template(f["source"])
        _, parsed = read_rows(landing / f["file"], template)
        for n, raw in enumerate(parsed, 1):
            t = truth_rows[(f["file"], n)]
            c = canonical(template, f["feed"], f["source"], raw)
            sent = c.get("uscc_as_sent")
            code = normalise_identifier(str(sent) if sent is not None else "")
            rec_faults = set(t["faults"])
            if "reg_no_instead" in rec_faults:
                assert is_valid_regno(code)
            elif rec_faults & faulty:
                assert not is_valid_uscc(code), (f["file"], n)
            elif t["resolved_by"] == "uscc" and code not in exceptions:
                assert is_valid_uscc(code), (f["file"], n, sent)


def test_truth_is_consistent(small):
    _, truth, _ = small
    per_file = Counter(r["file"] for r in load_jsonl(truth / "rows.jsonl"))
    for f in load_jsonl(truth / "files.jsonl"):
        if f["expected_status"] == "accepted":
            assert per_file[f["file"]] == f["rows_written"], f["file"]
        else:
            assert per_file[f["file"]] == 0
    for table in ("licences", "inspections", "penalties", "entities", "dual_notifications"):
        silver = load_jsonl(truth / "silver" / f"{table}.jsonl")
        assert silver
        for s in silver:
            assert s["flags"] == sorted(s["flags"])
            if table != "entities":
                assert s["resolved_by"] in ("uscc", "reg_no", "name")
    reject_reasons = {f["reject_reason"] for f in load_jsonl(truth / "files.jsonl")} - {None}
    assert reject_reasons == {
        "manifest_rows_mismatch",
        "manifest_sha256_mismatch",
        "empty_file",
        "header_only",
        "truncated",
        "bad_encoding",
        "missing_required_column",
    }


def _nfkc(s) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", str(s or "")) if not c.isspace())


def test_truth_agrees_with_an_independent_reading(small):
    """Row outcomes re-derived from the files alone (registry from entities.csv, rules from rules.yaml)."""
    from datetime import date

    landing, truth, _ = small
    rules_yaml = load_yaml("rules.yaml")
    known_types = set(rules_yaml["known_licence_types"])
    max_amount = rules_yaml["thresholds"]["max_amount_yuan"]
    legacy = {str(k): str(v) for k, v in load_yaml("reference.yaml")["legacy_districts"].items()}
    truth_rows = {(r["file"], r["row_number"]): r for r in load_jsonl(truth / "rows.jsonl")}
    files = [f for f in load_jsonl(truth / "files.jsonl") if f["expected_status"] == "accepted"]
    by_uscc, by_regno, by_name, departments = {}, {}, {}, set()
    checked = Counter()
    for f in sorted(files, key=lambda f: (f["date"], f["source"] != "city", f["feed"] != "entities")):
        template = _template(f["source"])
        _, parsed = read_rows(landing / f["file"], template)
        if f["feed"] == "entities":
            for r in parsed:
                code = r["统一社会信用代码"]
                by_uscc[code] = (_nfkc(r["主体名称"]), legacy.get(r["登记区县代码"], r["登记区县代码"]))
                if r["注册号"]:
                    by_regno[r["注册号"]] = code
                for n in [r["主体名称"]] + [x for x in r["曾用名"].split("；") if x]:
                    lst = by_name.setdefault(_nfkc(n), [])
                    if code not in lst:
                        lst.append(code)
            continue
        if f["feed"] == "departments":
            departments.update(r["部门代码"] for r in parsed)
            continue
        if f["feed"] not in ("licences", "inspections", "penalties"):
            continue
        holding = load_yaml(f"sources/{f['source']}.yaml")["division_code"]
        delivered = date.fromisoformat(f["date"])
        for n, raw in enumerate(parsed, 1):
            t = truth_rows[(f["file"], n)]
            c = canonical(template, f["feed"], f["source"], raw)
            sent = c.get("uscc_as_sent")
            code = normalise_identifier(str(sent) if sent is not None else "")
            if code and (is_valid_uscc(code) or code in by_uscc):
                resolved = ("uscc", code)
            elif code in by_regno:
                resolved = ("reg_no", by_regno[code])
            else:
                cands = by_name.get(_nfkc(c.get("entity_name")), []) if _nfkc(c.get("entity_name")) else []
                if len(cands) > 1:
                    cands = [x for x in cands if by_uscc[x][1] == holding]
                resolved = ("name", cands[0]) if len(cands) == 1 else ("unresolved", None)
            assert (t["resolved_by"], t["uscc"]) == resolved, (f["file"], n, sent)
            event = c.get("inspection_date" if f["feed"] == "inspections" else "decision_date")
            impossible = event == "INVALID" or (
                event is not None and not ("1949-01-01" <= event <= f["date"])
            )
            assert ("date_impossible" in t["rules"]) == impossible, (f["file"], n, event)
            if event not in (None, "INVALID") and not impossible:
                late = (delivered - date.fromisoformat(event)).days > 60
                assert ("late" in t["flags"]) == late
            if f["feed"] == "penalties":
                bad = any(
                    c.get(a) is not None and (c[a] == "INVALID" or not 0 <= float(c[a]) <= max_amount)
                    for a in ("fine_amount", "confiscated_amount")
                )
                assert ("amount_invalid" in t["rules"]) == bad, (f["file"], n)
            if f["feed"] == "licences":
                assert ("unknown_licence_type" in t["flags"]) == (c.get("licence_type") not in known_types)
            dept = c.get("department_code")
            assert ("unknown_department" in t["flags"]) == (dept is not None and dept not in departments)
            vocab_field = {"licences": ["status"], "penalties": ["status"], "inspections": ["kind", "result"]}
            canon = load_yaml(f"tables/{f['feed']}.yaml")["columns"]
            allowed = {col["name"]: set(col["values"]) for col in canon if col.get("values")}
            unknown = any(c.get(v) is not None and c[v] not in allowed[v] for v in vocab_field[f["feed"]])
            assert ("value_unknown" in t["rules"]) == unknown, (f["file"], n)
            checked[t["resolved_by"]] += 1
    assert set(checked) == {"uscc", "reg_no", "name", "unresolved"}
