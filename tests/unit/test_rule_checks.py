"""A row rule is a row of schemas/rules.yaml plus the one check that
evaluates it (README, Adding things). Read from the ingest code itself: every
rule id a check raises, flags or adds is defined in rules.yaml, and every
rule rules.yaml defines has a check, so neither can be added without the
other."""

from __future__ import annotations

import ast
from pathlib import Path

from lakehouse.catalog import load_catalog

INGEST = Path(__file__).resolve().parents[2] / "src" / "lakehouse" / "ingest"
RULE_CALLS = {"RuleBreak", "Broken", "add_rule", "add_flag"}   # their first string argument is a rule id


def _flags_target(node: ast.AST) -> bool:
    """`flags.append(...)`, `x.flags.append(...)` or `row["flags"].append(...)`."""
    if isinstance(node, ast.Name):
        return node.id == "flags"
    if isinstance(node, ast.Attribute):
        return node.attr == "flags"
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "flags"


def rule_ids_evaluated() -> dict[str, set[str]]:
    """rule id -> the ingest modules that raise, flag or add it."""
    found: dict[str, set[str]] = {}
    for path in INGEST.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in RULE_CALLS:
                args = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                ids = args[:1]
            elif name == "append" and isinstance(func, ast.Attribute) and _flags_target(func.value):
                ids = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            else:
                continue
            for arg in ids:
                found.setdefault(arg.value, set()).add(path.relative_to(INGEST).as_posix())
    return found


def test_the_scan_finds_the_checks():
    found = rule_ids_evaluated()
    assert "normalise/converters.py" in found["amount_invalid"]
    assert "resolve.py" in found["uscc_unresolved"]
    assert "normalise/row.py" in found["late"]


def test_every_rule_the_code_evaluates_is_defined():
    defined = set(load_catalog().rules)
    assert sorted(set(rule_ids_evaluated()) - defined) == []


def test_every_defined_rule_has_its_check():
    evaluated = set(rule_ids_evaluated())
    assert sorted(set(load_catalog().rules) - evaluated) == []
