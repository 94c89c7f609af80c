"""dbt docs open on the project's overview page (models/overview.md), and it
keeps up with the marts: a new mart must say there what it is for."""

from __future__ import annotations

import re

from lakehouse.config import REPO_ROOT

PROJECT = REPO_ROOT / "dbt_project"


def _overview() -> str:
    blocks = {}
    for path in (PROJECT / "models").rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        for name, body in re.findall(r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", text, re.S):
            blocks.setdefault(name, []).append(body)
    assert len(blocks.get("__overview__", [])) == 1, "exactly one {% docs __overview__ %} block under models/"
    return blocks["__overview__"][0]


def test_the_overview_names_every_mart():
    overview = _overview()
    marts = sorted(p.stem for p in (PROJECT / "models" / "marts").glob("*.sql"))
    assert marts
    missing = [m for m in marts if f"`{m}`" not in overview]
    assert not missing, f"dbt_project/models/overview.md does not explain {missing}"


def test_the_overview_says_who_reads_what_and_the_personal_data_policy():
    overview = _overview()
    for words in ("lakehouse_analyst", "lakehouse_dashboard", "lakehouse_privacy_officer", "## Personal data",
                  "lake.ingest_runs", "not delivered"):
        assert words in overview, words
