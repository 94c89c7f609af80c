"""The sources' business calendar (schemas/calendar.yaml): which days a
delivery is expected on. Loaded and validated here only; the DAGs, the
schedule logic and the tests all ask this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from lakehouse.catalog.load import _fail, _parse, _read_yaml
from lakehouse.catalog.models import CatalogError, _Model

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CalendarError(CatalogError):
    """schemas/calendar.yaml is wrong, or a day lies outside the years it covers."""


class _Holiday(_Model):
    name: str
    from_: date = Field(alias="from")
    to: date
    workdays: list[date] = []

    @model_validator(mode="after")
    def _ordered(self):
        if self.to < self.from_:
            raise ValueError(f"{self.name}: 'to' {self.to} is before 'from' {self.from_}")
        return self


class _CalendarFile(_Model):
    timezone: str
    weekend: list[Literal[WEEKDAYS]]  # type: ignore[valid-type]
    years: list[int]
    holidays: list[_Holiday]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
        return value


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    weekend: frozenset[int]          # date.weekday() numbers
    years: frozenset[int]
    holidays: dict[date, str]        # day off -> holiday name
    workdays: dict[date, str]        # weekend day worked instead -> holiday name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _check_covered(self, day: date) -> None:
        if day.year not in self.years:
            raise CalendarError(
                f"{day} is in {day.year}, a year schemas/calendar.yaml does not cover "
                f"({min(self.years)}-{max(self.years)}): add that year's holidays and make-up workdays "
                f"from the State Council notice, and the year to `years`.")

    def why_no_delivery(self, day: date) -> str | None:
        """None on a business day, else why no delivery is expected ('weekend (Saturday)', 'holiday 春节')."""
        self._check_covered(day)
        if day in self.workdays:
            return None
        if day in self.holidays:
            return f"holiday {self.holidays[day]}"
        if day.weekday() in self.weekend:
            return f"weekend ({WEEKDAYS[day.weekday()].capitalize()})"
        return None

    def is_business_day(self, day: date) -> bool:
        return self.why_no_delivery(day) is None

    def previous_business_day(self, day: date) -> date:
        d = day - timedelta(days=1)
        while not self.is_business_day(d):
            d -= timedelta(days=1)
        return d

    def business_days(self, start: date, end: date) -> list[date]:
        """Business days from start to end, both included."""
        return [start + timedelta(days=i) for i in range((end - start).days + 1)
                if self.is_business_day(start + timedelta(days=i))]


def load_calendar(schemas_dir: Path | None = None) -> BusinessCalendar:
    """Read and check schemas/calendar.yaml: no day both off and worked, make-up
    workdays only on weekend days, every holiday inside (or touching) a covered year."""
    if schemas_dir is None:
        from lakehouse.config import settings
        schemas_dir = settings().schemas_dir
    return _load(Path(schemas_dir))


@lru_cache(maxsize=4)
def _load(root: Path) -> BusinessCalendar:
    path = root / "calendar.yaml"
    if not path.is_file():
        raise CalendarError(f"{path}: missing (the business calendar the daily DAGs follow)")
    try:
        raw: _CalendarFile = _parse(_CalendarFile, _read_yaml(path, root), path, root)
    except CalendarError:
        raise
    except CatalogError as exc:
        raise CalendarError(str(exc)) from None
    years = frozenset(raw.years)
    weekend = frozenset(WEEKDAYS.index(d) for d in raw.weekend)
    holidays: dict[date, str] = {}
    workdays: dict[date, str] = {}
    for h in raw.holidays:
        if h.from_.year not in years and h.to.year not in years:
            _calendar_fail(path, root, "holidays", f"{h.name} {h.from_}..{h.to} lies outside `years`")
        for i in range((h.to - h.from_).days + 1):
            day = h.from_ + timedelta(days=i)
            if day in holidays:
                _calendar_fail(path, root, "holidays", f"{day} is in both {holidays[day]} and {h.name}")
            holidays[day] = h.name
        for w in h.workdays:
            if w.weekday() not in weekend:
                _calendar_fail(path, root, "holidays",
                               f"{h.name}: make-up workday {w} is a {WEEKDAYS[w.weekday()]}, already a workday")
            workdays[w] = h.name
    both = sorted(set(holidays) & set(workdays))
    if both:
        _calendar_fail(path, root, "holidays", f"{both[0]} is both a day off and a make-up workday")
    return BusinessCalendar(raw.timezone, weekend, years, holidays, workdays)


def _calendar_fail(path: Path, root: Path, key: str, msg: str) -> None:
    try:
        _fail(path, root, key, msg)
    except CatalogError as exc:
        raise CalendarError(str(exc)) from None
