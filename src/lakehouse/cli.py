"""`lakehouse` command line: set-up, generate, ingest, publish, marts, report, entity, demo.

Each sub-command is a thin wrapper over a module function; errors a user can
fix (a missing binary, a taken port, a bad date) are printed as one clear
line, not a stack trace.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lakehouse.airflow_env import airflow_env, apply_airflow_env
from lakehouse.config import apply_file_mode, settings


class UserError(RuntimeError):
    """Something the user can fix; printed without a traceback."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


# --------------------------------------------------------------------------- db / airflow set-up

def cmd_db(args) -> None:
    from lakehouse import embedded_pg, warehouse

    if args.action == "start":
        print(embedded_pg.start())
        warehouse.bootstrap()
        print(f"analysts connect with: {warehouse.psql_line('analyst')}")
    elif args.action == "credentials":
        from lakehouse import credentials

        # for a person at a terminal: the role's psql-ready connection string, password included
        print(credentials.connection_url(args.role))
    elif args.action == "stop":
        print(embedded_pg.stop())
    else:
        print("running" if (not settings().pg_embedded or embedded_pg.is_running()) else "stopped")


def cmd_airflow_init(_args) -> None:
    """Migrate Airflow's metadata DB (SQLite, or a database on the project's
    PostgreSQL, created if missing and owned by the airflow role) and create
    the lake-writer pool."""
    import hashlib

    apply_airflow_env()
    cfg = settings()
    home = cfg.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    if cfg.airflow_metadata == "postgres":
        from lakehouse import warehouse

        if warehouse.ensure_database(cfg.airflow_database, owner_role="airflow"):
            print(f"[setup] created database {cfg.airflow_database} for Airflow's metadata")
    conn = airflow_env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # one stamp per metadata database: switching SQLite <-> PostgreSQL migrates the other once
    stamp = home / f".migrated-{hashlib.sha256(conn.encode()).hexdigest()[:12]}"
    airflow = str(Path(sys.executable).with_name("airflow"))
    if not stamp.exists():
        print(f"[setup] migrating Airflow metadata DB ({cfg.airflow_metadata}) for", home)
        subprocess.run([airflow, "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
        stamp.touch()
    subprocess.run([airflow, "pools", "set", "lake_writers", "1", "one writer at a time per lake"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print("[setup] Airflow ready: AIRFLOW_HOME =", home)


def cmd_airflow(args) -> None:
    """The Airflow UI: start (prints URL and login), stop (the whole process group), status."""
    from lakehouse import airflow_ui

    if args.action == "start":
        if not airflow_ui.running():
            airflow_ui.check_ports()   # a taken port fails now, not after the metadata migration
        cmd_airflow_init(args)
        print(airflow_ui.start())
    elif args.action == "stop":
        print(airflow_ui.stop())
    else:
        print(airflow_ui.status())


def cmd_airflow_env(_args) -> None:
    """Print airflow_env.airflow_env() as shell exports (docker/entrypoint.sh evals them)."""
    import shlex

    for key, value in airflow_env().items():
        print(f"export {key}={shlex.quote(value)}")


def cmd_service(args) -> None:
    """`lakehouse cluster|connect|s3 up|down|status`: the local stand-ins of the scaled-out column."""
    from lakehouse import services

    if args.action == "up":
        started = services.UP[args.command]()
        print(started.detail)
        print("use it with:")
        for key, value in started.exports.items():
            print(f"  export {key}={value}")
        print(f"stop it with: lakehouse {args.command} down")
    elif args.action == "down":
        stopped = services.DOWN[args.command]()
        print("stopped " + ", ".join(stopped) if stopped else f"{args.command}: nothing running")
    else:
        names = SERVICE_PROCESSES[args.command]
        for name in names:
            pid = services.pid_of(name)
            print(f"{name}: " + (f"running (pid {pid}, log {services.log_path(name)})" if pid else "stopped"))


SERVICE_PROCESSES = {"cluster": ("spark-master", "spark-worker"), "connect": ("spark-connect",), "s3": ("s3",)}


# --------------------------------------------------------------------------- pipeline

# Each job is two functions: the work (also run in-process by the DAG tasks,
# which log their own lines) and what the command prints about its result.

def ingest_job(args):
    """The body of `lakehouse ingest` and jobs/ingest.py: returns the IngestReport."""
    from lakehouse.ingest.pipeline import ingest

    start = args.date or args.start
    end = args.date or args.end
    return ingest(sources=args.source or None, start=start, end=end,
                  landing=Path(args.landing) if args.landing else None)


def preflight_ingest(args) -> None:
    """`lakehouse ingest`'s checks before Spark starts: a landing that does not
    exist or holds nothing, a reversed range, a day with no delivery folder."""
    from lakehouse.catalog import load_catalog
    from lakehouse.ingest.preflight import check_ingest_request

    check_ingest_request(args.landing or settings().landing, args.source, args.date or args.start,
                         args.date or args.end, load_catalog(settings().schemas_dir).sources)


def show_ingest(report) -> None:
    for note in report.notes:
        print("note:", note)
    for line in report.problem_lines():
        print(line)
    print(json.dumps({"run_id": report.run_id, **report.totals(),
                      "blocked_sources": sorted(report.blocked_sources),
                      "seconds_by_stage": {k: round(v, 1) for k, v in report.timings.items()}}, indent=2))


def publish_job(_args):
    """The body of `lakehouse publish` and jobs/publish.py: returns the Published tables."""
    from lakehouse.publish import publish

    return publish()


def show_publish(published) -> None:
    for p in published:
        print(f"lake.{p.table}: delta v{p.from_version} -> v{p.to_version}, {p.upserted} upserted, "
              f"{p.deleted} deleted")


def maintain_job(args):
    """The body of `lakehouse maintain` and jobs/maintain.py: returns the Maintained tables."""
    from lakehouse.ingest.recovery import undo_unfinished
    from lakehouse.maintain import maintain

    return maintain(undo_unfinished=undo_unfinished, retain_days=args.retain_days)


def show_maintain(maintained) -> None:
    for m in (m for m in maintained if m.changed):     # the tables with nothing to do stay quiet
        print(f"{m.path}: {m.files_before} -> {m.files_after} files, {m.vacuumed} vacuumed")
    print(f"[maintain] {len(maintained)} tables: {sum(m.compacted for m in maintained)} compacted, "
          f"{sum(m.vacuum_ran for m in maintained)} vacuumed, {sum(not m.changed for m in maintained)} had nothing to do")


def cmd_marts(args) -> None:
    from lakehouse.marts import DBT_PROJECT_DIR, run_dbt

    warnings = run_dbt(["build"] + (["--select", args.select] if args.select else []))
    for w in warnings:
        print("dbt warning:", w)
    print(f"[marts] built; {len(warnings)} dbt warnings (full log: {DBT_PROJECT_DIR / 'logs' / 'dbt.log'})")
    if args.docs:
        run_dbt(["docs", "generate", "--static"])
        print(f"dbt docs (open from disk): {DBT_PROJECT_DIR / 'target' / 'static_index.html'}")


def cmd_lint_sql(args) -> None:
    from lakehouse.marts import lint_sql

    if lint_sql(fix=args.fix):
        raise UserError("sqlfluff found problems in dbt_project/ (listed above); `lakehouse lint-sql --fix` "
                        "fixes the layout ones, the rules are in dbt_project/.sqlfluff")


def cmd_report(args) -> None:
    from lakehouse.report import build_report

    print(f"supervision report: {build_report(Path(args.out) if args.out else None)}")


def cmd_entity(args) -> None:
    from lakehouse.entity import EntityNotFound, find_entity, format_profile

    try:
        print(format_profile(find_entity(" ".join(args.query))))
    except EntityNotFound as exc:
        raise UserError(str(exc)) from None


def cmd_suites(args) -> None:
    from lakehouse.catalog import load_catalog
    from lakehouse.quality.suites import write_suites

    for path in write_suites(load_catalog(settings().schemas_dir)):
        print("wrote", path)


def cmd_demo(args) -> None:
    from lakehouse.demo import DemoFailed, run_demo

    try:
        run_demo(preset=args.preset, start=args.start, days=args.days, seed=args.seed)
    except DemoFailed as exc:   # the log's tail is printed already: no traceback of the demo itself
        print(f"lakehouse demo: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_clean(args) -> None:
    import shutil

    from lakehouse import embedded_pg

    print(embedded_pg.stop())
    if args.all:
        shutil.rmtree(settings().home, ignore_errors=True)
        print("removed", settings().home)


# --------------------------------------------------------------------------- wiring

# The options of ingest and maintain, shared with jobs/ingest.py and jobs/maintain.py.
INGEST_DESCRIPTION = ("Read the deliveries in the landing folder (every file kept in bronze), validate them, and "
                      "write the accepted rows to silver, the rejected rows to quarantine with their reasons. "
                      "Without --date/--from/--to: every day delivered.")
PUBLISH_DESCRIPTION = ("Copy what changed in the silver Delta tables since the last publish into PostgreSQL lake.* "
                       "(upserts and deletes, by Delta version).")
MAINTAIN_DESCRIPTION = ("Compact small files (OPTIMIZE), keep Delta checkpoints regular and VACUUM files older than "
                        "the time-travel window, for every Delta table of the lake. Takes the ingest's lock and first "
                        "undoes a batch a crash left unfinished.")


def add_ingest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", action="append", help="source code, e.g. jingan (repeatable; default: all)")
    p.add_argument("--date", "--day", dest="date", type=_day, help="one delivery day, YYYY-MM-DD")
    p.add_argument("--from", "--start", dest="start", type=_day, help="first delivery day of a range, YYYY-MM-DD")
    p.add_argument("--to", "--end", dest="end", type=_day, help="last delivery day of a range, YYYY-MM-DD")
    p.add_argument("--landing", help="landing root folder (default: LAKEHOUSE_LANDING)")


def add_maintain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retain-days", type=int, help="time travel kept (default LAKEHOUSE_VACUUM_RETAIN_DAYS)")


@dataclass(frozen=True)
class Job:
    """A sub-command that is also a Spark job, jobs/<name>.py: its options and body."""
    name: str
    help: str                  # its line in `lakehouse --help`
    description: str
    work: Callable             # args -> result
    show: Callable             # result -> None: what the command prints
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # `lakehouse <name>` only: checks that fail fast before Spark starts (not run
    # by jobs/<name>.py, whose callers, the DAGs, decide what a day holds)
    preflight: Callable | None = None

    def command(self, args):
        """The sub-command / program: the work, then its printout."""
        result = self.work(args)
        self.show(result)
        return result

    def cli_command(self, args):
        """`lakehouse <name>`: the preflight checks, then the command."""
        if self.preflight:
            self.preflight(args)
        return self.command(args)

    def parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog=prog or f"jobs/{self.name}.py", description=self.description)
        if self.add_arguments:
            self.add_arguments(p)
        return p


def _jobs() -> dict[str, Job]:
    return {j.name: j for j in (
        Job("ingest", "landing -> bronze -> silver for sources and days", INGEST_DESCRIPTION, ingest_job,
            show_ingest, add_ingest_arguments, preflight_ingest),
        Job("publish", "silver -> PostgreSQL lake.* (changes only)", PUBLISH_DESCRIPTION, publish_job,
            show_publish),
        Job("maintain", "compact (OPTIMIZE), checkpoint and vacuum every Delta table", MAINTAIN_DESCRIPTION,
            maintain_job, show_maintain, add_maintain_arguments))}


def _command(sub, name: str, help: str, description: str, func) -> argparse.ArgumentParser:
    """One sub-command: `help` is its line in `lakehouse --help`, `description` heads its own --help."""
    p = sub.add_parser(name, help=help, description=description)
    p.set_defaults(func=func)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lakehouse", description=__doc__.splitlines()[0],
        epilog="LAKEHOUSE_LOG_LEVEL=DEBUG shows the libraries' INFO logs (py4j, Great Expectations, Airflow, "
               "dbt's per-node lines); by default only the project's progress and warnings are printed.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = _command(sub, "db", "the embedded PostgreSQL cluster (ignored when PGHOST is set)",
                  "Start, stop or check the project's own PostgreSQL cluster under LAKEHOUSE_HOME/postgres "
                  "(start also creates the schemas and roles); `credentials ROLE` prints ROLE's connection "
                  "string (psql \"$(lakehouse db credentials analyst)\").", cmd_db)
    db.add_argument("action", choices=["start", "stop", "status", "credentials"],
                    help="start (and bootstrap schemas/roles), stop, status, or credentials ROLE")
    db.add_argument("role", nargs="?", default="analyst",
                    help="with `credentials`: analyst (default), dashboard, loader, transformer, "
                         "privacy_officer, airflow (its metadata database) or admin")
    _command(sub, "airflow-init", "migrate Airflow's metadata DB",
             "Migrate Airflow's SQLite metadata DB under AIRFLOW_HOME (once) and create the lake_writers "
             "pool. Run by `make setup`. With LAKEHOUSE_AIRFLOW_METADATA=postgres: the database "
             "LAKEHOUSE_AIRFLOW_DATABASE on the project's PostgreSQL instead, created if missing and owned "
             "by the airflow role (lakehouse_airflow).", cmd_airflow_init)
    af = _command(sub, "airflow", "the Airflow UI: start | stop | status",
                  "start: runs airflow standalone in the background (log under LAKEHOUSE_HOME/logs), prints "
                  "the URL and how to log in as admin; stop: ends all its processes; status: running or not.",
                  cmd_airflow)
    af.add_argument("action", choices=["start", "stop", "status"], help="start, stop or status of the UI")
    _command(sub, "airflow-env", "print the environment Airflow runs with, as shell exports",
             "Print airflow_env.airflow_env() as shell exports (docker/entrypoint.sh evaluates them).", cmd_airflow_env)
    for name, what in (("cluster", "a local Spark standalone master + worker"),
                       ("connect", "a local Spark Connect server"),
                       ("s3", "a local S3-compatible server (moto) with the lake's bucket")):
        svc = _command(sub, name, f"{what}: up | down | status",
                       f"Start, stop or check {what}, a local stand-in of the scaled-out column; `up` prints "
                       "the variables that point the project at it.", cmd_service)
        svc.add_argument("action", choices=["up", "down", "status"], help="up, down or status")

    try:
        from lakehouse.generator import cli as generator_cli
        generator_cli.add_parser(sub)
    except ImportError:   # the generator is optional for running the pipeline
        pass

    for job in _jobs().values():
        cmd = _command(sub, job.name, job.help, job.description, job.cli_command)
        if job.add_arguments:
            job.add_arguments(cmd)

    marts = _command(sub, "marts", "dbt build of the marts",
                     "Run `dbt build` on dbt_project/ (staging -> intermediate -> marts, with the tests) and "
                     "print the tests that warned.", cmd_marts)
    marts.add_argument("--select", help="dbt node selection, e.g. +fct_credit_risk (default: everything)")
    marts.add_argument("--docs", action="store_true",
                       help="also write the dbt docs as one page that opens from disk "
                            "(dbt_project/target/static_index.html) and print its path")

    lint = _command(sub, "lint-sql", "sqlfluff over the dbt project (part of `make lint` and `make test`)",
                    "Lint every model and test of dbt_project/ with sqlfluff's dbt templater (rules: "
                    "dbt_project/.sqlfluff). Needs the project's PostgreSQL running (`make setup`): the "
                    "templater connects as the transformer. Exits non-zero on any finding.", cmd_lint_sql)
    lint.add_argument("--fix", action="store_true", help="rewrite the SQL to fix what sqlfluff can (review the diff)")

    report = _command(sub, "report", "write the supervision report (one HTML page of charts)",
                      "Draw the supervision report from the marts: collection quality, credit classes by "
                      "district and changes since the previous build, cross-district supervision, the 双告知 "
                      "funnel, 双随机 plans, joint inspections and risk-keyword warnings. One self-contained "
                      "HTML file (plotly embedded, no network needed); prints its path.", cmd_report)
    report.add_argument("--out", help="folder to write index.html into (default: LAKEHOUSE_REPORT_DIR, "
                                      "i.e. LAKEHOUSE_HOME/report)")

    entity = _command(sub, "entity", "主体查询: one entity's cross-district profile",
                      "Print one entity's profile from the marts: registry facts, records each district holds "
                      "per feed, list status, and its credit class with the rules and evidence ids behind it.",
                      cmd_entity)
    entity.add_argument("query", nargs="+",
                        help="USCC (18 characters), old registration number (15 digits) or name (current or "
                             "former; a part of a name lists the matches)")

    _command(sub, "suites", "re-derive expectations/*.json from schemas/",
             "Write the Great Expectations suites (expectations/*.json) from the table descriptions in "
             "schemas/; run after editing schemas/.", cmd_suites)

    demo = _command(sub, "demo", "generate a small city, run the DAGs, print where results are",
                    "Generate a synthetic city (once per preset/seed/start/days), run the ingest_backfill and "
                    "build_marts DAGs with Airflow's dag.test (real Spark, Delta, GX, dbt), write the report, "
                    "and print a summary: rows per layer, rejected files, dbt warnings, where to look.", cmd_demo)
    demo.add_argument("--preset", default="small", help="generator preset: tiny, small, ... (default: small)")
    demo.add_argument("--start", type=_day, default=date(2017, 4, 10), help="first day, YYYY-MM-DD "
                      "(default: 2017-04-10)")
    demo.add_argument("--days", type=int, default=3, help="business days to generate (default: 3)")
    demo.add_argument("--seed", type=int, default=7, help="generator seed (default: 7)")

    clean = _command(sub, "clean", "stop the embedded PostgreSQL; --all also deletes LAKEHOUSE_HOME",
                     "Stop the embedded PostgreSQL cluster; with --all also delete everything under "
                     "LAKEHOUSE_HOME (lake, landing, database, Airflow metadata, report).", cmd_clean)
    clean.add_argument("--all", action="store_true", help="also delete LAKEHOUSE_HOME and all it holds")
    return p


def main(argv: list[str] | None = None) -> int:
    _prepare_process()
    args = build_parser().parse_args(argv)
    return run_command(args.command, args.func, args)


def job_main(name: str, argv: list[str] | None = None) -> int:
    """main() of jobs/<name>.py: its own arguments, then the sub-command's
    function with the CLI's error lines and exit codes."""
    job = _jobs()[name]
    _prepare_process()
    return run_command(name, job.command, job.parser().parse_args(argv))


def job_run(name: str, argv: list[str]):
    """jobs/<name>.py in this process (the DAG tasks): the work only, no printout;
    returns its result (IngestReport, Published, Maintained); a failure raises."""
    job = _jobs()[name]
    return job.work(job.parser().parse_args(argv))


def _prepare_process() -> None:
    from lakehouse import logs

    logs.configure()   # our own progress lines at INFO; libraries at WARNING unless LAKEHOUSE_LOG_LEVEL=DEBUG
    apply_file_mode()


def run_command(command: str, func, args) -> int:
    """Run one command; a failure the user can act on is one line on stderr and exit code 2."""
    from lakehouse.airflow_ui import AirflowUIError
    from lakehouse.embedded_pg import SetupError
    from lakehouse.faults import LakehouseFault
    from lakehouse.lakelock import LakeBusy
    from lakehouse.services import ServiceError
    from lakehouse.spark import SparkSetupError

    t0 = time.monotonic()
    try:
        func(args)
    except (UserError, SetupError, SparkSetupError, AirflowUIError, LakehouseFault, LakeBusy, ServiceError,
            ValueError, FileNotFoundError) as exc:
        print(f"lakehouse {command}: {exc}", file=sys.stderr)
        return 2
    if command not in ("db", "airflow-init", "airflow", "airflow-env", *SERVICE_PROCESSES):
        print(f"[{command}] {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
