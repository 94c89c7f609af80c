"""双告知: the registrations pushed to departments and their feedback. A part
of the World's day (events.World), on its state."""

from __future__ import annotations

from datetime import timedelta

from . import vocab
from .draw import at


class NotificationEvents:
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
