"""Run the dbt project (dbt_project/: staging -> intermediate -> marts) in-process.

dbt connects as lakehouse_transformer (PGHOST, PGPORT, PGDATABASE, and the
role's user and password put into LAKEHOUSE_DBT_USER / LAKEHOUSE_DBT_PASSWORD
by _transformer_env; see dbt_project/profiles.yml).
No dbt packages are used, so `dbt deps` is never needed.
Before every dbt command the files that follow from schemas/ (the districts
seed, the lake sources' YAML) are written from the catalog (dbt_files.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.serving.dbt_files import DBT_PROJECT_DIR, write_generated

if TYPE_CHECKING:
    pass


class DbtError(RuntimeError):
    """A dbt command failed (a model, a test or dbt itself)."""


def _base_args(project_dir: Path) -> list[str]:
    return ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]


def _transformer_env() -> None:
    """dbt connects as the transformer role: profiles.yml reads these two
    variables, set here from the secrets file (or the environment), never on disk."""
    from lakehouse import credentials

    user, password = credentials.pg_credentials("transformer")
    # set for dbt (profiles.yml reads them), not read by the project
    os.environ["LAKEHOUSE_DBT_USER"] = user
    os.environ["LAKEHOUSE_DBT_PASSWORD"] = password or ""


def lint_sql(fix: bool = False) -> int:
    """sqlfluff over dbt_project/ with the dbt templater (dbt_project/.sqlfluff); returns
    its exit status (0 = clean). The templater compiles every model and reads the
    database's relations once, so it connects as the transformer, like a build. It runs
    inside dbt_project/ because sqlfluff takes the templater only from the .sqlfluff of
    the folder it starts in."""
    _transformer_env()
    write_generated()          # the templater parses the project, seeds and sources included
    sqlfluff = str(Path(sys.executable).with_name("sqlfluff"))
    return subprocess.run([sqlfluff, "fix" if fix else "lint", "."], cwd=DBT_PROJECT_DIR).returncode


def _invoke(args: list[str], vars: dict | None = None, project_dir: Path | None = None):
    from dbt.cli.main import dbtRunner

    _transformer_env()
    from lakehouse import logs

    project_dir = Path(project_dir or DBT_PROJECT_DIR)
    write_generated(project_dir)
    # dbt's per-node lines only when debugging; warnings are collected and summarised
    # instead (dbt_warnings), errors are always shown; logs/dbt.log keeps everything
    cli_args = ["--log-level", "info" if logs.verbose() else "error"] + list(args) + _base_args(project_dir)
    if vars:
        cli_args += ["--vars", json.dumps(vars, default=str)]
    return cli_args, dbtRunner().invoke(cli_args)


def _failures(result) -> list[str]:
    """Names and messages of the nodes that failed or errored."""
    out = []
    res = getattr(result, "result", None)
    for r in getattr(res, "results", None) or []:
        status = str(getattr(r, "status", "")).lower()
        if status in ("error", "fail", "runtime error", "runtimeerr"):
            node = getattr(r, "node", None)
            name = getattr(node, "unique_id", None) or getattr(r, "unique_id", "?")
            out.append(f"{name}: {status}: {(getattr(r, 'message', '') or '').strip()[:500]}")
    return out


def dbt_warnings(result) -> list[str]:
    """One line per node that ended in a warning (a test with severity warn that found rows)."""
    res = getattr(result, "result", None)
    out = []
    for r in getattr(res, "results", None) or []:
        if str(getattr(r.status, "value", r.status)).lower() == "warn":
            node = getattr(r, "node", None)
            name = getattr(node, "name", None) or getattr(r, "unique_id", "?")
            out.append(f"{name}: {(getattr(r, 'message', '') or '').strip()}")
    return out


def run_dbt(args: list[str], vars: dict | None = None, project_dir: Path | None = None) -> list[str]:
    """Run one dbt command, e.g. run_dbt(["build"], vars={"as_of": "2017-06-30"}).

    Returns the warnings (see dbt_warnings). Raises DbtError naming every failed
    model/test (or dbt's own exception)."""
    cli_args, result = _invoke(args, vars, project_dir)
    if result.success:
        return dbt_warnings(result)
    failed = _failures(result)
    detail = "\n  ".join(failed) if failed else repr(result.exception or "unknown error")
    raise DbtError(
        f"dbt {' '.join(cli_args)} failed:\n  {detail}\n"
        f"See {Path(project_dir or DBT_PROJECT_DIR) / 'logs' / 'dbt.log'} for the full log."
    )


def source_freshness(vars: dict | None = None, project_dir: Path | None = None) -> dict[str, str]:
    """`dbt source freshness`: {"lake.penalties": "pass" | "warn" | "error" | "runtime error"}.

    Does not raise on stale sources (that is what the statuses report); raises
    DbtError only when dbt itself could not run."""
    cli_args, result = _invoke(["source", "freshness"], vars, project_dir)
    res = getattr(result, "result", None)
    rows = getattr(res, "results", None)
    if rows is None:
        raise DbtError(f"dbt {' '.join(cli_args)} could not run: {result.exception!r}")
    statuses: dict[str, str] = {}
    for r in rows:
        node = r.node
        if not hasattr(node, "source_name"):      # the on-run-start hook (dbt_project.yml)
            continue
        status = getattr(r.status, "value", r.status)
        statuses[f"{node.source_name}.{node.name}"] = str(status)
    return statuses
