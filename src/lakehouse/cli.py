"""`lakehouse` command line: set-up, generate, ingest, publish, marts, demo.

Each sub-command is a thin wrapper over a module function; errors a user can
fix (a missing binary, a taken port, a bad date) are printed as one clear
line, not a stack trace.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from lakehouse.config import apply_airflow_env, settings


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
        print(f"connect with: {warehouse.psql_line()}")
    elif args.action == "stop":
        print(embedded_pg.stop())
    else:
        print("running" if (not settings().pg_embedded or embedded_pg.is_running()) else "stopped")


def cmd_airflow_init(_args) -> None:
    """Migrate Airflow's metadata DB (SQLite, or a database on the project's
    PostgreSQL, created if missing) and create the lake-writer pool."""
    import hashlib

    apply_airflow_env()
    cfg = settings()
    home = cfg.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    if cfg.airflow_metadata == "postgres":
        _ensure_airflow_database()
    conn = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
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


def cmd_airflow_env(_args) -> None:
    """Print config.airflow_env() as shell exports (docker/entrypoint.sh evals them)."""
    import shlex

    from lakehouse.config import airflow_env

    for key, value in airflow_env().items():
        print(f"export {key}={shlex.quote(value)}")


def _ensure_airflow_database() -> None:
    from lakehouse import warehouse

    name = settings().airflow_database
    with warehouse.connect("admin", dbname="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'create database "{name}"')
                print(f"[setup] created database {name} for Airflow's metadata")


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

def cmd_ingest(args) -> None:
    from lakehouse.ingest.pipeline import ingest

    start = args.date or args.start
    end = args.date or args.end
    report = ingest(sources=args.source or None, start=start, end=end,
                    landing=Path(args.landing) if args.landing else None)
    for note in report.notes:
        print("note:", note)
    for f in report.files:
        if f["status"] != "accepted":
            print(f"{f['status'].upper()}: {f['_file']}: {f['reason']}")
    print(json.dumps({"run_id": report.run_id, **report.totals(),
                      "blocked_sources": sorted(report.blocked_sources),
                      "seconds_by_stage": {k: round(v, 1) for k, v in report.timings.items()}}, indent=2))


def cmd_publish(_args) -> None:
    from lakehouse.publish import publish

    for p in publish():
        print(f"lake.{p.table}: delta v{p.from_version} -> v{p.to_version}, {p.upserted} upserted, "
              f"{p.deleted} deleted")


def cmd_marts(args) -> None:
    from lakehouse.marts import run_dbt

    run_dbt(["build"] + (["--select", args.select] if args.select else []))
    if args.docs:
        run_dbt(["docs", "generate"])


def cmd_suites(args) -> None:
    from lakehouse.catalog import load_catalog
    from lakehouse.quality.suites import write_suites

    for path in write_suites(load_catalog(settings().schemas_dir)):
        print("wrote", path)


def cmd_demo(args) -> None:
    from lakehouse.demo import run_demo

    run_demo(preset=args.preset, start=args.start, days=args.days, seed=args.seed)


def cmd_clean(args) -> None:
    import shutil

    from lakehouse import embedded_pg

    print(embedded_pg.stop())
    if args.all:
        shutil.rmtree(settings().home, ignore_errors=True)
        print("removed", settings().home)


# --------------------------------------------------------------------------- wiring

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lakehouse", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the embedded PostgreSQL cluster (ignored when PGHOST is set)")
    db.add_argument("action", choices=["start", "stop", "status"])
    db.set_defaults(func=cmd_db)
    sub.add_parser("airflow-init", help="migrate Airflow's metadata DB").set_defaults(func=cmd_airflow_init)
    sub.add_parser("airflow-env", help="print the environment Airflow runs with, as shell exports"
                   ).set_defaults(func=cmd_airflow_env)
    for name, what in (("cluster", "a local Spark standalone master + worker"),
                       ("connect", "a local Spark Connect server"),
                       ("s3", "a local S3-compatible server (moto) with the lake's bucket")):
        svc = sub.add_parser(name, help=f"{what}: up | down | status")
        svc.add_argument("action", choices=["up", "down", "status"])
        svc.set_defaults(func=cmd_service)

    try:
        from lakehouse.generator import cli as generator_cli
        generator_cli.add_parser(sub)
    except ImportError:   # the generator is optional for running the pipeline
        pass

    ing = sub.add_parser("ingest", help="landing -> bronze -> silver for sources and days")
    ing.add_argument("--source", action="append", help="source code (repeatable; default: all)")
    ing.add_argument("--date", type=_day, help="one delivery day")
    ing.add_argument("--from", dest="start", type=_day, help="first delivery day of a range")
    ing.add_argument("--to", dest="end", type=_day, help="last delivery day of a range")
    ing.add_argument("--landing", help="landing root (default LAKEHOUSE_LANDING)")
    ing.set_defaults(func=cmd_ingest)

    sub.add_parser("publish", help="silver -> PostgreSQL lake.* (changes only)").set_defaults(func=cmd_publish)
    marts = sub.add_parser("marts", help="dbt build of the marts")
    marts.add_argument("--select")
    marts.add_argument("--docs", action="store_true", help="also dbt docs generate")
    marts.set_defaults(func=cmd_marts)
    sub.add_parser("suites", help="re-derive expectations/*.json from schemas/").set_defaults(func=cmd_suites)

    demo = sub.add_parser("demo", help="generate a small city, run the DAGs, print where results are")
    demo.add_argument("--preset", default="small")
    demo.add_argument("--start", type=_day, default=date(2017, 4, 10))
    demo.add_argument("--days", type=int, default=3)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)

    clean = sub.add_parser("clean", help="stop the embedded PostgreSQL; --all also deletes LAKEHOUSE_HOME")
    clean.add_argument("--all", action="store_true")
    clean.set_defaults(func=cmd_clean)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # our own progress lines at INFO; other libraries stay at WARNING
    logging.getLogger("lakehouse").setLevel(os.environ.get("LAKEHOUSE_LOG_LEVEL", "INFO"))
    args = build_parser().parse_args(argv)
    from lakehouse.embedded_pg import SetupError
    from lakehouse.services import ServiceError
    from lakehouse.spark import SparkSetupError

    t0 = time.monotonic()
    try:
        args.func(args)
    except (UserError, SetupError, SparkSetupError, ServiceError, ValueError, FileNotFoundError) as exc:
        print(f"lakehouse {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command not in ("db", "airflow-init", "airflow-env", *SERVICE_PROCESSES):
        print(f"[{args.command}] {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
