"""Every command the README and docs/ show, run as written, so the docs cannot drift.

A fenced shell or SQL block is preceded by one marker line:
  <!-- run -->                 run verbatim, in document order, after
                               `source .venv/bin/activate`, on the demo's state;
                               it must exit 0 (`expect="..."`: and print that)
  <!-- not-run: reason -->     shown only (e.g. `make test` itself, a benchmark,
                               a Docker stack), with the reason
A block with neither fails test_every_block_is_marked. SQL blocks run through
psql as the analyst, with ON_ERROR_STOP.

The demo's state is the test's own: `lakehouse db start` and `lakehouse demo`
(what `make demo` runs after set-up) into $LAKEHOUSE_HOME/docs-demo/ and the
database lakehouse_docs_demo, so the other e2e tests' lakes and databases and
a developer's own demo are left alone. LAKEHOUSE_DOCS_REUSE_DEMO=1 reuses the
state a finished earlier run left (for iterating on the docs); CI always runs
the demo afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.demo_state import bash as _bash
from helpers.demo_state import demo_state

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND_LANGS = {"bash", "sh", "shell", "console", "sql", ""}   # "": a block must say what it is
MARK = re.compile(r'^<!--\s*(run|not-run)\b\s*(?::\s*(.*?))?\s*(?:expect="([^"]*)")?\s*-->$')
PSQL = 'psql "$(lakehouse db credentials analyst)" -X -q -v ON_ERROR_STOP=1 -f -'


@dataclass(frozen=True)
class Block:
    doc: str           # README.md, docs/operations.md, ...
    line: int          # of the opening fence
    lang: str
    code: str
    mark: str | None   # "run", "not-run" or None
    reason: str
    expect: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def read_blocks(path: Path) -> list[Block]:
    """The fenced blocks of one markdown file, each with the marker on the line before it."""
    lines, out, i = path.read_text(encoding="utf-8").splitlines(), [], 0
    while i < len(lines):
        if not lines[i].startswith("```"):
            i += 1
            continue
        start, lang = i, lines[i][3:].strip().split(" ")[0]
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        prev = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        m = MARK.match(prev)
        out.append(Block(str(path.relative_to(REPO)), start + 1, lang, "\n".join(lines[start + 1:end]) + "\n",
                         m.group(1) if m else None, (m.group(2) or "").strip() if m else "",
                         m.group(3) or "" if m else ""))
        i = end + 1
    return out


ALL_BLOCKS = [b for doc in DOCS for b in read_blocks(doc)]
RUN_BLOCKS = [b for b in ALL_BLOCKS if b.mark == "run"]


def test_every_block_is_marked():
    """Nothing silently drifts: each command block is run, or says why not."""
    problems = []
    for b in ALL_BLOCKS:
        if b.lang not in COMMAND_LANGS:
            continue
        if b.lang == "":
            problems.append(f"{b.id}: a block without a language (use ```bash, ```sql or ```text)")
        elif b.mark is None:
            problems.append(f"{b.id}: no <!-- run --> or <!-- not-run: reason --> line before this {b.lang} block")
        elif b.mark == "not-run" and len(b.reason) < 10:
            problems.append(f"{b.id}: <!-- not-run: ... --> needs a reason")
    assert not problems, "\n".join(problems)
    assert len(RUN_BLOCKS) >= 10, [b.id for b in RUN_BLOCKS]


def test_links_between_the_docs_resolve():
    problems = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            if "://" not in target and not (doc.parent / target).exists():
                problems.append(f"{doc.relative_to(REPO)}: link to {target}, which does not exist")
    assert not problems, "\n".join(problems)


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    assert "source .venv/bin/activate" in readme and "make demo" in readme and "make test" in readme


@pytest.fixture(scope="module")
def demo_env():
    yield from demo_state()


def test_the_demo_ran_on_the_warm_engine_and_leaves_it_up(demo_env, spark):
    """Before the blocks (one of them stops the engine): the demo's DAGs were
    clients of the warm engine it started, which stays up for the commands."""
    log = (Path(demo_env["LAKEHOUSE_LAKE"]).parent / "demo.log").read_text(encoding="utf-8")
    assert "the warm engine, Spark Connect server on 127.0.0.1:" in log, log[:3000]
    assert "spark-connect: running" in _bash("lakehouse connect status", demo_env, timeout=120).stdout
    batches = spark.read.format("delta").load(demo_env["LAKEHOUSE_LAKE"] + "/ops/ingest_batches").collect()
    assert batches and all(b["engine_session"] for b in batches)


@pytest.mark.parametrize("block", RUN_BLOCKS, ids=[b.id for b in RUN_BLOCKS])
def test_docs_command(block: Block, demo_env):
    if block.lang == "sql":
        res = _bash(PSQL, demo_env, timeout=600, stdin=block.code)
    else:
        res = _bash(block.code, demo_env, timeout=1800)
    shown = f"{block.id} exited {res.returncode}:\n{block.code}\n--- output ---\n{res.stdout[-6000:]}"
    assert res.returncode == 0, shown
    assert "Traceback (most recent call last)" not in res.stdout, shown
    if block.expect:
        assert block.expect in res.stdout, f"expected {block.expect!r} in the output of {shown}"
