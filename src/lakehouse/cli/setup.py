"""The set-up commands: the embedded PostgreSQL, Airflow's metadata and UI,
and the local stand-ins of the scaled-out column (cluster, Connect, S3)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lakehouse.cli.base import command
from lakehouse.config import settings
from lakehouse.orchestration.airflow_env import airflow_env, apply_airflow_env


def cmd_db(args) -> None:
    from lakehouse.services import embedded_pg
    from lakehouse.serving import warehouse

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
        from lakehouse.serving import warehouse

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
    from lakehouse.services import airflow_ui

    if args.action == "start":
        if not airflow_ui.running():
            airflow_ui.check_ports()   # a taken port fails now, not after the metadata migration
        cmd_airflow_init(args)
        print(airflow_ui.start())
    elif args.action == "stop":
        print(airflow_ui.stop())
    else:
        print(airflow_ui.status())


def cmd_dashboards(args) -> None:
    """Apache Superset on the marts: start (installs it the first time, imports
    dashboards/, prints URL and login), stop, status, export (the UI's changes
    back into dashboards/)."""
    from lakehouse.services import superset

    print({"start": superset.start, "stop": superset.stop, "status": superset.status,
           "export": superset.export}[args.action]())


def cmd_airflow_env(_args) -> None:
    """Print airflow_env.airflow_env() as shell exports (docker/entrypoint.sh evals them)."""
    import shlex

    for key, value in airflow_env().items():
        print(f"export {key}={shlex.quote(value)}")


def cmd_service(args) -> None:
    """`lakehouse cluster|connect|s3 up|down|status`: the local stand-ins of the scaled-out column."""
    from lakehouse.services import engines

    if args.action == "up":
        started = engines.UP[args.command]()
        print(started.detail)
        if args.command == "connect":
            print("the warm engine: this LAKEHOUSE_HOME's commands and DAG tasks use it while it runs "
                  "(LAKEHOUSE_WARM_ENGINE=off: a local Spark each); from another home or machine")
        print("use it with:")
        for key, value in started.exports.items():
            print(f"  export {key}={value}")
        print(f"stop it with: lakehouse {args.command} down")
    elif args.action == "down":
        stopped = engines.DOWN[args.command]()
        print("stopped " + ", ".join(stopped) if stopped else f"{args.command}: nothing running")
    else:
        names = SERVICE_PROCESSES[args.command]
        for name in names:
            pid = engines.pid_of(name)
            print(f"{name}: " + (f"running (pid {pid}, log {engines.log_path(name)})" if pid else "stopped"))


SERVICE_PROCESSES = {"cluster": ("spark-master", "spark-worker"), "connect": ("spark-connect",), "s3": ("s3",)}


def add(sub) -> None:
    db = command(sub, "db", "the embedded PostgreSQL cluster (ignored when PGHOST is set)",
                  "Start, stop or check the project's own PostgreSQL cluster under LAKEHOUSE_HOME/postgres "
                  "(start also creates the schemas and roles); `credentials ROLE` prints ROLE's connection "
                  "string (psql \"$(lakehouse db credentials analyst)\").", cmd_db, timed=False)
    db.add_argument("action", choices=["start", "stop", "status", "credentials"],
                    help="start (and bootstrap schemas/roles), stop, status, or credentials ROLE")
    db.add_argument("role", nargs="?", default="analyst",
                    help="with `credentials`: analyst (default), dashboard, loader, transformer, "
                         "privacy_officer, airflow (its metadata database) or admin")
    command(sub, "airflow-init", "migrate Airflow's metadata DB",
             "Migrate Airflow's SQLite metadata DB under AIRFLOW_HOME (once) and create the lake_writers "
             "pool. Run by `make setup`. With LAKEHOUSE_AIRFLOW_METADATA=postgres: the database "
             "LAKEHOUSE_AIRFLOW_DATABASE on the project's PostgreSQL instead, created if missing and owned "
             "by the airflow role (lakehouse_airflow).", cmd_airflow_init, timed=False)
    af = command(sub, "airflow", "the Airflow UI: start | stop | status",
                  "start: runs airflow standalone in the background (log under LAKEHOUSE_HOME/logs), prints "
                  "the URL and how to log in as admin; stop: ends all its processes; status: running or not.",
                  cmd_airflow, timed=False)
    af.add_argument("action", choices=["start", "stop", "status"], help="start, stop or status of the UI")
    dash = command(sub, "dashboards", "Apache Superset on the marts: start | stop | status | export",
                    "start: installs Superset into a virtualenv of its own the first time (about 3 min), imports "
                    "the dashboards of dashboards/, runs it in the background and prints the URL and how to log "
                    "in; stop; status; export: writes the dashboards as they are in Superset back into "
                    "dashboards/ (review the diff).", cmd_dashboards, timed=False)
    dash.add_argument("action", choices=["start", "stop", "status", "export"],
                      help="start, stop or status of Superset, or export its dashboards into dashboards/")
    command(sub, "airflow-env", "print the environment Airflow runs with, as shell exports",
             "Print airflow_env.airflow_env() as shell exports (docker/entrypoint.sh evaluates them).", cmd_airflow_env,
            timed=False)
    for name, what in (("cluster", "a local Spark standalone master + worker"),
                       ("connect", "a local Spark Connect server"),
                       ("s3", "a local S3-compatible server (moto) with the lake's bucket")):
        svc = command(sub, name, f"{what}: up | down | status",
                       f"Start, stop or check {what}, a local stand-in of the scaled-out column; `up` prints "
                       "the variables that point the project at it.", cmd_service, timed=False)
        svc.add_argument("action", choices=["up", "down", "status"], help="up, down or status")
