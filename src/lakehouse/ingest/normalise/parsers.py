"""Field parsers: raw text as delivered -> typed Python value.

Each parser accepts every spelling any template may send for its type (the
contract's forms plus harmless variants: CRLF leftovers, full-width digits,
surrounding blanks), and raises ValueError with a short reason otherwise.
They know nothing about rules: the row normaliser turns a ValueError into the
right rule id for the field."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation

UTC = dt.timezone.utc
BEIJING = dt.timezone(dt.timedelta(hours=8))

_CN_DATE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
_LOOSE_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_TIME_PART = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")


def _ascii(text: str) -> str:
    """NFKC only when needed (full-width digits, U+3000): the common path stays cheap."""
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD, YYYYMMDD, YYYY年M月D日, YYYY/M/D, or an ISO date-time (date
    part taken, e.g. from a spreadsheet cell). 0000-00-00 and 2017-02-30 fail."""
    s = text.strip()
    n = len(s)
    try:
        if n == 10 and s[4] == "-" and s[7] == "-":
            return dt.date(int(s[0:4]), int(s[5:7]), int(s[8:10]))
        if n == 8 and s.isdigit():
            return dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
        s = _ascii(s).strip()
        if len(s) > 10 and s[4] == "-" and s[10] in "T ":  # date-time: keep the date as written
            return dt.date(int(s[0:4]), int(s[5:7]), int(s[8:10]))
        m = _CN_DATE.match(s) or _LOOSE_DATE.match(s)
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if len(s) == 8 and s.isdigit():
            return dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
        if len(s) == 10 and s[4] == "-":
            return dt.date(int(s[0:4]), int(s[5:7]), int(s[8:10]))
    except ValueError:
        raise ValueError(f"{text!r} is not a calendar date") from None
    raise ValueError(f"{text!r} is not a date in a known form (YYYY-MM-DD, YYYYMMDD, YYYY年M月D日)")


def parse_timestamp(text: str, local_tz: dt.tzinfo = BEIJING) -> dt.datetime:
    """-> tz-aware UTC. 'YYYY-MM-DD HH:MM:SS' and 'YYYYMMDDHHMMSS' are in
    `local_tz` (Beijing); ISO 8601 with an offset or Z keeps its offset; a bare
    date means local midnight."""
    s = text.strip()
    n = len(s)
    try:
        if n == 19 and s[4] == "-" and s[10] in " T" and s[13] == ":":
            local = dt.datetime(
                int(s[0:4]),
                int(s[5:7]),
                int(s[8:10]),
                int(s[11:13]),
                int(s[14:16]),
                int(s[17:19]),
                tzinfo=local_tz,
            )
            return local.astimezone(UTC)
        if n == 14 and s.isdigit():
            local = dt.datetime(
                int(s[0:4]),
                int(s[4:6]),
                int(s[6:8]),
                int(s[8:10]),
                int(s[10:12]),
                int(s[12:14]),
                tzinfo=local_tz,
            )
            return local.astimezone(UTC)
        s = _ascii(s).strip()
        if len(s) >= 16 and s[4] == "-" and s[10] in " T":
            value = dt.datetime.fromisoformat(s)  # 3.11: offsets, Z, fractions
            if value.tzinfo is None:
                value = value.replace(tzinfo=local_tz)
            return value.astimezone(UTC)
        if len(s) >= 16 and "年" in s:  # 2017年4月14日 09:30:00
            day_part, _, time_part = s.partition("日")
            m = _TIME_PART.match(time_part.strip())
            if m:
                d = parse_date(day_part + "日")
                local = dt.datetime(
                    d.year,
                    d.month,
                    d.day,
                    int(m.group(1)),
                    int(m.group(2)),
                    int(m.group(3) or 0),
                    tzinfo=local_tz,
                )
                return local.astimezone(UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid date-time") from None
    try:
        d = parse_date(s)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a timestamp in a known form " "(YYYY-MM-DD HH:MM:SS, YYYYMMDDHHMMSS, ISO 8601)"
        ) from None
    return dt.datetime(d.year, d.month, d.day, tzinfo=local_tz).astimezone(UTC)


_AMOUNT_JUNK = str.maketrans("", "", "  ¥￥\u3000")
_TEN_THOUSAND = Decimal(10000)
# thousands separators must group by three: '5,000.00' yes, '5,000,00' no (a typo, not 500000)
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def parse_amount(text: str, default_unit: str = "yuan") -> Decimal:
    """-> Decimal in yuan. Thousands separators, ¥ and blanks are dropped; a
    `元` suffix means yuan, `万元`/`万` means ×10000; without a suffix the
    number is in `default_unit` (`yuan` or `10k_yuan`). No sign check here."""
    s = _ascii(text).translate(_AMOUNT_JUNK)
    multiply = default_unit == "10k_yuan"
    if s.endswith("万元"):
        s, multiply = s[:-2], True
    elif s.endswith("万"):
        s, multiply = s[:-1], True
    elif s.endswith("元"):
        s, multiply = s[:-1], False
    if "," in s or "，" in s:
        s = s.replace("，", ",")
        if not _GROUPED.match(s):
            raise ValueError(f"{text!r} is not an amount (thousands separators out of place)")
        s = s.replace(",", "")
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    return value * _TEN_THOUSAND if multiply else value


def parse_ratio(text: str) -> Decimal:
    """'5%' or '0.05' -> Decimal('0.05'). A bare number above 1 is read as a
    percentage ('5' -> 0.05). Outside 0..1 fails."""
    s = _ascii(text).strip().replace(" ", "")
    percent = s.endswith("%")
    if percent:
        s = s[:-1]
    try:
        value = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a ratio") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a ratio")
    if percent or value > 1:
        value = value / 100
    if value < 0 or value > 1:
        raise ValueError(f"{text!r} is not a fraction between 0 and 1")
    return value


def parse_int(text: str) -> int:
    """'17', ' 17 ', '1,234', '17.0', full-width digits -> int."""
    s = _ascii(text).strip().replace(",", "")
    try:
        return int(s)
    except ValueError:
        pass
    try:
        d = Decimal(s)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an integer") from None
    if not d.is_finite() or d != d.to_integral_value():
        raise ValueError(f"{text!r} is not an integer")
    return int(d)


_LIST_SEPARATORS = ("；", ";", "，", ",")


def list_splitter(separator: str | None) -> re.Pattern[str]:
    seps = ([separator] if separator else []) + [s for s in _LIST_SEPARATORS if s != separator]
    return re.compile("|".join(re.escape(s) for s in seps))


_DEFAULT_SPLIT = list_splitter(None)


def parse_list(text: str, splitter: re.Pattern[str] = _DEFAULT_SPLIT) -> list[str]:
    """A JSON array ('["a","b"]', from J) or text split on the template's
    separator and its ;/；/,/， variants; items stripped, blanks dropped."""
    s = text.strip()
    if s.startswith("["):
        try:
            items = json.loads(s)
        except json.JSONDecodeError:
            items = None
        if isinstance(items, list):
            return [str(i).strip() for i in items if i is not None and str(i).strip()]
    return [p.strip() for p in splitter.split(s) if p.strip()]
