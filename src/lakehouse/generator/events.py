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
from .city_lists import ListEvents
from .draw import allocate, at, business_days, lag_days, resend, short_name, three_years_after, weighted
from .faults import FaultRates, identity_fault, name_fault
from .notifications import NotificationEvents
from .presets import Preset
from .random_plans import RandomPlanEvents
from .records import RecordEvents
from .websites import WebsiteEvents
from .world import Departments, Registry


class World(RecordEvents, RandomPlanEvents, NotificationEvents, ListEvents, WebsiteEvents):
    """The generated city and its days: the registry and the days' plan here,
    each stream in the module named for what it generates (records.py,
    random_plans.py, notifications.py, city_lists.py, websites.py)."""

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
