"""Small drawing and date helpers every event stream shares."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta


def business_days(start: date, n: int) -> list[date]:
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    s = sum(weights) or 1.0
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    rest = total - sum(out)
    for i in sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))[:rest]:
        out[i] += 1
    return out


def at(day: date, rng: random.Random, start_h: int = 8, span_h: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, start_h) + timedelta(seconds=rng.randrange(span_h * 3600))


def short_name(name: str) -> str:
    """The short name (简称) a clerk types instead of the registered one."""
    for prefix in ("上海市", "上海"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    for suffix in ("股份有限公司", "有限公司", "专业合作社", "服务中心", "培训中心"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name + "门店"


def resend(row: dict, tag: str) -> dict:
    """A row sent again: unchanged values (a duplicate) or a later version."""
    if tag == "dup":
        copy = dict(row)
        copy["_faults"] = list(row.get("_faults", [])) + ["duplicate_resend"]
        return copy
    return row


def weighted(rng: random.Random, pairs) -> object:
    total = sum(w for _, w in pairs)
    r = rng.random() * total
    for v, w in pairs:
        r -= w
        if r < 0:
            return v
    return pairs[-1][0]


def three_years_after(d: date) -> date:
    return d.replace(year=d.year + 3) if not (d.month == 2 and d.day == 29) else d + timedelta(days=1096)


def lag_days(lag: int) -> int:
    """Business days for a feedback lag given in calendar days."""
    return max(1, lag * 5 // 7)
