"""DAG factories: one ingest DAG per schemas/sources/*.yaml, and the marts
DAG triggered once per round of deliveries. Only wiring lives here; every
task calls one typed function of the package in its own process: the day's
decision (lakehouse.orchestration.schedule), the ingest, publish and maintenance functions
that jobs/*.py run under spark-submit.
Nothing heavy at import: Spark, GX and dbt are imported inside the tasks.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from lakehouse.config import now, settings

DEFAULT_ARGS = {"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=2)}
# The backfill DAG has no schedule; its start date only has to be in the past.
BACKFILL_START = datetime(2017, 1, 1)


def ingest_batch(sources: list[str] | None = None, start: date | None = None, end: date | None = None):
    """lakehouse.ingest.pipeline.ingest in this task's process (jobs/ingest.py
    runs the same function under spark-submit); imported here, not at parse time."""
    from lakehouse.ingest.pipeline import ingest as ingest_deliveries

    return ingest_deliveries(sources=sources, start=start, end=end)


def _print_problems(report) -> None:
    """Into the task's log: the notes, and each file not accepted with its reason."""
    for line in [f"note: {n}" for n in report.notes] + report.problem_lines():
        print(line)


def source_configs() -> list[dict]:
    """The sources the daily DAGs serve (`scheduled: true`, the default), as plain
    values for the DAG factories, read by the catalog (the one parser of
    schemas/, about 0.1 s): a broken file is a DAG import error naming the file and key."""
    from lakehouse.catalog import load_catalog

    return [src.model_dump(mode="json") for _, src in sorted(load_catalog().sources.items()) if src.scheduled]


def delivered_asset(source: str):
    """Updated once per source and business day, when its delivery was ingested
    or marked missing: build_marts waits for every source's (one round)."""
    from airflow.sdk import Asset

    return Asset(name=f"delivered_{source}", uri=f"lakehouse://deliveries/{source}", group="deliveries")


def daily_timetable():
    """One run per calendar day at 00:00 in the calendar's time zone; days off end at once."""
    from airflow.timetables.trigger import CronTriggerTimetable

    from lakehouse.catalog.calendar import load_calendar

    return CronTriggerTimetable("0 0 * * *", timezone=load_calendar().timezone)


def daily_start_date() -> datetime:
    """LAKEHOUSE_START_DATE, but no earlier than LAKEHOUSE_CATCHUP_DAYS before today:
    a fresh install schedules a few days, not years (older days: ingest_backfill)."""
    from lakehouse.catalog.calendar import load_calendar
    from lakehouse.orchestration.schedule import first_scheduled_day

    cal, cfg = load_calendar(), settings()
    first = first_scheduled_day(now().astimezone(cal.tz).date(), cfg.start_date, cfg.catchup_days)
    return datetime.combine(first, time(0), tzinfo=cal.tz)


def delivery_day(context) -> date:
    """The day to ingest: `date` in the run's conf, else the run's logical date in the calendar's zone."""
    from lakehouse.catalog.calendar import load_calendar
    from lakehouse.orchestration.schedule import delivery_day as day_of

    conf = (context.get("dag_run").conf or {}) if context.get("dag_run") else {}
    if conf.get("date"):
        return date.fromisoformat(conf["date"])
    moment = context.get("logical_date") or context["dag_run"].run_after
    return day_of(moment, load_calendar())


def _plan(code: str, day: date):
    from lakehouse.catalog.calendar import load_calendar
    from lakehouse.orchestration.schedule import plan_day

    cfg = settings()
    return plan_day(code, day, cfg.landing, load_calendar(), now(), cfg.delivery_cutoff_hours)


def _ingest_or_report(plan, context):
    """The source's day: reported from a companion batch's receipt, or ingested
    (on a first try, with the sources queued behind it in the pool)."""
    from lakehouse.orchestration import companions

    taken = companions.take_receipt(plan)
    if taken:
        outcome, by = taken
        print(f"{plan.source} {plan.day}: ingested by {by}")
        return outcome
    queued: list = []
    logical = context.get("logical_date")
    conf = (context["dag_run"].conf or {}) if context.get("dag_run") else {}
    # a scheduled run's first try: the others' runs of the same logical date ingest the same day
    if context["ti"].try_number == 1 and logical is not None and not conf.get("date"):
        others = [c["code"] for c in source_configs() if c["code"] != plan.source]
        states = companions.airflow_task_states(others, logical)
        plans = {c: _plan(c, plan.day) for c in states}
        queued = [plans[c] for c in companions.queued_sources(states, plans, plan)]
    return companions.ingest_day(plan, queued, ingest_batch, context["run_id"])


def build_ingest_dag(cfg: dict):
    from airflow.sdk import DAG, task
    from airflow.sdk.bases.sensor import PokeReturnValue

    code = cfg["code"]
    cutoff_hours = settings().delivery_cutoff_hours
    with DAG(
        dag_id=f"ingest_{code}",
        description=f"Ingest {cfg['name']} ({cfg['template']}): landing -> bronze -> silver, validated",
        # max_active_runs=2: a day still waiting for its delivery never holds up the next day
        schedule=daily_timetable(), start_date=daily_start_date(), catchup=True, max_active_runs=2,
        default_args=DEFAULT_ARGS, tags=["ingest", f"template:{cfg['template']}"],
        params={"date": None},
    ) as dag:

        # One task decides the day and waits for its delivery: a day off is
        # skipped on the first poke (and everything after it), a business day
        # waits in reschedule mode (no worker slot held) until the cut-off.
        # One task process per source and day, not two: on a 2-core machine
        # each costs seconds of Python start-up before the day's one Spark batch.
        @task.sensor(poke_interval=300, exponential_backoff=True, max_wait=timedelta(hours=1),
                     timeout=timedelta(hours=24 + cutoff_hours + 1), mode="reschedule")
        def wait_for_delivery(**context) -> PokeReturnValue:
            from airflow.sdk.exceptions import AirflowSkipException

            plan = _plan(code, delivery_day(context))
            print(plan.reason)
            if plan.action == "skip":
                raise AirflowSkipException(plan.reason)
            return PokeReturnValue(is_done=plan.action != "wait", xcom_value=plan.day.isoformat())

        # The pool keeps lake writers one at a time; the first to get it also
        # ingests the sources queued behind it (lakehouse.orchestration.companions).
        @task(pool="lake_writers", outlets=[delivered_asset(code)])
        def ingest(day: str, **context) -> dict:
            from lakehouse.orchestration.schedule import MISSING, record_missing

            plan = _plan(code, date.fromisoformat(day))
            if plan.action == MISSING:
                from lakehouse.lake.spark import get_spark

                record_missing(get_spark(), plan, run_id=f"missing-{context['run_id']}")
                return {"status": MISSING, "problem": plan.reason}
            outcome = _ingest_or_report(plan, context)
            for line in outcome.lines:
                print(line)
            return outcome.result

        # The round is announced (ingest's outlet) even when the day is missing or
        # blocked, so the marts still build; this task then fails the run visibly.
        @task
        def alert(result: dict) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            if result.get("problem"):
                raise AirflowFailException(result["problem"])
            return result

        alert(ingest(wait_for_delivery()))
    return dag


def build_backfill_dag(tables: list[str]):
    """Manual: ingest every (or the given) source for a range of days in one
    batch: one Spark session and one Delta write per table instead of one per
    source and day. Trigger with conf {"start": "2017-01-02", "end": "2017-12-29",
    "sources": ["jingan"]} (sources optional)."""
    from airflow.sdk import DAG, task

    with DAG(
        dag_id="ingest_backfill", description="Ingest a range of days for many sources in one batch",
        schedule=None, start_date=BACKFILL_START, catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS,
        tags=["ingest", "backfill"], params={"start": None, "end": None, "sources": None},
    ) as dag:

        # a backfill is one round: it announces every source, so build_marts runs once after it
        @task(pool="lake_writers", outlets=[delivered_asset(c["code"]) for c in source_configs()])
        def ingest_range(**context) -> dict:
            report = ingest_batch(**backfill_request(context["dag_run"].conf or {}))
            _print_problems(report)
            return {**report.totals(), "blocked_sources": sorted(report.blocked_sources)}

        ingest_range()
    return dag


def backfill_request(conf: dict) -> dict:
    """The backfill's conf {"start", "end", "sources"} (each optional) as ingest's arguments."""
    request: dict = {"sources": list(conf.get("sources") or []) or None}
    for key in ("start", "end"):
        try:
            request[key] = date.fromisoformat(conf[key]) if conf.get(key) else None
        except (TypeError, ValueError):
            raise ValueError(f"ingest_backfill's conf: {key}={conf[key]!r} is not a date: use YYYY-MM-DD") from None
    return request


def build_marts_dag(sources: list[str]):
    """Triggered once per round: when every source has announced its day
    (ingested or marked missing). Publishes what changed; dbt only if anything did."""
    from airflow.sdk import DAG, task

    schedule = None
    for code in sources:
        schedule = delivered_asset(code) if schedule is None else (schedule & delivered_asset(code))
    with DAG(
        dag_id="build_marts",
        description="Once per round of deliveries: publish silver changes to PostgreSQL, then build the dbt marts",
        schedule=schedule, start_date=BACKFILL_START, catchup=False, max_active_runs=1,
        default_args=DEFAULT_ARGS, tags=["marts"],
    ) as dag:

        @task(pool="lake_writers")
        def publish() -> list[str]:
            from lakehouse.serving.publish import publish as publish_changes

            return [f"{p.table}: v{p.from_version}->v{p.to_version} +{p.upserted} -{p.deleted}"
                    for p in publish_changes()]

        @task
        def build(published: list[str]) -> dict:
            from lakehouse.serving.mart_build import build_and_record

            return build_and_record(published)

        @task
        def report(built: dict) -> str:
            """The supervision report, redrawn from the marts just built."""
            from lakehouse.serving.report import build_report

            return str(build_report())

        report(build(publish()))
    return dag


def build_maintain_dag():
    """Compact, checkpoint and vacuum every Delta table (lakehouse.lake.maintain),
    on LAKEHOUSE_MAINTAIN_SCHEDULE (default weekly). In the lake_writers pool:
    never at the same time as an ingest or a publish."""
    from airflow.sdk import DAG, task

    with DAG(
        dag_id="maintain_lake", description="OPTIMIZE, checkpoint and VACUUM every Delta table of the lake",
        schedule=settings().maintain_schedule, start_date=BACKFILL_START, catchup=False, max_active_runs=1,
        default_args=DEFAULT_ARGS, tags=["maintenance"],
    ) as dag:

        @task(pool="lake_writers")
        def maintain() -> list[str]:
            from lakehouse.ingest.recovery import undo_unfinished
            from lakehouse.lake.maintain import maintain as maintain_tables

            return [f"{m.path}: {m.files_before} -> {m.files_after} files, {m.vacuumed} vacuumed"
                    for m in maintain_tables(undo_unfinished=undo_unfinished)]

        maintain()
    return dag
