"""The districts' (and city departments') licences, inspections and
penalties: ordinary records, the planted hotspot, joint inspections, value
faults and re-sends. A part of the World's day (events.World), on its state."""

from __future__ import annotations

import random
from datetime import date, timedelta

from . import vocab
from .draw import at, weighted
from .faults import value_fault

STATUS_UPDATES = {
    "licences": (("CANCELLED", 0.6), ("REVOKED", 0.2), ("WITHDRAWN", 0.2)),
    "penalties": (("EXECUTED", 0.75), ("REVOKED", 0.25)),
}
HOTSPOT_INSPECTIONS = 6   # per month at the planted hotspot: none with problems, then all


class RecordEvents:
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
                    weighted(rng, vocab.INSPECTION_RESULTS), template,
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
