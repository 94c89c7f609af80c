"""The city's lists: business-abnormality and serious-violation listings and
removals. A part of the World's day (events.World), on its state."""

from __future__ import annotations

from datetime import date

from . import vocab
from .draw import at, three_years_after


class ListEvents:
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
