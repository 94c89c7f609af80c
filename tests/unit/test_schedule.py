"""The business calendar (schemas/calendar.yaml) and the daily decision per
source and day (lakehouse.orchestration.schedule): skip, wait, ingest or missing."""

from __future__ import annotations

import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from lakehouse.catalog.calendar import CalendarError, load_calendar
from lakehouse.config import REPO_ROOT
from lakehouse.orchestration.schedule import cutoff, delivery_day, first_scheduled_day, ingest_since, plan_day

CAL = load_calendar(REPO_ROOT / "schemas")
UTC = timezone.utc


def test_weekdays_weekends_holidays_and_make_up_workdays():
    assert CAL.is_business_day(date(2017, 4, 14))                       # a Friday
    assert CAL.why_no_delivery(date(2017, 4, 15)) == "weekend (Saturday)"
    assert CAL.why_no_delivery(date(2017, 4, 3)) == "holiday 清明节"      # a Monday off
    assert CAL.is_business_day(date(2017, 4, 1))                        # a Saturday worked instead
    assert CAL.why_no_delivery(date(2017, 1, 2)) == "holiday 元旦"       # the 2016-12-31..2017-01-02 period
    assert CAL.why_no_delivery(date(2017, 10, 6)) == "holiday 国庆节、中秋节"


def test_a_year_of_business_days_adds_up():
    days = CAL.business_days(date(2017, 1, 1), date(2017, 12, 31))
    weekdays = sum(1 for i in range(365) if (date(2017, 1, 1) + timedelta(days=i)).weekday() < 5)
    weekday_holidays = sum(1 for d in CAL.holidays if d.year == 2017 and d.weekday() < 5)
    make_up = sum(1 for d in CAL.workdays if d.year == 2017)
    assert len(days) == weekdays - weekday_holidays + make_up == 249    # 2017: 260 - 16 + 5


def test_previous_business_day_jumps_over_a_long_holiday():
    assert CAL.previous_business_day(date(2017, 2, 3)) == date(2017, 1, 26)   # 春节 27 Jan - 2 Feb
    assert ingest_since(date(2017, 2, 3), CAL) == date(2017, 1, 27)
    assert ingest_since(date(2017, 4, 17), CAL) == date(2017, 4, 15)          # Monday: Sat and Sun too
    assert ingest_since(date(2017, 4, 18), CAL) == date(2017, 4, 18)


def test_a_day_outside_the_covered_years_says_what_to_do():
    with pytest.raises(CalendarError, match="does not cover.*State Council notice"):
        CAL.is_business_day(date(2031, 3, 3))


def _calendar_copy(tmp_path: Path, text: str) -> Path:
    root = tmp_path / "schemas"
    root.mkdir()
    (root / "calendar.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("body, message", [
    ("holidays: [{name: X, from: 2017-05-01, to: 2017-05-01, workdays: [2017-05-02]}]",
     "make-up workday 2017-05-02 is a tuesday"),
    ("holidays: [{name: X, from: 2017-05-01, to: 2017-04-30}]", "before 'from'"),
    ("holidays: [{name: X, from: 2017-05-01, to: 2017-05-02}, {name: Y, from: 2017-05-02, to: 2017-05-03}]",
     "2017-05-02 is in both X and Y"),
    ("holidays: [{name: X, from: 2019-05-01, to: 2019-05-02}]", "outside `years`"),
    ("holidays: [{name: X, from: 2017-05-01, to: 2017-05-02, when: 1}]", "when"),
])
def test_a_wrong_calendar_names_the_file_and_the_problem(tmp_path, body, message):
    root = _calendar_copy(tmp_path, f"timezone: Asia/Shanghai\nweekend: [saturday, sunday]\nyears: [2017]\n{body}\n")
    with pytest.raises(CalendarError, match="calendar.yaml") as err:
        load_calendar(root)
    assert message in str(err.value)


def test_an_unknown_time_zone_is_refused(tmp_path):
    root = _calendar_copy(tmp_path, "timezone: Mars/Olympus\nweekend: [sunday]\nyears: [2017]\nholidays: []\n")
    with pytest.raises(CalendarError, match="IANA"):
        load_calendar(root)


def test_the_delivery_day_and_the_cut_off_are_read_in_shanghai_time():
    assert delivery_day(datetime(2017, 4, 13, 16, 0, tzinfo=UTC), CAL) == date(2017, 4, 14)  # 00:00 +08:00
    assert delivery_day(datetime(2017, 4, 14, 0, 0, tzinfo=UTC), CAL) == date(2017, 4, 14)
    # 6 hours after 14 April ends in Shanghai = 15 April 06:00 +08:00 = 14 April 22:00 UTC
    assert cutoff(date(2017, 4, 14), CAL, 6) == datetime(2017, 4, 14, 22, 0, tzinfo=UTC)


def test_the_catch_up_window_bounds_the_start_date():
    today = date(2026, 12, 1)
    assert first_scheduled_day(today, None, 3) == date(2026, 11, 28)
    assert first_scheduled_day(today, date(2017, 1, 1), 3) == date(2026, 11, 28)     # never floods
    assert first_scheduled_day(today, date(2026, 11, 30), 3) == date(2026, 11, 30)
    assert first_scheduled_day(today, date(2017, 1, 1), 4000) == date(2017, 1, 1)


@pytest.fixture
def landing(tmp_path):
    def deliver(source: str, day: str) -> None:
        folder = tmp_path / source / day
        folder.mkdir(parents=True)
        (folder / "_MANIFEST.json").write_text("{}", encoding="utf-8")
    deliver("jingan", "2017-04-14")
    deliver("jingan", "2017-04-16")          # a Sunday delivery
    (tmp_path / "jingan" / "2017-04-13").mkdir(parents=True)   # still uploading: no manifest
    yield tmp_path, deliver
    shutil.rmtree(tmp_path, ignore_errors=True)


def _plan(landing_dir, day: str, now: str):
    return plan_day("jingan", date.fromisoformat(day), landing_dir, CAL, datetime.fromisoformat(now), 6)


def test_plan_for_each_kind_of_day(landing):
    root, _ = landing
    saturday = _plan(root, "2017-04-15", "2017-04-20T00:00+08:00")
    assert saturday.action == "skip" and saturday.reason == "jingan 2017-04-15: no delivery expected: weekend (Saturday)"
    assert _plan(root, "2017-04-03", "2017-04-20T00:00+08:00").reason.endswith("no delivery expected: holiday 清明节")
    sunday = _plan(root, "2017-04-16", "2017-04-20T00:00+08:00")
    assert sunday.action == "ingest" and "day off" in sunday.reason and sunday.since == date(2017, 4, 16)
    friday = _plan(root, "2017-04-14", "2017-04-14T09:00+08:00")
    assert friday.action == "ingest" and friday.since == date(2017, 4, 14)


def test_a_business_day_waits_until_the_cut_off_then_is_missing(landing):
    root, deliver = landing
    assert _plan(root, "2017-04-13", "2017-04-14T05:59+08:00").action == "wait"   # folder without manifest
    missing = _plan(root, "2017-04-13", "2017-04-14T06:00+08:00")
    assert missing.action == "missing"
    assert missing.reason.startswith("jingan: no delivery for business day 2017-04-13 by the cut-off 2017-04-14 06:00")
    deliver("jingan", "2017-04-17")
    monday = _plan(root, "2017-04-17", "2017-04-17T12:00+08:00")
    assert monday.action == "ingest" and monday.since == date(2017, 4, 15)   # the weekend's folders too
