"""Checks of an ingest request before any Spark session starts.

A mistake in the request (a landing folder that does not exist or holds no
deliveries, a reversed --from/--to, a day nobody delivered) is answered in a
second with what, where and what to do, instead of a Spark start and a
"nothing new" that looks like success. Pure Python over a local landing
folder; a landing given as a URI (s3a://...) is listed by Spark later.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path


class PreflightError(ValueError):
    """The request cannot find anything to ingest; str() says what, where and what to do."""


def check_ingest_request(landing: str | Path, sources: Iterable[str] | None, start: date | None,
                         end: date | None, known_sources: Iterable[str]) -> None:
    """Raise PreflightError when the request names nothing that exists; return
    quietly when there is at least one delivery folder to look at."""
    known = sorted(known_sources)
    named = list(sources or [])
    _check_range(start, end)
    unknown = sorted(set(named) - set(known))
    if unknown:
        raise PreflightError(f"unknown source(s) {', '.join(unknown)}: use one of {', '.join(known)} "
                             "(or add schemas/sources/<code>.yaml)")
    text = str(landing)
    if "://" in text and not text.startswith("file:"):
        return
    root = Path(text.removeprefix("file://").removeprefix("file:"))
    _check_landing(root, known)
    wanted = named or known
    delivered = {source: delivery_days(root, source) for source in wanted}
    _check_window(root, delivered, bool(named), start, end)


def delivery_days(root: Path, source: str) -> list[date]:
    """The days of `root/<source>/<YYYY-MM-DD>/` folders, oldest first."""
    base = root / source
    if not base.is_dir():
        return []
    return sorted(date.fromisoformat(p.name) for p in base.iterdir() if _is_day(p.name) and p.is_dir())


def _check_range(start: date | None, end: date | None) -> None:
    if start and end and start > end:
        raise PreflightError(f"--from {start} is after --to {end}: the range is empty; "
                             f"swap them (--from {end} --to {start})")


def _check_landing(root: Path, known: list[str]) -> None:
    where = "set LAKEHOUSE_LANDING or pass --landing"
    if not root.exists():
        raise PreflightError(f"landing folder {root} does not exist: {where} to the folder that holds "
                             "<source>/<YYYY-MM-DD>/ deliveries (e.g. lakehouse generate --preset tiny "
                             f"--out {root} writes a synthetic one)")
    if not root.is_dir():
        raise PreflightError(f"landing {root} is a file, not a folder: {where} to the folder that holds "
                             "<source>/<YYYY-MM-DD>/ deliveries")
    if any(delivery_days(root, source) for source in known):
        return
    hint = ""
    if root.name in known or _is_day(root.name):
        hint = f"; {root} looks like a folder inside a landing, its parent {root.parent} may be the one you meant"
    raise PreflightError(f"landing folder {root} holds no deliveries (no <source>/<YYYY-MM-DD>/ folder for "
                         f"any of the {len(known)} sources){hint}: {where} to the folder the districts "
                         "deliver into, or wait for a delivery")


def _check_window(root: Path, delivered: dict[str, list[date]], named: bool, start: date | None,
                  end: date | None) -> None:
    """Each source named on the command line, or else any source, has a
    delivery folder inside [start, end]."""
    def inside(day: date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    window = _describe(start, end)
    if named:
        for source, days in delivered.items():
            if not any(inside(d) for d in days):
                raise PreflightError(f"{source} has no delivery folder {window} in {root} "
                                     f"({root / source / _folder_pattern(start, end)} does not exist); "
                                     f"{_choices(source, days)}")
        return
    if not any(inside(d) for days in delivered.values() for d in days):
        every = sorted({d for days in delivered.values() for d in days})
        raise PreflightError(f"no source has a delivery folder {window} in {root}; delivered days there: "
                             f"{_span(every)}; pick --date/--from/--to among them")


def _choices(source: str, days: list[date]) -> str:
    if not days:
        return f"{source} has delivered nothing yet: drop --source {source} or wait for its first delivery"
    return f"its delivered days: {_span(days)}; pick --date/--from/--to among them"


def _span(days: list[date]) -> str:
    if len(days) <= 6:
        return ", ".join(d.isoformat() for d in days)
    return f"{days[0]} ... {days[-1]} ({len(days)} folders)"


def _describe(start: date | None, end: date | None) -> str:
    if start and end:
        return f"for {start}" if start == end else f"from {start} to {end}"
    if start:
        return f"on or after {start}"
    return f"on or before {end}" if end else "at all"


def _folder_pattern(start: date | None, end: date | None) -> str:
    return start.isoformat() if start and start == end else "<YYYY-MM-DD>"


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True
