"""What happens each business day: registry changes, dual notifications,
random plans and their draws, abnormal and serious-violation listings,
website crawls (the city's stream), and the licences, inspections and
penalties of every source (one stream per source).

Every stream draws from its own random generator seeded by (seed, stream,
day), so the world is the same whichever sources are written. Rows are dicts
of canonical fields holding the values *as sent* (faults applied); keys
starting with `_` are bookkeeping (`_faults`, `_protected`)."""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta

from lakehouse.catalog import Catalog

from . import vocab
from .addresses import Parts, render
from .faults import FaultRates, identity_fault, name_fault, value_fault
from .presets import Preset
from .world import Departments, Registry


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


STATUS_UPDATES = {
    "licences": (("CANCELLED", 0.6), ("REVOKED", 0.2), ("WITHDRAWN", 0.2)),
    "penalties": (("EXECUTED", 0.75), ("REVOKED", 0.25)),
}
INSPECTION_RESULTS = (
    ("NO_ISSUE", 70),
    ("RECTIFY_ORDERED", 15),
    ("CASE_OPENED", 5),
    ("NOT_OPERATING", 4),
    ("UNREACHABLE", 4),
    ("REFUSED", 2),
)


HOTSPOT_INSPECTIONS = 6   # per month at the planted hotspot: none with problems, then all


class World:
    def __init__(self, preset: Preset, seed: int, start: date, catalog: Catalog, days: int):
        self.preset, self.seed, self.catalog = preset, seed, catalog
        self.rates: FaultRates = preset.rates
        # Plans, rates and schedules are laid over the preset's days (its horizon), never
        # over the number of days asked for: day i's rows depend on the seed and i only,
        # so a longer run rewrites no earlier day. The calendar reaches as far as asked.
        self.horizon = preset.days
        self.days = business_days(start, max(days, self.horizon))
        self.index = {d: i for i, d in enumerate(self.days)}
        self.div_names = {code: d.name for code, d in catalog.districts.items()}
        self.source_div = {s.code: s.division_code for s in catalog.sources.values()}
        self.templates = {s.code: s.template for s in catalog.sources.values()}
        self.district_sources = [
            s for s in sorted(self.source_div, key=lambda s: self.source_div[s]) if s != "city"
        ]
        legacy_depts = {
            ("310106", "planning"): "310108",
            ("310106", "greening"): "310108",
            ("310101", "greening"): "310103",
            ("310151", "planning"): "310230",
        }
        unknown_depts = {("310113", "greening"): "310193"}
        self.departments = Departments(seed, self.div_names, legacy_depts, unknown_depts)
        self.registry = Registry(seed, self.div_names, self.rates)
        self.registry.populate(preset.entities, start)
        reg = self.registry
        # places of business are picked among the buildings of the first day (a district without
        # any entity gets one), so that a later entity's arrival never moves another's
        for div in reg.divisions:
            if not reg.buildings.by_div.get(div):
                reg.buildings.by_div[div] = [reg.buildings._new(reg.buildings.rng)]
        self.first_buildings = {div: len(reg.buildings.by_div[div]) for div in reg.divisions}
        self.addr_rng = random.Random(f"{seed}:addresses:city")
        rng = random.Random(f"{seed}:history")
        for idx in range(len(reg)):  # some entities were renamed before the first day
            if reg.etype[idx] == "企业" and reg.established[idx] < date(2014, 1, 1) and rng.random() < 0.04:
                reg.rename(idx, datetime(2016, 1, 4, 10) + timedelta(minutes=rng.randrange(500000)))
        self.month_first = set()
        seen = set()
        for d in self.days:
            if (d.year, d.month) not in seen:
                seen.add((d.year, d.month))
                self.month_first.add(d)
        self.month_first.add(self.days[0])
        # schedules keyed by day index
        self.random_insp: dict[tuple[str, int], list] = {}
        self.abnormal_due: dict[int, list] = {}
        self.removal_due: dict[int, list] = {}
        self.serious_due: dict[int, list] = {}
        self.feedback_due: dict[int, list] = {}
        self.plan_results_due: dict[int, list] = {}
        self.pending: dict[tuple[str, int], list] = {}  # resends per source and day
        self.seq: dict[str, int] = {}
        self._rates_per_day()
        self._plan_plans()
        self._plan_calibration()
        self._plan_history()
        self._plan_websites()
        self._plan_hotspot()

    # ------------------------------------------------------------------ setup
    def _rates_per_day(self) -> None:
        p = self.preset
        weights = {"city": 3.0}
        weights.update({s: vocab.DISTRICT_WEIGHTS[self.source_div[s]] for s in self.district_sources})
        random_per_day = p.draws / max(1, self.horizon)
        base_total = max(0.0, p.records_per_year / 260 - random_per_day)
        cal = p.calibration
        fixed = {}
        if cal:
            n_win = sum(1 for d in self.days[: self.horizon] if cal.window_start <= d <= cal.window_end) or 1
            fixed[cal.source] = cal.records / n_win
        free = base_total - sum(fixed.values())
        wsum = sum(w for s, w in weights.items() if s not in fixed)
        self.records_mean = {s: fixed.get(s, free * w / wsum) for s, w in weights.items()}
        div_w = {
            self.source_div[s]: vocab.DISTRICT_WEIGHTS[self.source_div[s]] for s in self.district_sources
        }
        push_day = p.pushes_per_year / 260
        pfixed = {}
        if cal:
            pfixed[self.source_div[cal.source]] = cal.pushes / max(1, n_win)
        pfree = push_day - sum(pfixed.values())
        pw = sum(w for d, w in div_w.items() if d not in pfixed)
        self.push_mean = {d: pfixed.get(d, pfree * w / pw) for d, w in div_w.items()}
        self.new_mean = {d: p.new_entities_per_day * w / sum(div_w.values()) for d, w in div_w.items()}

    def _plan_plans(self) -> None:
        p, rng, n = self.preset, random.Random(f"{self.seed}:plans"), self.horizon
        self.plans_by_day: dict[int, list] = {}
        self.plan_shortfall = 0
        if p.plans <= 0:
            return
        first, last = max(0, int(n * 0.15)), max(0, int(n * 0.8))
        if n <= 10:
            first, last = min(1, n - 1), max(0, n - 2)
        shares = [0.5 + rng.random() for _ in range(p.plans)]
        targets = allocate(p.draws, shares)
        industries = [i[0] for i in vocab.INDUSTRIES]
        for k in range(p.plans):
            day = first + (last - first) * k // max(1, p.plans - 1) if p.plans > 1 else first
            city_level = rng.random() < 0.3
            div = (
                "310000"
                if city_level
                else rng.choices(list(vocab.DISTRICT_WEIGHTS), list(vocab.DISTRICT_WEIGHTS.values()))[0]
            )
            inds = rng.sample(industries, rng.choice((2, 3, 4)))
            kinds = rng.sample(["env", "safety", "health", "culture", "commerce"], rng.choice((1, 2)))
            self.plans_by_day.setdefault(day, []).append(
                {
                    "n": k + 1,
                    "div": div,
                    "industries": inds,
                    "participants": kinds,
                    "target": targets[k],
                    "length": rng.randrange(15, 40),
                }
            )

    def _plan_calibration(self) -> None:
        cal = self.preset.calibration
        self.cal_records: dict[int, int] = {}
        self.cal_pushes: dict[int, list] = {}
        self.cal_deficit = 0
        self.cal_window = set()
        if not cal:
            return
        rng = random.Random(f"{self.seed}:calibration")
        win = [i for i, d in enumerate(self.days[: self.horizon]) if cal.window_start <= d <= cal.window_end]
        if not win:
            return
        self.cal_window = set(win)
        for i, c in zip(win, allocate(cal.records, [0.8 + 0.4 * rng.random() for _ in win]), strict=False):
            self.cal_records[i] = c
        counts = allocate(cal.pushes, [0.7 + 0.6 * rng.random() for _ in win])
        pushes = []
        for i, c in zip(win, counts, strict=False):
            for _ in range(c):
                lag = rng.randrange(2, 25)
                pushes.append([i, lag, None])
        candidates = [p for p in pushes if p[0] + lag_days(p[1]) <= win[-1]]
        rng.shuffle(candidates)
        for p in candidates[: cal.issued]:
            p[2] = "ISSUED"
        for p in candidates[cal.issued :]:
            p[2] = rng.choice(("REFUSED", "NOT_NEEDED", "NONE", "NONE"))
        for p in pushes:
            if p[2] is None:
                p[2] = rng.choices(("ISSUED", "REFUSED", "NOT_NEEDED", "NONE"), (72, 5, 10, 13))[0]
            self.cal_pushes.setdefault(p[0], []).append((p[1], p[2]))

    def _plan_history(self) -> None:
        """Open abnormal-list entries from before the first day (delivered on day 0), and when they
        move to the serious-violation list (three years unresolved)."""
        reg, rng = self.registry, random.Random(f"{self.seed}:abnormal-history")
        start = self.days[0]
        self.history_abnormal = []
        for idx in range(len(reg)):
            if reg.etype[idx] != "企业" or reg.established[idx] > start - timedelta(days=400):
                continue
            if rng.random() < 0.02:
                listed = start - timedelta(days=rng.randrange(30, 4 * 365))
                reason = rng.choice(("unreachable", "no_report"))
                entry = {
                    "idx": idx,
                    "listed": listed,
                    "reason": reason,
                    "updated": at(listed, rng),
                    "dept": self._market(reg.district[idx]),
                }
                self.history_abnormal.append(entry)
                self._follow_up(entry, rng)

    def _follow_up(self, entry: dict, rng: random.Random) -> None:
        """Schedule removal, or the move to the serious-violation list after three years."""
        anniversary = three_years_after(entry["listed"])
        if rng.random() < 0.2:
            when = entry["listed"] + timedelta(days=rng.randrange(30, 500))
            i = self._day_on_or_after(when)
            if when < anniversary and i is not None:
                self.removal_due.setdefault(i, []).append(entry)
                return
        i = self._day_on_or_after(anniversary)
        if i is not None:
            self.serious_due.setdefault(i, []).append(entry)
        elif anniversary < self.days[0]:
            self.serious_due.setdefault(0, []).append(entry)

    def _day_on_or_after(self, d: date) -> int | None:
        if d < self.days[0] or d > self.days[-1]:
            return None
        while d not in self.index:
            d += timedelta(days=1)
        return self.index[d]

    def _plan_websites(self) -> None:
        reg, rng = self.registry, random.Random(f"{self.seed}:websites")
        self.websites = []
        used = set()
        for idx in range(len(reg)):
            if reg.etype[idx] != "企业":
                continue
            fin = reg.industry[idx] == "J6639"
            if rng.random() < (0.4 if fin else self.preset.websites_share):
                while True:
                    dom = "".join(rng.choice("abcdefghjklmnpqrstwxyz") for _ in range(rng.randrange(5, 10)))
                    dom += rng.choice((".com", ".cn", ".com.cn", ".net"))
                    if dom not in used:
                        used.add(dom)
                        break
                self.websites.append(
                    {
                        "idx": idx,
                        "domain": dom,
                        "icp": f"沪ICP备{rng.randrange(10**7, 10**8)}号",
                        "p2p": rng.random() < (0.6 if fin else 0.01),
                    }
                )

    # ---------------------------------------------------------------- helpers
    def _market(self, div: str) -> dict:
        return self.departments.by_div_kind[(div, "market")]

    def _next_seq(self, key: str) -> int:
        self.seq[key] = self.seq.get(key, 0) + 1
        return self.seq[key]

    def _entity_fields(self, rng, row: dict, idx: int, template: str, protected: bool = False) -> None:
        reg = self.registry
        if protected:
            row["uscc_as_sent"], row["entity_name"] = reg.uscc[idx], reg.name[idx]
            return
        sent, f1 = identity_fault(rng, self.rates, reg.uscc[idx], reg.reg_no[idx], template, reg)
        name, f2 = name_fault(rng, self.rates, reg.name[idx], reg.former[idx])
        if (
            f1 in ("uscc_bad_check", "uscc_wrong_length", "x_numeric_uscc")
            and rng.random() < self.rates.name_short
        ):
            name, f2 = short_name(reg.name[idx]), "name_short"  # nothing left to match: unresolvable
        row["uscc_as_sent"], row["entity_name"] = sent, name
        row["_faults"] = [f for f in (f1, f2) if f]

    def _homepage(self, rng, site) -> str:
        parts = rng.sample(vocab.PLAIN_PHRASES, 3)
        if site["p2p"]:
            parts += rng.sample(vocab.P2P_PHRASES, 2)
        rng.shuffle(parts)
        return "，".join(parts) + "。"

    # ------------------------------------------------------------ city stream
    def city_day(self, i: int) -> dict[str, list[dict]]:
        """Everything the city delivers on day i (also updates the registry). The steps
        draw from one stream in this order: moving one changes every later value."""
        reg = self.registry
        rng = random.Random(f"{self.seed}:city-stream:{i}")
        self.n_before_today = len(reg)
        self.pool_len = {d: len(p) for d, p in reg.pool.items()}
        out = {t.feed: [] for t in self.catalog.tables.values() if not t.district_held}
        n = len(reg)  # entities before today's registrations: what today's events pick from
        changed = self._registry_changes(i, rng)
        changed += self._registrations(i, rng, out["dual_notifications"])
        self._feedback(i, rng, out["dual_notifications"])
        self._random_plans(i, rng, out)
        self._abnormal_list(i, rng, n, out["abnormal_list"])
        self._serious_violations(i, rng, out["serious_violations"])
        self._website_crawls(i, rng, out["website_filings"])
        self._registry_snapshot(i, changed, out)
        self._city_resends(i, rng, out)
        return out

    def _registry_changes(self, i: int, rng) -> list[int]:
        """Renames, ends (注销, 吊销, 迁出) and moves of the day: the entities changed."""
        reg, day, n = self.registry, self.days[i], len(self.registry)
        changed: list[int] = []
        for _ in range(int(n * 0.0001 + rng.random())):
            idx = rng.randrange(n)
            if reg.etype[idx] == "企业" and reg.status[idx] == "存续":
                reg.rename(idx, at(day, rng))
                changed.append(idx)
        for _ in range(int(n * 0.0002 + rng.random())):
            idx = rng.randrange(n)
            if reg.status[idx] == "存续":
                reg.end(idx, at(day, rng), rng.choice(("注销", "注销", "注销", "吊销", "迁出")))
                changed.append(idx)
        for _ in range(int(n * 0.0002 + rng.random())):
            idx = rng.randrange(n)
            reg.move(idx, at(day, rng))
            changed.append(idx)
        return changed

    def _registrations(self, i: int, rng, notifications: list[dict]) -> list[int]:
        """New registrations per district and their dual notifications (feedback scheduled)."""
        reg, day = self.registry, self.days[i]
        cal = self.preset.calibration
        cal_div = self.source_div[cal.source] if cal else None
        changed: list[int] = []
        for div in reg.divisions:
            pushes = self._day_pushes(i, div, cal_div, rng)
            n_new = max(
                math.ceil(len(pushes) / 1.7),
                int(self.new_mean[div] * (0.7 + 0.6 * rng.random()) + rng.random()),
            )
            new = [reg.add(day, div=div) for _ in range(n_new)]
            for idx in new:
                reg.updated[idx] = at(day, rng, 9, 2)
            changed.extend(new)
            targets = self.departments.push_targets[div]
            for j, (lag, outcome) in enumerate(pushes):
                dept = rng.choice(targets)
                row = self._push_row(i, new[j % len(new)], dept, rng, protected=div == cal_div)
                notifications.append(row)
                if outcome != "NONE":
                    self.feedback_due.setdefault(i + lag_days(lag), []).append((row, outcome, dept))
        return changed

    def _day_pushes(self, i: int, div: str, cal_div: str | None, rng) -> list[tuple[int, str]]:
        """(feedback lag in days, outcome) of each notification district `div` is pushed today."""
        if div == cal_div and i in self.cal_window:
            return list(self.cal_pushes.get(i, []))
        k = int(self.push_mean[div] * (0.7 + 0.6 * rng.random()) + rng.random())
        return [
            (rng.randrange(2, 30), rng.choices(("ISSUED", "REFUSED", "NOT_NEEDED", "NONE"), (72, 5, 10, 13))[0])
            for _ in range(k)
        ]

    def _push_row(self, i: int, idx: int, dept: dict, rng, protected: bool) -> dict:
        """A dual notification: the new entity idx pushed to the department deciding its licence."""
        reg, day = self.registry, self.days[i]
        matter = dept["_types"][0] if dept["_types"] else vocab.PUSH_MATTERS.get(dept["_kind"], "其他许可事项")
        pushed = reg.updated[idx] + timedelta(minutes=30 + rng.randrange(300))
        row = {
            "notification_id": f"SGZ{day.year}{self._next_seq('push'):07d}",
            "registered_date": day,
            "licence_matter": matter,
            "pushed_department_code": dept["department_code"],
            "pushed_at": pushed,
            "feedback_status": "NO_FEEDBACK",
            "feedback_at": None,
            "licence_no": None,
            "updated_at": pushed,
        }
        self._entity_fields(rng, row, idx, "S", protected=protected)
        return row

    def _feedback(self, i: int, rng, notifications: list[dict]) -> None:
        """Departments' feedback due today: a later version of each notification."""
        day = self.days[i]
        for row, outcome, dept in self.feedback_due.pop(i, []):
            upd = dict(row)
            upd["_faults"] = list(row.get("_faults", []))
            upd["feedback_status"] = outcome
            upd["feedback_at"] = at(day, rng)
            upd["updated_at"] = upd["feedback_at"]
            if outcome == "ISSUED":
                upd["licence_no"] = f"{dept['_abbr']}许{day.year}{rng.randrange(10**6):06d}"
            notifications.append(upd)

    def _random_plans(self, i: int, rng, out: dict) -> None:
        """Plans starting today (with their draws) and plans whose results are published today."""
        day = self.days[i]
        for plan in self.plans_by_day.get(i, []):
            self._start_plan(i, plan, rng, out)
        for plan_row in self.plan_results_due.pop(i, []):
            upd = dict(plan_row)
            upd["results_published_date"] = day
            upd["updated_at"] = at(day, rng)
            out["random_plans"].append(upd)

    def _abnormal_list(self, i: int, rng, n: int, rows: list[dict]) -> None:
        """Abnormal-list entries: history (day 0), due listings, the unreachable, July's
        missing annual reports, then removals. `n`: entities before today's registrations."""
        reg, day = self.registry, self.days[i]
        if i == 0:
            for e in self.history_abnormal:
                rows.append(self._list_row(rng, e, "abnormal"))
        for e in self.abnormal_due.pop(i, []):
            e["listed"] = day
            e["updated"] = at(day, rng)
            rows.append(self._list_row(rng, e, "abnormal"))
            self._follow_up(e, rng)
        for _ in range(int(n * 0.00003 + rng.random())):
            self._list_new(rng, rng.randrange(n), day, "unreachable", rows)
        if day.month == 7 and (i == 0 or self.days[i - 1].month != 7):  # annual reports were due 30 June
            for idx in range(n):
                if (
                    reg.etype[idx] == "企业"
                    and reg.status[idx] == "存续"
                    and reg.established[idx].year < day.year
                    and rng.random() < 0.02
                ):
                    self._list_new(rng, idx, day, "no_report", rows)
        for e in self.removal_due.pop(i, []):
            e["removed"] = max(day, e["listed"])
            e["updated"] = at(day, rng)
            rows.append(self._list_row(rng, e, "abnormal"))

    def _list_new(self, rng, idx: int, day: date, reason: str, rows: list[dict]) -> None:
        """Entity idx listed as abnormal today for `reason` (its removal or move scheduled)."""
        e = {
            "idx": idx,
            "listed": day,
            "reason": reason,
            "updated": at(day, rng),
            "dept": self._market(self.registry.district[idx]),
        }
        rows.append(self._list_row(rng, e, "abnormal"))
        self._follow_up(e, rng)

    def _serious_violations(self, i: int, rng, rows: list[dict]) -> None:
        """Abnormal entries three years unresolved move to the serious-violation list."""
        day = self.days[i]
        for e in self.serious_due.pop(i, []):
            listed = day if i > 0 else min(day, three_years_after(e["listed"]))
            s = {
                "idx": e["idx"],
                "listed": listed,
                "reason": "serious",
                "updated": at(day, rng),
                "dept": self._market("310000"),
            }
            rows.append(self._list_row(rng, s, "serious"))

    def _website_crawls(self, i: int, rng, rows: list[dict]) -> None:
        """Every filed website crawled on day 0, then a few a day."""
        day = self.days[i]
        if i == 0:
            for site in self.websites:
                site["text"] = self._homepage(rng, site)
                rows.append(self._site_row(rng, site, at(day, rng, 0, 6)))
        elif self.websites:
            for _ in range(int(len(self.websites) * 0.003 + rng.random())):
                site = self.websites[rng.randrange(len(self.websites))]
                site["text"] = self._homepage(rng, site)
                rows.append(self._site_row(rng, site, at(day, rng, 0, 6)))

    def _registry_snapshot(self, i: int, changed: list[int], out: dict) -> None:
        """Registry and departments: a full snapshot on the first day and the first day of a
        month, else the entities changed today (once each, in order of change)."""
        if self.days[i] in self.month_first:
            out["entities"] = range(len(self.registry))
            out["departments"] = self.departments.rows
        else:
            out["entities"] = list(dict.fromkeys(changed))

    def _city_resends(self, i: int, rng, out: dict) -> None:
        """Some faulty list rows are sent again unchanged on a later day; today's are added."""
        for feed in ("dual_notifications", "abnormal_list"):
            for row in out[feed]:
                if "_faults" in row and rng.random() < self.rates.duplicate_resend:
                    self.pending.setdefault(("city-lists", i + 1 + rng.randrange(5)), []).append(
                        (feed, row, "dup")
                    )
        for feed, row, tag in self.pending.pop(("city-lists", i), []):
            out[feed].append(resend(row, tag))

    def _list_row(self, rng, e: dict, kind: str) -> dict:
        row = {
            "listed_date": e["listed"],
            "listed_reason": vocab.SERIOUS_REASON
            if kind == "serious"
            else vocab.LIST_REASONS_ABNORMAL[e["reason"]],
            "decided_by_department_code": e["dept"]["department_code"],
            "removed_date": e.get("removed"),
            "removed_reason": vocab.REMOVE_REASONS.get(e["reason"]) if e.get("removed") else None,
            "updated_at": e["updated"],
            "_kind": kind,
        }
        if "sent" in e:
            row["uscc_as_sent"], row["entity_name"], faults = e["sent"]
            row["_faults"] = list(faults)
        else:
            self._entity_fields(rng, row, e["idx"], "S")
            e["sent"] = (row["uscc_as_sent"], row["entity_name"], row.get("_faults", []))
        return row

    def _site_row(self, rng, site, crawled: datetime) -> dict:
        row = {
            "domain": site["domain"],
            "icp_no": site["icp"],
            "homepage_text": site["text"],
            "crawled_at": crawled,
        }
        if "sent" in site:
            row["uscc_as_sent"], faults = site["sent"]
            row["_faults"] = list(faults)
        else:
            self._entity_fields(rng, row, site["idx"], "S")
            row["_faults"] = [f for f in row.get("_faults", []) if not f.startswith("name_")]
            site["sent"] = (row["uscc_as_sent"], list(row["_faults"]))
        row.pop("entity_name", None)
        return row

    def _start_plan(self, i: int, plan: dict, rng, out) -> None:
        """A random plan starts: its row, its draws, and their inspections scheduled."""
        reg, day = self.registry, self.days[i]
        div = plan["div"]
        target = plan["target"] + self.plan_shortfall
        population = self._plan_population(plan, target, rng)
        pop = len(population)
        ratio = round(min(0.5, target / pop), 4) if pop else 0.0
        draws = round(pop * ratio)
        self.plan_shortfall = max(0, target - draws)
        lead = self._market(div)
        parts = [self.departments.by_div_kind[(div, k)]["department_code"] for k in plan["participants"]]
        scope = (
            ("全市" if div == "310000" else self.div_names[div])
            + "、".join(reg.ind[x][1] for x in plan["industries"])
            + "行业市场主体"
        )
        end_i = min(self.horizon - 1, i + plan["length"])
        row = {
            "plan_id": f"SJ{day.year}{div[2:]}{plan['n']:03d}",
            "plan_name": f"{day.year}年{scope}双随机抽查",
            "lead_department_code": lead["department_code"],
            "participant_department_codes": parts,
            "scope": scope,
            "sampling_ratio": ratio,
            "population": pop,
            "start_date": day,
            "end_date": self.days[end_i],
            "results_published_date": None,
            "updated_at": at(day, rng, 8, 1),
        }
        out["random_plans"].append(row)
        self.plan_results_due.setdefault(end_i + 5, []).append(row)
        for idx in rng.sample(population, draws):
            self._draw(i, end_i, row["plan_id"], div, lead, idx, rng, out["random_draws"])

    def _plan_population(self, plan: dict, target: int, rng) -> list[int]:
        """The entities a plan draws from: its industries in its district(s) (the city: all),
        widened by further industries until the target is at most 30% of it."""
        reg, div = self.registry, plan["div"]
        divs = reg.divisions if div == "310000" else [div]
        inds = list(plan["industries"])
        others = [x[0] for x in vocab.INDUSTRIES if x[0] not in inds]
        rng.shuffle(others)

        def population_of(industries):
            found = []
            for d in divs:
                for ind in industries:
                    found.extend(x for x in reg.pool_ind.get((d, ind), ()) if x < self.n_before_today)
            return found

        population = population_of(inds)
        while len(population) * 0.3 < target and others:  # widen the scope until the target fits
            inds.append(others.pop())
            population = population_of(inds)
        plan["industries"] = inds
        return population

    def _draw(self, i: int, end_i: int, plan_id: str, div: str, lead: dict, idx: int, rng, draws: list) -> None:
        """Entity idx drawn for a plan: the draw row, and its inspection (delivered by the
        holding source between today and the plan's end; an unreachable one gets listed)."""
        reg, day = self.registry, self.days[i]
        drow = {
            "plan_id": plan_id,
            "drawn_at": at(day, rng, 9, 1),
            "inspector_ids": [f"ZF{div[2:]}{rng.randrange(10000):04d}" for _ in range(2)],
            "updated_at": None,
        }
        drow["updated_at"] = drow["drawn_at"]
        self._entity_fields(rng, drow, idx, "S")
        draws.append(drow)
        insp_i = rng.randint(i, end_i)
        deliver_i = insp_i + rng.choice((0, 0, 1, 2))
        result = weighted(rng, INSPECTION_RESULTS)
        if reg.status[idx] != "存续":
            result = "NOT_OPERATING"
        holder = "city" if div == "310000" else self.catalog.districts[div].code
        self.random_insp.setdefault((holder, deliver_i), []).append((plan_id, idx, lead, insp_i, result))
        if result == "UNREACHABLE":
            e = {"idx": idx, "reason": "unreachable", "dept": lead}
            self.abnormal_due.setdefault(deliver_i + rng.randrange(5, 15), []).append(e)

    # -------------------------------------------------------- district streams
    def district_day(self, source: str, i: int) -> dict[str, list[dict]]:
        """Licences, inspections and penalties `source` delivers on day i (call after city_day(i))."""
        day, seed = self.days[i], self.seed
        rng = random.Random(f"{seed}:{source}:{i}")
        self.addr_rng = random.Random(f"{seed}:{source}:{i}:addresses")
        template = self.templates[source]
        div = self.source_div[source]
        out: dict[str, list[dict]] = {f: [] for f in self.catalog.district_feeds}
        randoms = self.random_insp.pop((source, i), [])
        for plan_id, idx, dept, insp_i, result in randoms:
            row = self._inspection(
                rng, source, div, day, idx, dept, self.days[insp_i], "RANDOM", result, template
            )
            row["plan_id"] = plan_id
            out["inspections"].append(row)
        joint_rows = self._joints(rng, source, div, i, template)
        out["inspections"].extend(joint_rows)
        base = self._records_today(source, i, rng, len(randoms) + len(joint_rows))
        self._ordinary_records(rng, source, div, day, template, base, out)
        if self.hotspot and source == self.hotspot["source"] and i == 0:
            out["inspections"].extend(self._hotspot_rows(source, div, day, template))
        # value faults, then schedule resends and corrections
        for feed, rows in out.items():
            for row in rows:
                if row.get("_protected"):
                    continue
                self._value_fault(rng, row, feed, day, template)
                self._schedule_resends(rng, source, i, feed, row)
        for feed, row, tag in self.pending.pop((source, i), []):
            out[feed].append(resend(row, tag))
        return out

    def _records_today(self, source: str, i: int, rng, planned: int) -> int:
        """How many ordinary records `source` delivers on day i (the calibration source: what
        its window still needs after the `planned` random and joint inspections)."""
        cal = self.preset.calibration
        if cal and source == cal.source and i in self.cal_records:
            base = self.cal_records[i] + self.cal_deficit - planned
            self.cal_deficit = min(0, base)
            return max(0, base)
        return int(self.records_mean[source] * (0.75 + 0.5 * rng.random()) + rng.random())

    def _ordinary_records(self, rng, source, div, day, template, base: int, out: dict) -> None:
        """`base` records split into licences, inspections and penalties by preset.feed_split."""
        split = self.preset.feed_split
        counts = [0, 0, 0]
        for _ in range(base):
            r = rng.random()
            counts[0 if r < split[0] else (1 if r < split[0] + split[1] else 2)] += 1
        for _ in range(counts[0]):
            out["licences"].append(self._licence(rng, source, div, day, template))
        for _ in range(counts[1]):
            idx = self._pick(rng, div)
            kind = weighted(rng, (("ROUTINE", 55), ("SPECIAL", 20), ("COMPLAINT", 25)))
            dept = self._dept(rng, div, "inspections")
            out["inspections"].append(
                self._inspection(
                    rng, source, div, day, idx, dept, self._event_date(rng, day), kind,
                    weighted(rng, INSPECTION_RESULTS), template,
                )
            )
        for _ in range(counts[2]):
            out["penalties"].append(self._penalty(rng, source, div, day, template))

    def _plan_hotspot(self) -> None:
        """A supervision hotspot to find (preset.hotspot names the district source): the
        building of that district with the most entities, where on the first day the
        district delivers HOTSPOT_INSPECTIONS inspections finding nothing the month
        before and as many finding problems this month."""
        self.hotspot = None
        source = self.preset.hotspot
        if not source or source not in self.source_div or self.horizon < 2:
            return
        reg, div = self.registry, self.source_div[source]
        tenants: dict[int, list[int]] = {}
        for idx in reg.pool[div]:
            if reg.status[idx] == "存续" and reg.address_parts[idx] is not None:
                tenants.setdefault(reg.building[idx], []).append(idx)
        if not tenants:
            return
        b = max(sorted(tenants), key=lambda k: len(tenants[k]))
        day = self.days[0]
        self.hotspot = {
            "source": source,
            "delivered": day.isoformat(),
            "building": list(reg.address_parts[tenants[b][0]][:5]),   # district, road, lane, number, building
            "month": day.replace(day=1).isoformat(),
            "month_before": (day - timedelta(days=35)).replace(day=1).isoformat(),
            "inspections": HOTSPOT_INSPECTIONS,
            "entities": [reg.uscc[x] for x in tenants[b]],
        }
        self.hotspot_entities = tenants[b]

    def _hotspot_rows(self, source: str, div: str, day: date, template: str) -> list[dict]:
        rng = random.Random(f"{self.seed}:hotspot")   # its own stream: the day's other rows stay
        dept, ents = self._market(div), self.hotspot_entities
        rows = []
        for k in range(2 * HOTSPOT_INSPECTIONS):
            before = k < HOTSPOT_INSPECTIONS
            result = "NO_ISSUE" if before else ("CASE_OPENED" if k % 2 else "RECTIFY_ORDERED")
            idate = day - timedelta(days=35) if before else day
            rows.append(self._inspection(rng, source, div, day, ents[k % len(ents)], dept, idate, "SPECIAL",
                                         result, template, protected=True))
        return rows

    def _pick(self, rng, div: str) -> int:
        reg = self.registry
        if div == "310000" or rng.random() < 0.1:
            return rng.randrange(self.n_before_today)
        n = self.pool_len[div]
        return reg.pool[div][rng.randrange(n)] if n else rng.randrange(self.n_before_today)

    def _dept(self, rng, div: str, feed: str) -> dict:
        kind = weighted(
            rng,
            (
                ("market", 65),
                ("env", 8),
                ("safety", 8),
                ("health", 7),
                ("culture", 4),
                ("commerce", 4),
                ("construction", 4),
            ),
        )
        return self.departments.by_div_kind[(div, kind)]

    def _event_date(self, rng, day: date) -> date:
        if rng.random() < self.rates.late:
            return day - timedelta(days=rng.randrange(61, 400))
        return day - timedelta(
            days=weighted(rng, ((0, 30), (1, 25), (2, 15), (3, 10), (5, 10), (10, 6), (20, 4)))
        )

    def _address(self, rng, idx: int, div: str) -> tuple[str, Parts | None]:
        """Where a record of district `div` places entity idx, and what that reads as:
        its domicile, or (registered elsewhere) a place of business in div that stays
        the same for the entity."""
        reg = self.registry
        if div == "310000" or reg.district[idx] == div:
            return reg.address[idx], reg.address_parts[idx]
        rng.randrange(len(vocab.ROADS)), rng.randrange(2000)   # the draws of before: other values stay
        b = (idx * 7919 + 13) % self.first_buildings[div]
        floor = 1 + idx % 30
        return render(self.addr_rng, reg.buildings, self.div_names, div, b, floor, floor * 100 + 1 + idx % 20,
                      self.rates)

    def _record_id(self, source: str, letter: str, day: date) -> str:
        return f"{vocab.SOURCE_PREFIX[source]}-{letter}-{day.year}-{self._next_seq(source + letter):07d}"

    def _licence(self, rng, source, div, day, template) -> dict:
        reg = self.registry
        idx = self._pick(rng, div)
        types = reg.ind[reg.industry[idx]][4] or self.catalog.known_licence_types
        ltype = rng.choice(types)
        dept = self.departments.by_licence_type.get((div, ltype)) or self._market(div)
        dd = self._event_date(rng, day)
        if ltype == "食品经营许可":
            no = f"JY3{div[2:6]}{rng.randrange(10**8):08d}"
        else:
            no = f"{dept['_abbr']}许字〔{dd.year}〕第{rng.randrange(10**5):05d}号"
        row = {
            "record_id": self._record_id(source, "L", day),
            "licence_no": no,
            "licence_type": ltype,
            "department_code": dept["department_code"],
            "department_name": dept["department_name"],
            "decision_date": dd,
            "valid_from": dd,
            "valid_to": dd.replace(year=dd.year + 5) - timedelta(days=1)
            if not (dd.month == 2 and dd.day == 29)
            else dd + timedelta(days=1825),
            "status": "VALID",
            "address": None,
            "updated_at": at(day, rng),
        }
        row["address"], row["_address_parts"] = self._address(rng, idx, div)
        self._entity_fields(rng, row, idx, template)
        return row

    def _inspection(
        self, rng, source, div, day, idx, dept, idate, kind, result, template, protected=False
    ) -> dict:
        row = {
            "record_id": self._record_id(source, "I", day),
            "department_code": dept["department_code"],
            "department_name": dept["department_name"],
            "inspection_date": idate,
            "kind": kind,
            "plan_id": None,
            "joint_id": None,
            "lead_department_code": None,
            "participant_department_codes": None,
            "items_checked": rng.randrange(3, 21),
            "result": result,
            "rectify_by": idate + timedelta(days=rng.choice((15, 30)))
            if result == "RECTIFY_ORDERED"
            else None,
            "address": None,
            "updated_at": at(day, rng),
        }
        row["address"], row["_address_parts"] = self._address(rng, idx, div)
        self._entity_fields(rng, row, idx, template, protected)
        if protected:
            row["_protected"] = True
        return row

    def _penalty(self, rng, source, div, day, template) -> dict:
        idx = self._pick(rng, div)
        dept = self._dept(rng, div, "penalties")
        dd = self._event_date(rng, day)
        vtype, basis = rng.choice(vocab.VIOLATION_TYPES)
        kinds = ["罚款"] if rng.random() < 0.7 else []
        if rng.random() < 0.3:
            kinds.insert(0, "警告")
        if rng.random() < 0.2:
            kinds.append("没收违法所得")
        if rng.random() < 0.03:
            kinds.append(rng.choice(vocab.PENALTY_KINDS[3:]))
        if not kinds:
            kinds = ["警告"]
        facts = "".join(rng.sample(vocab.FACT_PARTS, rng.choice((1, 2, 3)))).format(
            d=f"{dd.year}年{dd.month}月{dd.day}日", a=rng.randrange(100, 9000), n=rng.randrange(2, 300)
        )
        short = vocab.DISTRICT_SHORT[div] if div != "310000" else ""
        row = {
            "record_id": self._record_id(source, "P", day),
            "decision_no": f"沪{dept['_abbr']}{short}处〔{dd.year}〕{div[4:6]}{dd.year}"
            f"{self._next_seq(source + 'no'):04d}号",
            "department_code": dept["department_code"],
            "department_name": dept["department_name"],
            "decision_date": dd,
            "violation_type": vtype,
            "facts": facts,
            "legal_basis": basis,
            "penalty_kinds": kinds,
            "fine_amount": rng.choice((500, 1000, 2000, 3000, 5000, 10000, 20000, 50000, 100000, 200000))
            if "罚款" in kinds
            else None,
            "confiscated_amount": rng.randrange(1, 500) * 100 if "没收违法所得" in kinds else None,
            "status": "EFFECTIVE",
            "updated_at": at(day, rng),
        }
        self._entity_fields(rng, row, idx, template)
        return row

    def _joints(self, rng, source, div, i, template) -> list[dict]:
        day, reg = self.days[i], self.registry
        events = []
        cal = self.preset.calibration
        if cal and cal.joint and cal.joint.source == source and cal.joint.date == day:
            j = cal.joint
            events.append((j.lead, j.participants, j.industry, j.entities, j.items, j.rectify, True))
        if source != "city" and rng.random() < self.preset.joint_rate:
            parts = tuple(rng.sample(["env", "safety", "health", "culture"], rng.choice((1, 2))))
            ind = rng.choice(["H6210", "F5212", "R9011", "O8051", "C2669"])
            m = rng.randrange(3, 15)
            events.append(
                ("market", parts, ind, m, rng.randrange(5, 20), rng.randrange(0, m // 2 + 1), False)
            )
        rows = []
        for lead_kind, parts, ind, m, items, rectify, protected in events:
            pool = [x for x in reg.pool_ind.get((div, ind), ()) if x < self.n_before_today]
            if len(pool) < m:
                pool = pool + [x for x in reg.pool[div][: self.pool_len[div]] if x not in set(pool)]
            chosen = rng.sample(pool, min(m, len(pool)))
            lead = self.departments.by_div_kind[(div, lead_kind)]
            part_rows = [self.departments.by_div_kind[(div, k)] for k in parts]
            jid = f"{vocab.SOURCE_PREFIX[source]}-LH-{day.year}-{self._next_seq(source + 'LH'):04d}"
            idate = day - timedelta(days=1)
            results = ["RECTIFY_ORDERED"] * rectify + ["NO_ISSUE"] * (len(chosen) - rectify)
            rng.shuffle(results)
            for idx, result in zip(chosen, results, strict=False):
                for dept in [lead] + part_rows:
                    row = self._inspection(
                        rng, source, div, day, idx, dept, idate, "JOINT", result, template, protected
                    )
                    row.update(
                        joint_id=jid,
                        lead_department_code=lead["department_code"],
                        participant_department_codes=[p["department_code"] for p in part_rows],
                        items_checked=items,
                    )
                    rows.append(row)
        return rows

    def _value_fault(self, rng, row, feed, day, template) -> None:
        table = self.catalog.table_for_feed(feed)
        amounts = (
            tuple(f for f in ("fine_amount", "confiscated_amount") if row.get(f) is not None)
            if feed == "penalties"
            else ()
        )
        # a value fault may hit one vocabulary column; the draw is made for every row, one or
        # two columns (licences, penalties: status; inspections: kind or result), so the stream stays
        columns = tuple(c.name for c in table.columns if c.values)
        k = rng.randrange(2)
        vocab_fields = (columns[k % len(columns)],) if columns else ()
        f = value_fault(
            rng, self.rates, row, feed, table.event_date, day, template, amounts, vocab_fields, self.departments
        )
        if f:
            row.setdefault("_faults", []).append(f)

    def _schedule_resends(self, rng, source, i, feed, row) -> None:
        r = rng.random()
        if r < self.rates.duplicate_resend:
            self.pending.setdefault((source, i + 1 + rng.randrange(8)), []).append((feed, row, "dup"))
        elif r < self.rates.duplicate_resend + self.rates.correction_update and feed in STATUS_UPDATES:
            later = i + rng.randrange(1, 60)
            if later < self.horizon:
                upd = dict(row)
                upd["status"] = weighted(rng, STATUS_UPDATES[feed])
                upd["updated_at"] = at(self.days[later], rng)
                upd["_faults"] = list(row.get("_faults", [])) + ["correction_update"]
                self.pending.setdefault((source, later), []).append((feed, upd, "update"))


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
