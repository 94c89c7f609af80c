"""What the daily DAGs do with one source and one day, decided from the
business calendar, the landing folder and the clock (config.now(), which a
test can freeze). Pure functions, except record_missing (Spark, run log).

One run per source and calendar day (00:00 in the calendar's time zone):
- a weekend or holiday without a delivery ends at once: "no delivery expected";
- a business day waits for `_MANIFEST.json` until the cut-off, LAKEHOUSE_DELIVERY_CUTOFF
  hours after the day ends; after that the day is "missing": recorded in the
  run log (status 'missing') and raised as a failed task naming source and day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from lakehouse.catalog.calendar import BusinessCalendar, CalendarError

# The run-log status of a business day with no delivery by the cut-off.
MISSING = "missing"


@dataclass(frozen=True)
class DayPlan:
    source: str
    day: date
    action: str            # "skip" | "wait" | "ingest" | "missing"
    reason: str            # what the log and the failure message say
    since: date            # first day to ingest (weekend/holiday deliveries before a business day)
    cutoff: datetime       # UTC


def manifest_path(landing: str | Path, source: str, day: date) -> Path:
    return Path(landing) / source / day.isoformat() / "_MANIFEST.json"


def delivery_day(logical_date: datetime, cal: BusinessCalendar) -> date:
    """The run's delivery day: its logical date, read in the calendar's time zone."""
    return logical_date.astimezone(cal.tz).date()


def cutoff(day: date, cal: BusinessCalendar, hours: float) -> datetime:
    """When a business day's delivery counts as missing: `hours` after the day ends (UTC)."""
    end_of_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=cal.tz)
    return (end_of_day + timedelta(hours=hours)).astimezone(timezone.utc)


def first_scheduled_day(today: date, start_date: date | None, catchup_days: int) -> date:
    """The earliest day the daily DAGs schedule: LAKEHOUSE_START_DATE, but never more
    than LAKEHOUSE_CATCHUP_DAYS before today (older days: the ingest_backfill DAG)."""
    window = today - timedelta(days=max(catchup_days, 0))
    return max(start_date, window) if start_date else window


def ingest_since(day: date, cal: BusinessCalendar) -> date:
    """A business day's run also ingests the weekend/holiday days just before it:
    a source that sends on a day off is read on the next business day."""
    since = day
    for _ in range(31):     # the longest holiday run is 9 days; this only bounds the loop
        before = since - timedelta(days=1)
        try:
            if cal.is_business_day(before):
                break
        except CalendarError:      # before the first covered year: stop there
            break
        since = before
    return since


def plan_day(source: str, day: date, landing: str | Path, cal: BusinessCalendar, now: datetime,
             cutoff_hours: float) -> DayPlan:
    due = cutoff(day, cal, cutoff_hours)
    delivered = manifest_path(landing, source, day).exists()
    off = cal.why_no_delivery(day)
    if off is not None:
        if delivered:
            return DayPlan(source, day, "ingest", f"{source} {day}: delivered on a day off ({off})", day, due)
        return DayPlan(source, day, "skip", f"{source} {day}: no delivery expected: {off}", day, due)
    since = ingest_since(day, cal)
    if delivered:
        return DayPlan(source, day, "ingest", f"{source} {day}: delivered", since, due)
    local_due = due.astimezone(cal.tz).strftime("%Y-%m-%d %H:%M %Z")
    if now >= due:
        return DayPlan(source, day, MISSING,
                       f"{source}: no delivery for business day {day} by the cut-off {local_due} "
                       f"(no {manifest_path(landing, source, day)}). When it arrives, clear this run "
                       f"in Airflow to ingest it.", since, due)
    return DayPlan(source, day, "wait", f"{source} {day}: waiting for the delivery until {local_due}", since, due)


def record_missing(spark, plan: DayPlan, run_id: str) -> None:
    """One run-log row with status 'missing' for the source and day (idempotent:
    a retried task writes it once). The collection-quality mart shows it as
    'not delivered' until a delivery for that day is ingested."""
    from pyspark.sql.types import _parse_datatype_string

    from lakehouse.ingest import runlog
    from lakehouse.lake import delta

    schema = _parse_datatype_string(runlog.RUNLOG_SCHEMA)
    stamp = datetime.now(timezone.utc).replace(tzinfo=None)
    folder = f"{plan.source}/{plan.day.isoformat()}/"
    path = delta.table_path("ops", "ingest_runs")
    if delta.exists(spark, path) and (spark.read.format("delta").load(path)
                                     .where(f"_file = '{folder}' AND status = '{MISSING}'").limit(1).count()):
        return                      # a retried task (or a rerun of the day): recorded already
    row = {f.name: None for f in schema.fields}
    row.update(ingest_run_id=run_id, source=plan.source, delivery_date=plan.day, _file=folder, file_sha256="",
               _file_sha256="", status=MISSING, reason=plan.reason, started_at=stamp, finished_at=stamp)
    log = spark.createDataFrame([row], schema)
    delta.append_once(log, path, [f"{folder}:{MISSING}"], change_feed=True)
