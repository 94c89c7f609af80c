"""The commands over the serving layer: the marts (dbt build, lint), the
report, one entity's profile, and the GX suites derived from schemas/."""

from __future__ import annotations

from pathlib import Path

from lakehouse.cli.base import UserError, command
from lakehouse.config import settings


def cmd_marts(args) -> None:
    from lakehouse.serving.marts import DBT_PROJECT_DIR, run_dbt

    warnings = run_dbt(["build"] + (["--select", args.select] if args.select else []))
    for w in warnings:
        print("dbt warning:", w)
    print(f"[marts] built; {len(warnings)} dbt warnings (full log: {DBT_PROJECT_DIR / 'logs' / 'dbt.log'})")
    if args.docs:
        run_dbt(["docs", "generate", "--static"])
        print(f"dbt docs (open from disk): {DBT_PROJECT_DIR / 'target' / 'static_index.html'}")


def cmd_lint_sql(args) -> None:
    from lakehouse.serving.marts import lint_sql

    if lint_sql(fix=args.fix):
        raise UserError("sqlfluff found problems in dbt_project/ (listed above); `lakehouse lint-sql --fix` "
                        "fixes the layout ones, the rules are in dbt_project/.sqlfluff")


def cmd_report(args) -> None:
    from lakehouse.serving.report import build_report

    print(f"supervision report: {build_report(Path(args.out) if args.out else None)}")


def cmd_entity(args) -> None:
    from lakehouse.serving.entity import EntityNotFound, find_entity, format_profile

    try:
        print(format_profile(find_entity(" ".join(args.query))))
    except EntityNotFound as exc:
        raise UserError(str(exc)) from None


def cmd_suites(args) -> None:
    from lakehouse.catalog import load_catalog
    from lakehouse.ingest.quality.suites import write_suites

    for path in write_suites(load_catalog(settings().schemas_dir)):
        print("wrote", path)


def add(sub) -> None:
    marts = command(sub, "marts", "dbt build of the marts",
                     "Run `dbt build` on dbt_project/ (staging -> intermediate -> marts, with the tests) and "
                     "print the tests that warned.", cmd_marts)
    marts.add_argument("--select", help="dbt node selection, e.g. +fct_credit_risk (default: everything)")
    marts.add_argument("--docs", action="store_true",
                       help="also write the dbt docs as one page that opens from disk "
                            "(dbt_project/target/static_index.html) and print its path")

    lint = command(sub, "lint-sql", "sqlfluff over the dbt project (part of `make lint` and `make test`)",
                    "Lint every model and test of dbt_project/ with sqlfluff's dbt templater (rules: "
                    "dbt_project/.sqlfluff). Needs the project's PostgreSQL running (`make setup`): the "
                    "templater connects as the transformer. Exits non-zero on any finding.", cmd_lint_sql)
    lint.add_argument("--fix", action="store_true", help="rewrite the SQL to fix what sqlfluff can (review the diff)")

    report = command(sub, "report", "write the supervision report (one HTML page of charts)",
                      "Draw the supervision report from the marts: collection quality, credit classes by "
                      "district and changes since the previous build, cross-district supervision, the 双告知 "
                      "funnel, 双随机 plans, joint inspections and risk-keyword warnings. One self-contained "
                      "HTML file (plotly embedded, no network needed); prints its path.", cmd_report)
    report.add_argument("--out", help="folder to write index.html into (default: LAKEHOUSE_REPORT_DIR, "
                                      "i.e. LAKEHOUSE_HOME/report)")

    entity = command(sub, "entity", "主体查询: one entity's cross-district profile",
                      "Print one entity's profile from the marts: registry facts, records each district holds "
                      "per feed, list status, and its credit class with the rules and evidence ids behind it.",
                      cmd_entity)
    entity.add_argument("query", nargs="+",
                        help="USCC (18 characters), old registration number (15 digits) or name (current or "
                             "former; a part of a name lists the matches)")

    command(sub, "suites", "re-derive expectations/*.json from schemas/",
             "Write the Great Expectations suites (expectations/*.json) from the table descriptions in "
             "schemas/; run after editing schemas/.", cmd_suites)
