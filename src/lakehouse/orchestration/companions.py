"""One Spark batch for the sources queued for the lake on the same day.

The lake_writers pool lets one ingest task write at a time, and each would
start a Spark session of its own (most of a small day's time). So when
ingest_X's task gets the pool (first try only), it also ingests every other
source Y whose `ingest` task of the same logical date is queued behind it in
the pool (state 'scheduled': Y's delivery is there) and whose day is ready to
ingest, in the same batch (the pipeline keeps sources apart: a blocked Y
holds back only Y). It then leaves Y a receipt: Y's files, counts and
problems. When Y's own task gets the pool it reports from the receipt without
starting Spark, so Y's DAG stays the unit of waiting, visibility and failure:
Y's log shows Y's files, and a blocked Y fails Y's run.

Safe by construction: a receipt is written only after the batch committed,
is taken once, and is ignored when Y's manifests changed since (a re-sent
delivery): then Y ingests itself, which the ledger makes idempotent. A batch
that fails is retried at once for X alone; retries never take companions.
Receipts live under LAKEHOUSE_HOME/receipts: Airflow workers on several
machines need that folder shared (as they need the landing), or every
source simply ingests itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from lakehouse.config import settings
from lakehouse.ingest.landing import sha256_of
from lakehouse.orchestration.schedule import DayPlan, manifest_path

INGEST_TASK = "ingest"
QUEUED = "scheduled"        # Airflow's state of a task waiting for a pool slot


@dataclass(frozen=True)
class SourceResult:
    """What a source's ingest task returns and prints for its day."""
    result: dict             # status, problem, totals: the task's XCom
    lines: list[str]         # notes and problem lines, for its log


def queued_sources(states: dict[str, dict], plans: dict[str, DayPlan], day_plan: DayPlan) -> list[str]:
    """The companions of `day_plan`: sources whose ingest task is queued
    (`states`: source -> {run_id: {task_id: state}}, as Airflow reports them) and
    whose plan ingests the same days."""
    companions = []
    for source, runs in sorted(states.items()):
        plan = plans.get(source)
        queued = any(tasks.get(INGEST_TASK) == QUEUED for tasks in runs.values())
        if queued and plan and plan.action == "ingest" and (plan.since, plan.day) == (day_plan.since, day_plan.day):
            companions.append(source)
    return companions


def airflow_task_states(sources: list[str], logical_date: datetime) -> dict[str, dict]:
    """{source: {run_id: {task_id: state}}} of each source's ingest task at `logical_date`,
    asked of Airflow from inside a running task. A DAG not (yet) parsed answers nothing."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = {}
    for source in sources:
        try:
            states[source] = RuntimeTaskInstance.get_task_states(
                dag_id=f"ingest_{source}", task_ids=[INGEST_TASK], logical_dates=[logical_date])
        except Exception as exc:      # noqa: BLE001 - Airflow not answering costs only the companions
            print(f"companions: Airflow did not say whether ingest_{source} is queued "
                  f"({type(exc).__name__}: {exc}); this run ingests the sources known so far")
            break                     # it will not answer the next question either
    return states


def ingest_day(plan: DayPlan, companions: list[DayPlan], ingest, airflow_run: str) -> SourceResult:
    """Ingest the plan's days for its source and its companions in one batch
    (`ingest(sources=, start=, end=)`, orchestration.ingest_batch); leave each
    companion its receipt and return the plan's own source's result."""
    from lakehouse.lake.lakelock import LakeBusy

    manifests = {p.source: manifests_of(p) for p in companions}     # before the batch reads them
    sources = [plan.source] + [p.source for p in companions]
    try:
        report = ingest(sources=sources, start=plan.since, end=plan.day)
    except LakeBusy:
        raise
    except Exception as exc:      # noqa: BLE001 - a companion must not fail this source's run
        if not companions:
            raise
        print(f"the batch with {', '.join(sources[1:])} failed ({type(exc).__name__}: {exc}); "
              f"ingesting {plan.source} alone")
        return ingest_day(plan, [], ingest, airflow_run)
    by = f"ingest_{plan.source}'s batch {report.run_id} (Airflow run {airflow_run})"
    for p in companions:
        leave_receipt(p, manifests[p.source], source_result(report, p.source, p.day, runner=False), by)
    own = source_result(report, plan.source, plan.day, runner=True)
    if companions:
        own.lines.insert(0, f"this batch also ingested {', '.join(sources[1:])} for {plan.day}: "
                            "their own DAG runs report their files")
    return own


def source_result(report, source: str, day: date, runner: bool) -> SourceResult:
    """One source's share of a batch's IngestReport, as its task reports it. The
    runner (the task that ran the batch) also gets the batch-wide notes and the
    promotions out of the quarantine (earlier files' rows)."""
    files = [f for f in report.files if f.source == source]
    notes = report.notes if runner else [n for n in report.notes if source in n]
    lines = [f"note: {n}" for n in notes] + [line for f in files if (line := f.problem_line())]
    totals = {k: sum(getattr(f, k) or 0 for f in files)
              for k in ("rows_in", "rows_accepted", "rows_duplicate", "rows_quarantined")}
    totals.update(files=len(files), rows_promoted=sum(report.promoted.values()) if runner else 0,
                  files_rejected=sum(f.status == "rejected" for f in files),
                  files_blocked=sum(f.status == "blocked" for f in files))
    problem = None
    if source in report.blocked_sources:
        problem = (f"{source} {day}: critical expectations failed, batch not published: "
                   + "; ".join(f.reason for f in files if f.status == "blocked")
                   + f". See Data Docs under {settings().home / 'gx'} and the run log (lake.ingest_runs).")
    return SourceResult({"status": "blocked" if problem else "ingested", "problem": problem, **totals}, lines)


# --------------------------------------------------------------------------- receipts

def _receipt_path(source: str, day: date) -> Path:
    return settings().home / "receipts" / f"{source}_{day.isoformat()}.json"


def manifests_of(plan: DayPlan) -> dict[str, str]:
    """{day: sha256 of its _MANIFEST.json} for the days the plan ingests that were delivered."""
    out, day = {}, plan.since
    while day <= plan.day:
        path = manifest_path(settings().landing, plan.source, day)
        if path.exists():
            out[day.isoformat()] = sha256_of(path)
        day += timedelta(days=1)
    return out


def leave_receipt(plan: DayPlan, manifests: dict[str, str], outcome: SourceResult, by: str) -> None:
    path = _receipt_path(plan.source, plan.day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"by": by, "manifests": manifests, "result": outcome.result,
                               "lines": outcome.lines}, ensure_ascii=False))
    os.replace(tmp, path)       # whole or absent: a reader never sees half a receipt


def take_receipt(plan: DayPlan) -> tuple[SourceResult, str] | None:
    """The receipt a companion batch left for this source and day, removed as it
    is taken; None when there is none or its manifests are not today's."""
    path = _receipt_path(plan.source, plan.day)
    try:
        receipt = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    path.unlink(missing_ok=True)
    if receipt.get("manifests") != manifests_of(plan):
        print(f"{plan.source} {plan.day}: the delivery changed since {receipt.get('by')} ingested it; "
              "ingesting it again")
        return None
    return SourceResult(receipt["result"], receipt["lines"]), receipt["by"]
