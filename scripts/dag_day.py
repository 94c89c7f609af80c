"""The benchmark's step 3: one business day through Airflow's real scheduler.

`lakehouse airflow start` (airflow standalone: scheduler, dag-processor,
api-server, the LocalExecutor) in the benchmark's own home, with the daily
DAGs' start date on the day and the clock frozen (LAKEHOUSE_NOW) at 09:00
the next morning. Unpausing the DAGs lets the scheduler create the day's
runs itself; the wall time runs from the unpause to the end of the
build_marts run the scheduler starts from the sources' assets. Set-up (the
metadata, the start of Airflow and of the warm engine it starts, the
parsing of dags/) is not timed: a running service has done it already. Nor
is the warm-up of the engine: the business day before, ingested and
published, as the engine of a service that ran yesterday has done (every
step of a batch has then run on it; docs/performance.md says what that
changed).

The scheduler also creates the next day's runs (max_active_runs=2); the
later days' folders are held back outside the landing meanwhile, as on that
morning they are not delivered yet, so those runs only wait.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time as clock
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path

LAKEHOUSE = str(Path(sys.executable).with_name("lakehouse"))


@dataclass
class DagDay:
    wall: float                               # unpause -> build_marts ended
    runs: dict[str, tuple[str, float]]        # dag_id -> (state, run seconds)
    batches: int                              # ingest tasks that ran a Spark batch
    reported: int                             # ingest tasks that reported from a companion's receipt


def _cli(args: list[str], env: dict, log: Path) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        if subprocess.run([LAKEHOUSE, *args], env=env, stdout=out, stderr=subprocess.STDOUT).returncode:
            raise SystemExit(f"lakehouse {' '.join(args)} failed: see {log}")


def warm_up(env: dict, yesterday: date, log: Path) -> None:
    """What the warm engine of a running service has done before: yesterday's
    business day, ingested and published (new rows, so every step of a batch ran)."""
    _cli(["ingest", "--date", yesterday.isoformat()], env, log)
    _cli(["publish"], env, log)


@contextmanager
def _held_back(landing: Path, sources: list[str], after: date, store: Path):
    """The folders of days after `after` moved out of the landing, and back."""
    moved = [f for s in sources for f in (landing / s).glob("20*-*-*") if date.fromisoformat(f.name) > after]
    for folder in moved:
        (store / folder.parent.name).mkdir(parents=True, exist_ok=True)
        folder.rename(store / folder.parent.name / folder.name)
    try:
        yield
    finally:
        for folder in moved:
            (store / folder.parent.name / folder.name).rename(folder)
        shutil.rmtree(store, ignore_errors=True)


def scheduler_day(env: dict, home: Path, landing: Path, day: date, sources: list[str], warm_up_day: date,
                  timeout: float = 7200) -> DagDay:
    from lakehouse.catalog.calendar import load_calendar
    from lakehouse.services import airflow_ui
    from lakehouse.services.engines import free_port

    logical = datetime.combine(day, time(0), tzinfo=load_calendar().tz).astimezone(timezone.utc)
    logs = home / "logs" / "bench"
    env = {**env, "LAKEHOUSE_START_DATE": day.isoformat(), "LAKEHOUSE_AIRFLOW_PORT": str(free_port())}
    env.pop("AIRFLOW__API__PORT", None)
    env.pop("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", None)
    _cli(["airflow-init"], env, logs / "airflow-init.log")
    ingest_dags = [f"ingest_{s}" for s in sources]
    with _held_back(landing, sources, day, home / "held-back"):
        _cli(["airflow", "start"], env, logs / "airflow-start.log")
        try:
            warm_up(env, warm_up_day, logs / "warm-up.log")
            url = f"http://127.0.0.1:{env['LAKEHOUSE_AIRFLOW_PORT']}"
            token = airflow_ui.login(url)
            wanted = set(ingest_dags) | {"build_marts"}
            while not wanted <= {d["dag_id"] for d in airflow_ui.rest(url, "/api/v2/dags?limit=1000", token)["dags"]}:
                clock.sleep(2)
            t0 = clock.perf_counter()
            for dag_id in sorted(wanted):
                airflow_ui.rest(url, f"/api/v2/dags/{dag_id}", token, {"is_paused": False}, method="PATCH")
            while True:
                marts = [r for r in airflow_ui.rest(url, "/api/v2/dags/build_marts/dagRuns", token)["dag_runs"]
                         if r["state"] in ("success", "failed")]
                if marts:
                    wall = clock.perf_counter() - t0
                    break
                if clock.perf_counter() - t0 > timeout:
                    raise SystemExit(f"no build_marts run ended within {timeout:.0f}s; see {logs.parent}")
                clock.sleep(2)
            runs = {}
            for dag_id in ingest_dags + ["build_marts"]:
                found = [r for r in airflow_ui.rest(url, f"/api/v2/dags/{dag_id}/dagRuns?limit=100", token)["dag_runs"]
                         if dag_id == "build_marts" or _moment(r["logical_date"]) == logical]
                run = found[0] if found else {"state": "no run", "start_date": None, "end_date": None}
                runs[dag_id] = (run["state"], _seconds(run))
        finally:
            _cli(["airflow", "stop"], env, logs / "airflow-start.log")
    reports = [p.read_text(errors="replace") for p in (home / "logs").glob(
        f"dag_id=ingest_*/run_id=*{logical.isoformat()}/task_id=ingest/attempt=1.log")]
    reported = sum("ingested by ingest_" in text for text in reports)
    return DagDay(wall, runs, batches=len(reports) - reported, reported=reported)


def _moment(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def _seconds(run: dict) -> float:
    if not (run.get("start_date") and run.get("end_date")):
        return float("nan")
    return (_moment(run["end_date"]) - _moment(run["start_date"])).total_seconds()
