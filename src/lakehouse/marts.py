"""Run the dbt project (dbt_project/: staging -> intermediate -> marts) in-process.

dbt connects as lakehouse_transformer (PGHOST, PGPORT, PGDATABASE, and the
role's user and password put into LAKEHOUSE_DBT_USER / LAKEHOUSE_DBT_PASSWORD
by _transformer_env; see dbt_project/profiles.yml).
No dbt packages are used, so `dbt deps` is never needed.
Before every dbt command the districts seed is written from the catalog
(write_districts_seed): the districts follow from schemas/sources/, so the
seed is generated, never kept by hand.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.config import REPO_ROOT

if TYPE_CHECKING:
    from lakehouse.catalog import Catalog

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


class DbtError(RuntimeError):
    """A dbt command failed (a model, a test or dbt itself)."""


DISTRICTS_SEED_COLUMNS = ("district_code", "source_code", "district_name", "legacy_codes", "is_city")


def districts_seed_csv(catalog: Catalog | None = None) -> str:
    """The districts seed (seeds/_seeds.yml): one row per division of the catalog's
    registry, with the abolished codes merged into it (`;`-separated), and
    which of them is the city itself (is_city: what its records are held by)."""
    from lakehouse.catalog import load_catalog

    catalog = catalog if catalog is not None else load_catalog()
    merged: dict[str, list[str]] = {}
    for old, new in sorted(catalog.legacy_districts.items()):
        merged.setdefault(new, []).append(old)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DISTRICTS_SEED_COLUMNS)
    for code, district in catalog.districts.items():
        writer.writerow([code, district.code, district.name, ";".join(merged.get(code, [])),
                         str(code == catalog.city_code).lower()])
    return out.getvalue()


def write_districts_seed(project_dir: Path | None = None, catalog: Catalog | None = None) -> Path:
    """Write seeds/districts.csv of the dbt project from the catalog (only when it changed;
    through a temporary file, so a dbt run beside this one never reads half a file)."""
    path = Path(project_dir or DBT_PROJECT_DIR) / "seeds" / "districts.csv"
    text = districts_seed_csv(catalog)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path


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
    write_districts_seed()          # the templater parses the project, seeds included
    sqlfluff = str(Path(sys.executable).with_name("sqlfluff"))
    return subprocess.run([sqlfluff, "fix" if fix else "lint", "."], cwd=DBT_PROJECT_DIR).returncode


def _invoke(args: list[str], vars: dict | None = None, project_dir: Path | None = None):
    from dbt.cli.main import dbtRunner

    _transformer_env()
    from lakehouse import logs

    project_dir = Path(project_dir or DBT_PROJECT_DIR)
    write_districts_seed(project_dir)
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
