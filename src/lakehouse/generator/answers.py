"""The answer file's side of the generator: what every written file and row
must become (truth.py writes it), the counts per source and feed, the 2017
calibration figures and the run's summary. A part of Generator (core.py)."""

from __future__ import annotations

# Decisions where feeds.md is silent; repeated in truth/summary.json.
CONVENTIONS = {
    "empty_delivery": (
        "a feed with no rows on a day is not delivered (no file); a header-only file whose manifest"
        " says rows=0 would be a valid empty delivery, so the header_only and empty_file faults "
        "always carry manifest rows > 0 and are rejected"
    ),
    "header_only_J": (
        "JSON Lines has no header: header_only is never applied to template J"
    ),
    "bad_encoding_X": (
        "xlsx has no declared text encoding: bad_encoding is never applied to template X"
    ),
    "rejected_files": (
        "the rows of a rejected file are sent again, unchanged, at the head of the same source's "
        "next file of that feed (the source noticed the rejection)"
    ),
    "not_ready": (
        "only the last generated day of some district sources is left without a manifest"
    ),
    "required_missing": (
        "an empty required field is required_missing only (an empty event date is not also "
        "date_impossible)"
    ),
    "name_differs": (
        "compared after NFKC and removing all whitespace, so bracket and space variants do not "
        "flag; a former or short name does"
    ),
    "registry_as_of": (
        "a row is resolved against the registry delivered up to and including its delivery day; "
        "records refer only to entities delivered on an earlier day (dual notifications: the same "
        "day)"
    ),
    "duplicates": (
        "a later row with the same natural key and the same values is a duplicate; with a later "
        "version column (updated_at, crawled_at for websites) it is updated"
    ),
    "timestamps": (
        "silver timestamps are ISO 8601 with +08:00; amounts are yuan with 2 decimals; sampling "
        "ratio is sent as a percentage (23.7%) and given in silver as a fraction"
    ),
    "excel_numbers": (
        "a USCC typed as a number is reported as_sent as it shows (9.13101E+17)"
    ),
    "departments": (
        "departments are sent as full snapshots only (no changes between snapshots)"
    ),
    "never_faulted": (
        "entities and departments files never carry file faults; the calibration source's dual "
        "notifications and its joint inspection carry no row faults"
    ),
}


class AnswerFile:
    def _count(self, source, feed, kind, name, n=1):
        d = self.totals.setdefault(source, {}).setdefault(
            feed, {"rows_written": 0, "files": 0, "faults": {}, "expected": {}, "rules": {}, "flags": {}}
        )
        if kind == "rows_written":
            d["rows_written"] += n
        elif kind == "files":
            d["files"] += n
        else:
            d[kind][name] = d[kind].get(name, 0) + n

    def _evaluate_rows(self, source, feed, day, rel, rows, template) -> None:
        """The answer for each row of an accepted file, counted for the summary."""
        for n, row in enumerate(rows, 1):
            rec = self.truth.evaluate(source, feed, day, rel, n, row, template)
            self._count(source, feed, "expected", rec["expected"])
            for r in rec["rules"]:
                self._count(source, feed, "rules", r)
            for f in rec["flags"]:
                self._count(source, feed, "flags", f)

    def _entity_faults(self, x: int, faults: dict[str, int]) -> None:
        """Counts what registry row x carries: a check-digit exception, a legacy or unknown district."""
        reg = self.world.registry
        if reg.check_exception[x]:
            faults["uscc_check_exception"] = faults.get("uscc_check_exception", 0) + 1
        if reg.district_sent[x] != reg.district[x]:
            key = "legacy_district" if reg.district_sent[x] in self.catalog.legacy_districts else "unknown_district"
            faults[key] = faults.get(key, 0) + 1

    def _entity_answer(self, source, day, rel, row_number, x, fresh_row, template) -> None:
        """The answer for registry row x: evaluated when it is new or changed today (`fresh_row`)
        or not yet evaluated, else a duplicate of its last delivery."""
        reg = self.world.registry
        known = self.entity_truth.get(x)
        if fresh_row is not None or known is None:
            row = fresh_row if fresh_row is not None else reg.row(x)
            rec = self.truth.evaluate(source, "entities", day, rel, row_number, row, template)
            self.entity_truth[x] = rec["flags"]
        else:  # unchanged since its last delivery: a duplicate
            rec = self.truth.duplicate(
                source, "entities", day, rel, row_number, {"uscc": reg.uscc[x]}, known, reg.uscc[x]
            )
        self._count(source, "entities", "expected", rec["expected"])
        for f in rec["flags"]:
            self._count(source, "entities", "flags", f)

    def _file_answer(self, source, day, feed, rel, rows_written, manifest_rows, status, reject, faults) -> None:
        """files.jsonl's line for a delivered file, and its counts for the summary."""
        self.truth.file(
            {
                "source": source,
                "date": day.isoformat(),
                "feed": feed,
                "file": rel,
                "rows_written": rows_written,
                "manifest_rows": manifest_rows,
                "expected_status": status,
                "reject_reason": reject,
                "faults": dict(sorted(faults.items())),
            }
        )
        self._count(source, feed, "rows_written", None, rows_written)
        self._count(source, feed, "files", None)
        for f, n in faults.items():
            self._count(source, feed, "faults", f, n)

    def _calibration(self, source, feed, day, rows):
        c = self.calib
        cal = self.preset.calibration
        if feed in self.catalog.district_feeds:
            ids = c["record_ids"].setdefault(source, set())
            for row in rows:
                if row.get("record_id"):
                    ids.add(row["record_id"])
                    if cal and source == cal.source and day <= cal.window_end:
                        c["cal_records"].add(row["record_id"])
        elif feed == "random_plans":
            c["plans"].update(r["plan_id"] for r in rows)
        elif feed == "random_draws":
            c["draws"].update((r["plan_id"], str(r["uscc_as_sent"])) for r in rows)
        elif feed == "dual_notifications":
            c["pushes"].update(r["notification_id"] for r in rows)
            if cal and day <= cal.window_end:
                div = self.catalog.sources[cal.source].division_code
                depts = {d["department_code"] for d in self.world.departments.rows if d["_div"] == div}
                for r in rows:
                    if r["pushed_department_code"] in depts:
                        c["cal_pushes"][r["notification_id"]] = r["pushed_department_code"]
                        if r["feedback_status"] == "ISSUED":
                            c["cal_issued"].add(r["notification_id"])

    def _summary(self, seconds: float, rows_total: int) -> dict:
        c = self.calib
        fault_totals: dict[str, int] = {}
        for feeds in self.totals.values():
            for d in feeds.values():
                for f, n in d["faults"].items():
                    fault_totals[f] = fault_totals.get(f, 0) + n
        cal = self.preset.calibration
        return {
            "preset": self.preset.name,
            "seed": self.seed,
            "start": self.days[0].isoformat(),
            "end": self.days[-1].isoformat(),
            "days": len(self.days),
            "sources": self.selected,
            "truth_rows": self.truth_rows,
            "truth_order": "folders are evaluated day by day; on a day the city first (entities, "
            "departments, then its other feeds), then the districts in division-code order",
            "conventions": CONVENTIONS,
            "fault_rates": self.rates.as_dict(),
            "drift": [vars(d) for d in self.preset.drift],
            "rows_written": rows_total,
            "bytes_written": self.bytes_written,
            "seconds": round(seconds, 1),
            "entities_in_registry": len(self.world.registry),
            "planted_hotspot": self.world.hotspot,
            "check_exception_usccs": [
                self.world.registry.uscc[i]
                for i in range(len(self.world.registry))
                if self.world.registry.check_exception[i]
            ],
            "fault_totals": dict(sorted(fault_totals.items())),
            "totals": self.totals,
            "calibration": {
                "records_licences_inspections_penalties": sum(len(v) for v in c["record_ids"].values()),
                "records_by_source": {s: len(v) for s, v in c["record_ids"].items()},
                "random_plans": len(c["plans"]),
                "random_draws": len(c["draws"]),
                "dual_notifications": len(c["pushes"]),
                **(
                    {
                        f"{cal.source}_until": cal.window_end.isoformat(),
                        f"{cal.source}_records": len(c["cal_records"]),
                        f"{cal.source}_pushes": len(c["cal_pushes"]),
                        f"{cal.source}_push_departments": len(set(c["cal_pushes"].values())),
                        f"{cal.source}_issued": len(c["cal_issued"]),
                    }
                    if cal
                    else {}
                ),
            },
        }
