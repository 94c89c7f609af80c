"""Presets: how big the world is and how much happens each day. The `city`
preset reproduces the 2017 figures of feeds.md ("Numbers to be faithful to")."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from .faults import DEFAULT_DRIFT, Drift, FaultRates


@dataclass(frozen=True)
class JointEvent:
    """A joint inspection the calibration must contain exactly."""

    source: str
    date: date
    lead: str
    participants: tuple[str, ...]
    industry: str
    entities: int
    items: int
    rectify: int


@dataclass(frozen=True)
class Calibration:
    """Exact figures for one district over a window of delivery days."""

    source: str
    window_start: date
    window_end: date
    records: int  # licences + inspections + penalties (distinct record ids)
    pushes: int  # dual notifications pushed to the district's departments
    issued: int  # of those, with 已办证 feedback delivered inside the window
    joint: JointEvent | None = None


@dataclass(frozen=True)
class Preset:
    name: str
    days: int
    start: date
    entities: int  # registry size on the first day
    records_per_year: int  # licences + inspections + penalties, all 17 sources (260 days)
    new_entities_per_day: int
    pushes_per_year: int
    plans: int
    draws: int  # entities drawn over all plans
    websites_share: float = 0.04
    joint_rate: float = 0.05  # chance a district runs a joint inspection on a day
    feed_split: tuple[float, float, float] = (0.38, 0.44, 0.18)  # licences, inspections, penalties
    rates: FaultRates = field(default_factory=FaultRates)
    drift: tuple[Drift, ...] = DEFAULT_DRIFT
    calibration: Calibration | None = None
    truth_rows: bool = True  # rows.jsonl and silver/ (the bench preset only writes files.jsonl)
    protect: tuple[tuple[str, date], ...] = ()  # (source, day) without file faults
    hotspot: str | None = None  # district source where a supervision hotspot is planted (first day)


YEAR_DAYS = 260

_JINGAN_2017 = Calibration(
    source="jingan",
    window_start=date(2017, 1, 2),
    window_end=date(2017, 4, 14),
    records=13_299,
    pushes=1_877,
    issued=1_316,
    joint=JointEvent(
        source="jingan",
        date=date(2017, 3, 22),
        lead="market",
        participants=("env", "safety"),
        industry="H6210",
        entities=66,
        items=17,
        rectify=8,
    ),
)

PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        days=2,
        start=date(2017, 2, 27),
        entities=150,
        records_per_year=20_000,
        new_entities_per_day=6,
        pushes_per_year=2_000,
        plans=1,
        draws=20,
        rates=FaultRates(min_file_faults=0, not_ready_sources=0).scaled(3.0),
    ),
    "small": Preset(
        name="small",
        days=5,
        start=date(2017, 2, 27),
        entities=1_500,
        records_per_year=120_000,
        new_entities_per_day=20,
        pushes_per_year=8_000,
        plans=2,
        draws=120,
        hotspot="jingan",
        rates=replace(
            FaultRates(min_file_faults=2, not_ready_sources=1).scaled(6.0),
            amount_negative=0.02,
            amount_absurd=0.02,
            amount_unparseable=0.02,
        ),
    ),
    "city": Preset(
        name="city",
        days=YEAR_DAYS,
        start=date(2017, 1, 2),
        entities=200_000,
        records_per_year=1_070_000,
        new_entities_per_day=120,
        pushes_per_year=50_000,
        plans=42,
        draws=55_000,
        calibration=_JINGAN_2017,
        protect=(("jingan", date(2017, 4, 14)), ("city", date(2017, 4, 14))),
    ),
    "bench": Preset(
        name="bench",
        days=YEAR_DAYS,
        start=date(2017, 1, 2),
        entities=3_000_000,
        records_per_year=10_000_000,
        new_entities_per_day=1_500,
        pushes_per_year=400_000,
        plans=120,
        draws=500_000,
        truth_rows=False,
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None


__all__ = ["PRESETS", "Preset", "Calibration", "JointEvent", "get_preset", "replace"]
