"""What real exports get wrong: the rates (one config) and the row faults.

Row faults change the values a row is sent with; the answer file does not
trust this bookkeeping but re-derives each row's outcome from the values
(see truth.py). File faults are applied by writers.py."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

from lakehouse.identifiers import USCC_CHARSET

from .world import wrong_check


class Raw(str):
    """A value written verbatim (an impossible date, an unparseable amount, an unknown status)."""


class ExcelNumber(float):
    """A USCC typed into a spreadsheet as a number (shows as 9.13101E+17)."""

    shown: str = ""


@dataclass(frozen=True)
class FaultRates:
    # identifier faults (per row, at most one)
    uscc_fullwidth: float = 0.004
    uscc_lowercase: float = 0.004
    uscc_spaces: float = 0.004
    uscc_ideographic_space: float = 0.003
    uscc_bad_check: float = 0.003
    uscc_wrong_length: float = 0.002
    uscc_not_in_registry: float = 0.002
    reg_no_instead: float = 0.006  # only entities that have a registration number
    x_numeric_uscc: float = 0.05  # template X, only all-digit codes
    # name faults (per row, at most one)
    name_bracket_variant: float = 0.01
    name_trailing_space: float = 0.01
    name_former: float = 0.01  # only renamed entities
    name_short: float = 0.3  # of rows with a broken identifier: a short name too (unresolvable)
    # value faults (per row, at most one)
    date_future: float = 0.001
    date_before_1949: float = 0.0005
    date_zero: float = 0.0005
    date_unparseable: float = 0.0005
    amount_negative: float = 0.001
    amount_absurd: float = 0.0005
    amount_unparseable: float = 0.0005
    unknown_department: float = 0.002
    unknown_licence_type: float = 0.005
    value_unknown: float = 0.001
    required_missing: float = 0.0005
    # the world's own habits
    late: float = 0.02  # event date 61..400 days before delivery
    address_unparsed: float = 0.01  # an address written so that it names no street address (不详)
    address_legacy_name: float = 0.1  # of addresses in merged districts: the old name (闸北区)
    address_fullwidth: float = 0.05  # addresses with full-width digits
    duplicate_resend: float = 0.02  # same row again on a later day
    correction_update: float = 0.03  # later version (revoked, cancelled, executed)
    # registry
    uscc_check_exception: float = 0.001  # registrar issued a code failing the check
    legacy_district: float = 0.3  # of old entities in merged districts
    unknown_district: float = 0.0005
    # file faults (per file; never on entities/departments, never on protected days)
    truncated: float = 0.002
    empty_file: float = 0.001
    header_only: float = 0.001
    bad_encoding: float = 0.002
    manifest_rows_mismatch: float = 0.001
    manifest_sha256_mismatch: float = 0.001
    bom: float = 0.3  # S files starting with a BOM (not a fault for the pipeline)
    x_text_dates: float = 0.3  # X rows with dates as text 2017年4月14日 (not a fault)
    # at least this many of each file fault (spread over sources/days/feeds), for small presets
    min_file_faults: int = 0
    # sources whose last folder is still uploading (no manifest)
    not_ready_sources: int = 1

    def scaled(self, factor: float) -> "FaultRates":
        names = [f for f in ROW_FAULTS + ("uscc_check_exception", "unknown_district")]
        return replace(self, **{n: min(0.2, getattr(self, n) * factor) for n in names})

    def as_dict(self) -> dict:
        return asdict(self)


IDENTITY_FAULTS = (
    "uscc_fullwidth",
    "uscc_lowercase",
    "uscc_spaces",
    "uscc_ideographic_space",
    "uscc_bad_check",
    "uscc_wrong_length",
    "uscc_not_in_registry",
    "reg_no_instead",
)
NAME_FAULTS = ("name_bracket_variant", "name_trailing_space", "name_former")
VALUE_FAULTS = (
    "date_future",
    "date_before_1949",
    "date_zero",
    "date_unparseable",
    "amount_negative",
    "amount_absurd",
    "amount_unparseable",
    "unknown_department",
    "unknown_licence_type",
    "value_unknown",
    "required_missing",
)
ROW_FAULTS = IDENTITY_FAULTS + NAME_FAULTS + VALUE_FAULTS
FILE_FAULTS = (
    "truncated",
    "empty_file",
    "header_only",
    "bad_encoding",
    "manifest_rows_mismatch",
    "manifest_sha256_mismatch",
)
# reject reason reported for each file fault (and for a missing required column)
REJECT_REASON = {f: f for f in FILE_FAULTS}
REJECT_REASON["missing_required_column"] = "missing_required_column"


@dataclass(frozen=True)
class Drift:
    """Schema drift of one source and feed from a delivery day on (day index)."""

    source: str
    feed: str
    kind: str  # unknown_column | reordered_columns | missing_required_column (that day only)
    day_fraction: float
    header: str = ""  # the new column's header for unknown_column


DEFAULT_DRIFT = (
    Drift("changning", "licences", "unknown_column", 0.4, "备注"),
    Drift("fengxian", "penalties", "unknown_column", 0.5, "BZ"),
    Drift("jingan", "inspections", "unknown_column", 0.6, "remark"),
    Drift("chongming", "licences", "unknown_column", 0.45, "数据来源"),
    Drift("qingpu", "inspections", "reordered_columns", 0.4),
    Drift("yangpu", "penalties", "reordered_columns", 0.5),
    Drift("pudong", "penalties", "reordered_columns", 0.55),
    Drift("jinshan", "inspections", "reordered_columns", 0.4),
    Drift("putuo", "licences", "missing_required_column", 0.5),
    Drift("songjiang", "inspections", "missing_required_column", 0.6),
    Drift("baoshan", "penalties", "missing_required_column", 0.3),
)


def _pick(rng: random.Random, rates: FaultRates, names: tuple[str, ...]) -> str | None:
    r = rng.random()
    acc = 0.0
    for n in names:
        acc += getattr(rates, n)
        if r < acc:
            return n
    return None


_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def identity_fault(
    rng, rates, code: str, reg_no: str | None, template: str, registry
) -> tuple[object, str | None]:
    """The identifier as sent for an entity whose code is `code`."""
    if template == "X" and code.isdigit() and rng.random() < rates.x_numeric_uscc:
        shown = f"{int(code):.5E}"  # what the cell shows: 9.13101E+17
        num = ExcelNumber(float(shown))
        num.shown = shown
        return num, "x_numeric_uscc"
    fault = _pick(rng, rates, IDENTITY_FAULTS)
    if fault is None:
        return code, None
    if fault == "uscc_fullwidth":
        return "".join(_FULLWIDTH.get(c, c) for c in code), fault
    if fault == "uscc_lowercase":
        if not any(c.isalpha() for c in code):
            return "".join(_FULLWIDTH.get(c, c) for c in code), "uscc_fullwidth"
        return code.lower(), fault
    if fault == "uscc_spaces":
        return rng.choice((f" {code} ", f"{code[:8]} {code[8:]}", f"{code}  ")), fault
    if fault == "uscc_ideographic_space":
        return f"\u3000{code}\u3000", fault
    if fault == "uscc_bad_check":
        return wrong_check(code, rng), fault
    if fault == "uscc_wrong_length":
        return (code[:17] if rng.random() < 0.5 else code + rng.choice(USCC_CHARSET)), fault
    if fault == "uscc_not_in_registry":
        return registry_fake_uscc(rng, registry), fault
    if fault == "reg_no_instead":
        return (reg_no, fault) if reg_no else (code, None)
    return code, None


def registry_fake_uscc(rng: random.Random, registry) -> str:
    from .world import make_uscc

    while True:
        org8 = "MB" + "".join(
            rng.choice(USCC_CHARSET) for _ in range(6)
        )  # MB..: never issued by the registry
        code = make_uscc("91", "310000", org8)
        if code not in registry.by_uscc:
            return code


def name_fault(rng, rates, name: str, former: tuple[str, ...]) -> tuple[str, str | None]:
    fault = _pick(rng, rates, NAME_FAULTS)
    if fault == "name_bracket_variant":
        if "（" in name:
            return name.replace("（", "(").replace("）", ")"), fault
        if "(" in name:
            return name.replace("(", "（").replace(")", "）"), fault
        return name + " ", "name_trailing_space"
    if fault == "name_trailing_space":
        return name + rng.choice((" ", "  ", "\u3000")), fault
    if fault == "name_former":
        return (former[-1], fault) if former else (name, None)
    return name, None


def value_fault(
    rng,
    rates,
    row: dict,
    feed: str,
    event_field: str,
    delivery: date,
    template: str,
    amount_fields: tuple[str, ...],
    vocab_fields: tuple[str, ...],
    departments,
) -> str | None:
    fault = _pick(rng, rates, VALUE_FAULTS)
    if fault is None:
        return None
    if fault == "date_future":
        row[event_field] = delivery + timedelta(days=rng.choice((1, 7, 30, 365 * 50)))
    elif fault == "date_before_1949":
        d = row[event_field]
        row[event_field] = date(rng.choice((1017, 1917, 1900)), d.month, min(d.day, 28))
    elif fault == "date_zero":
        row[event_field] = Raw("00000000" if template == "P" else "0000-00-00")
    elif fault == "date_unparseable":
        row[event_field] = Raw(rng.choice(("2017-13-45", "2017/04/3x", "20170230日", "待定")))
    elif fault.startswith("amount_"):
        if not amount_fields:
            return None
        f = amount_fields[0]
        if fault == "amount_negative":
            row[f] = -(row.get(f) or 5000)
        elif fault == "amount_absurd":
            row[f] = rng.choice((250_000_000, 1_000_000_000, 99_999_999_999))
        else:
            row[f] = Raw(rng.choice(("五千", "约5000", "5,000,00", "N/A")))
    elif fault == "unknown_department":
        if "department_code" not in row:
            return None
        row["department_code"] = departments.fake_code(rng, "310000")
    elif fault == "unknown_licence_type":
        if feed != "licences":
            return None
        row["licence_type"] = rng.choice(("酒类商品零售许可", "食品流通许可", "特种行业许可"))
    elif fault == "value_unknown":
        if not vocab_fields:
            return None
        row[vocab_fields[0]] = Raw(rng.choice(("待定", "其他", "UNKNOWN", "9")))
    elif fault == "required_missing":
        row[event_field] = None
    return fault


def file_fault_slots(rates: FaultRates, seed: int, slots: list[tuple]) -> dict[tuple, str]:
    """At least `min_file_faults` files per file fault, chosen deterministically among `slots`
    ((source, day index, feed, template) tuples)."""
    out: dict[tuple, str] = {}
    if rates.min_file_faults <= 0 or not slots:
        return out
    rng = random.Random(f"{seed}:file-fault-slots")
    pool = list(slots)
    rng.shuffle(pool)
    for fault in FILE_FAULTS:
        placed = 0
        for slot in pool:
            if placed >= rates.min_file_faults:
                break
            template = slot[-1]
            if (
                slot[:-1] in out
                or (fault == "bad_encoding" and template == "X")
                or (fault == "header_only" and template == "J")
            ):
                continue
            out[slot[:-1]] = fault
            placed += 1
    return out
