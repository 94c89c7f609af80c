"""The answer file. A reference implementation of the row rules of
schemas/rules.yaml, run on the values exactly as written, in delivery order
(day by day; on a day the city's registry and departments first, then the
other city feeds, then the districts in division-code order). It predicts
per row: accepted / duplicate / updated / quarantined, the rules broken, the
flags, how the entity was resolved; and the final silver rows.

For tests only: the pipeline never reads it."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from lakehouse.catalog import Catalog, Table
from lakehouse.identifiers import is_valid_uscc, normalise_identifier

from .faults import ExcelNumber, Raw
from .writers import AMOUNT_FIELDS, p_text

ADDRESS_COLUMNS = ("address_district", "address_road", "address_lane", "address_number",
                   "address_building", "address_floor", "address_room")


def norm_name(name) -> str:
    if name is None:
        return ""
    text = unicodedata.normalize("NFKC", str(name))
    return "".join(ch for ch in text if not ch.isspace())


def iso_ts(v: datetime) -> str:
    return v.strftime("%Y-%m-%dT%H:%M:%S+08:00")


class RegistryView:
    """The registry as the pipeline knows it from the entities rows delivered so far."""

    def __init__(self, districts: dict, legacy: dict):
        self.districts, self.legacy = districts, legacy
        self.by_uscc: dict[str, tuple[str, str]] = {}  # code -> (current name normalised, district mapped)
        self.by_regno: dict[str, str] = {}
        self.by_name: dict[str, list[str]] = {}

    def map_district(self, code):
        if code is None:
            return None
        return self.legacy.get(code, code)

    def upsert(self, row: dict) -> None:
        code = row["uscc"]
        self.by_uscc[code] = (norm_name(row["name"]), self.map_district(row["registered_district"]))
        if row.get("reg_no"):
            self.by_regno[row["reg_no"]] = code
        for n in [row["name"]] + list(row.get("former_names") or []):
            lst = self.by_name.setdefault(norm_name(n), [])
            if code not in lst:
                lst.append(code)

    def resolve(self, sent, name, holding_div: str):
        """(uscc, resolved_by, registered_district, flags)"""
        text = sent.shown if isinstance(sent, ExcelNumber) else sent
        code = normalise_identifier(text)
        flags = []
        valid = is_valid_uscc(code)
        held = self.by_uscc.get(code)
        if code and (valid or held):
            if held is None:
                return code, "uscc", None, ["entity_not_in_registry"]
            if not valid:
                flags.append("uscc_check_exception")
            if name is not None and norm_name(name) != held[0]:
                flags.append("name_differs")
            return code, "uscc", held[1], flags
        if len(code) == 15 and code.isdigit() and code in self.by_regno:
            u = self.by_regno[code]
            held = self.by_uscc[u]
            if name is not None and norm_name(name) != held[0]:
                flags.append("name_differs")
            return u, "reg_no", held[1], flags
        cands = self.by_name.get(norm_name(name), []) if norm_name(name) else []
        if len(cands) > 1:
            cands = [c for c in cands if self.by_uscc[c][1] == holding_div]
        if len(cands) == 1:
            u = cands[0]
            held = self.by_uscc[u]
            if norm_name(name) != held[0]:
                flags.append("name_differs")
            return u, "name", held[1], flags
        return None, "unresolved", None, []


class Truth:
    def __init__(self, catalog: Catalog, out_dir: Path, rows: bool):
        self.catalog = catalog
        self.tables = {t.feed: t for t in catalog.tables.values()}
        self.rows_enabled = rows
        self.dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.files_fh = open(out_dir / "files.jsonl", "w", encoding="utf-8")
        self.rows_fh = open(out_dir / "rows.jsonl", "w", encoding="utf-8") if rows else None
        self.registry = RegistryView(catalog.districts, catalog.legacy_districts)
        self.departments: set[str] = set()
        self.state: dict[str, dict] = {}
        self.silver: dict[str, dict] = {}
        self.known_types = set(catalog.known_licence_types)
        self.expected_totals: dict[str, dict[str, int]] = {}

    def close(self) -> None:
        self.files_fh.close()
        if self.rows_fh:
            self.rows_fh.close()
        if self.rows_enabled:
            sdir = self.dir / "silver"
            sdir.mkdir(exist_ok=True)
            for table, rows in self.silver.items():
                with open(sdir / f"{table}.jsonl", "w", encoding="utf-8") as fh:
                    for key in sorted(rows):
                        fh.write(rows[key] + "\n")

    def file(self, record: dict) -> None:
        self.files_fh.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")

    # ------------------------------------------------------------------ rows
    def _district_flags(self, code, flags):
        if code is None or code == "":
            return code
        legacy = self.catalog.legacy_districts
        if code in legacy:
            flags.append("legacy_district")
            return legacy[code]
        if code not in self.catalog.districts:
            flags.append("unknown_district")
        return code

    def evaluate(
        self, source: str, feed: str, day: date, file: str, row_number: int, row: dict, template: str
    ) -> dict:
        table = self.tables[feed]
        holding = self.catalog.sources[source].division_code
        rules, flags = self._row_rules(table, day, row)
        uscc = resolved_by = reg_district = None
        if table.entity_ref:
            uscc, resolved_by, reg_district, rflags = self.registry.resolve(
                row.get("uscc_as_sent"), row.get("entity_name"), holding
            )
            flags += rflags
            if resolved_by == "unresolved":
                rules.append("uscc_unresolved")
        if feed == "entities":
            uscc = row["uscc"]
        silver = self._reference_flags(feed, table, row, flags)
        rules, flags = sorted(set(rules)), sorted(set(flags))
        key_vals = self._natural_key(source, table, row, uscc, template)
        expected = "quarantined"
        if not rules:
            expected, k = self._version(feed, row, key_vals)
            if expected in ("accepted", "updated") and self.rows_enabled:
                self.silver.setdefault(feed, {})[k] = self._silver_row(
                    table, source, holding, row, key_vals, uscc, resolved_by, reg_district, flags, silver,
                    template,
                )
        return self._answer(
            source, feed, day, file, row_number, key=key_vals, expected=expected, rules=rules, flags=flags,
            resolved_by=resolved_by, uscc=uscc, faults=sorted(set(row.get("_faults") or [])),
        )

    def _row_rules(self, table: Table, day: date, row: dict) -> tuple[list[str], list[str]]:
        """(rules, flags) of the row's own values: required_missing, date_impossible,
        amount_invalid, value_unknown; late."""
        thresholds = self.catalog.thresholds
        rules: list[str] = []
        flags: list[str] = []
        for f in table.required_fields:
            v = row.get(f)
            if v is None or (isinstance(v, str) and not isinstance(v, ExcelNumber) and v.strip() == ""):
                rules.append("required_missing")
                break
        if table.event_date:
            ev = row.get(table.event_date)
            if isinstance(ev, Raw):
                rules.append("date_impossible")
            elif isinstance(ev, date):
                d = ev.date() if isinstance(ev, datetime) else ev
                if d < thresholds.min_event_date or d > day:
                    rules.append("date_impossible")
                elif (day - d).days > thresholds.late_after_days:
                    flags.append("late")
        for f in AMOUNT_FIELDS:
            v = row.get(f)
            if table.has_column(f) and v is not None:
                if isinstance(v, Raw) or v < 0 or v > thresholds.max_amount_yuan:
                    rules.append("amount_invalid")
                    break
        for col in table.columns:
            if col.values and isinstance(row.get(col.name), Raw):
                rules.append("value_unknown")
                break
        return rules, flags

    def _reference_flags(self, feed: str, table: Table, row: dict, flags: list[str]) -> dict:
        """Adds the flags of what the row refers to (districts, departments, licence types,
        the address) to `flags`; returns the silver values they decide."""
        silver: dict = {}
        if feed == "entities":
            if not is_valid_uscc(row["uscc"]):
                flags.append("uscc_check_exception")
            silver["registered_district"] = self._district_flags(row["registered_district"], flags)
        if feed == "departments":
            silver["district_code"] = self._district_flags(row["district_code"], flags)
        dept = row.get("department_code")
        if dept is not None and table.district_held and dept not in self.departments:
            flags.append("unknown_department")
        if (
            feed == "licences"
            and row.get("licence_type") is not None
            and row["licence_type"] not in self.known_types
        ):
            flags.append("unknown_licence_type")
        if table.parse_address:   # the generator wrote the address from these parts
            parts = row.get("_address_parts")
            silver.update(zip(ADDRESS_COLUMNS, parts or (None,) * len(ADDRESS_COLUMNS), strict=False))
            if parts is None and row.get("address"):
                flags.append("address_unparsed")
        return silver

    def _natural_key(self, source: str, table: Table, row: dict, uscc, template: str) -> dict:
        if table.district_held:
            return {"source": source, "record_id": self._text(row.get("record_id"), template)}
        return {
            k: uscc if k == "uscc" and table.entity_ref else self._canon(k, row.get(k), table, template)
            for k in table.key
        }

    def _version(self, feed: str, row: dict, key_vals: dict) -> tuple[str, str]:
        """(accepted | updated | duplicate, the key as text) of a row no rule quarantines;
        the registry and department list learn it, the latest version is kept."""
        if feed == "entities":
            self.registry.upsert(row)
        elif feed == "departments":
            self.departments.add(row["department_code"])
        k = json.dumps(list(key_vals.values()), ensure_ascii=False, default=str)
        st = self.state.setdefault(feed, {})
        version = row.get("crawled_at" if feed == "website_filings" else "updated_at")
        sig = tuple((f, repr(v)) for f, v in row.items() if not f.startswith("_"))
        prev = st.get(k)
        if prev is None:
            expected = "accepted"
        elif prev[1] == sig:
            expected = "duplicate"
        elif version is not None and (prev[0] is None or version > prev[0]):
            expected = "updated"
        else:
            expected = "duplicate"
        if expected in ("accepted", "updated"):
            st[k] = (version, sig)
        return expected, k

    def duplicate(self, source, feed, day, file, row_number, key, flags, uscc) -> dict:
        """A row known to repeat its last accepted version unchanged (fast path for registry snapshots)."""
        return self._answer(
            source, feed, day, file, row_number, key=key, expected="duplicate", rules=[], flags=flags,
            resolved_by=None, uscc=uscc, faults=[],
        )

    def _answer(self, source, feed, day: date, file, row_number, **outcome) -> dict:
        """One line of rows.jsonl: where the row was delivered, then `outcome` (key, expected,
        rules, flags, resolved_by, uscc, faults: the order the answer file lists them)."""
        rec = {"source": source, "feed": feed, "date": day.isoformat(), "file": file, "row_number": row_number,
               **outcome}
        if self.rows_fh:
            self.rows_fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return rec

    def _text(self, v, template):
        if v is None:
            return None
        if isinstance(v, ExcelNumber):
            return v.shown
        return p_text(str(v)) if template == "P" else str(v)

    def _canon(self, field, v, table, template):
        if v is None or isinstance(v, Raw):
            return None if v is None else str(v)
        is_int = table.has_column(field) and table.column(field).kind == "int"
        if isinstance(v, datetime):
            return iso_ts(v)
        if isinstance(v, date):
            return v.isoformat()
        if field in AMOUNT_FIELDS:
            return f"{v:.2f}"
        if field == "sampling_ratio":
            return format(Decimal(f"{round(v * 100, 2):g}") / 100, "f")
        if field == "registered_capital_10k_yuan":
            return format(Decimal(v).quantize(Decimal("0.0001")), "f")
        if isinstance(v, list):
            return [self._text(x, template) for x in v]
        if is_int:
            return int(v)
        return self._text(v, template)

    def _silver_row(
        self,
        table,
        source,
        holding,
        row,
        key_vals,
        uscc,
        resolved_by,
        reg_district,
        flags,
        extra,
        template,
    ) -> str:
        out: dict = {}
        if table.district_held:
            out.update(source=source, holding_district=holding)
        out.update(key_vals)
        if table.entity_ref:
            out.update(
                uscc=uscc,
                uscc_as_sent=self._text(row.get("uscc_as_sent"), template),
                resolved_by=resolved_by,
                registered_district=reg_district,
            )
        for col in table.columns:
            if col.name not in out:
                out[col.name] = self._canon(col.name, row.get(col.name), table, template)
        out.update(extra)
        out["flags"] = flags
        if row.get("_extra_columns"):
            out["extra_columns"] = row["_extra_columns"]
        return json.dumps(out, ensure_ascii=False)
