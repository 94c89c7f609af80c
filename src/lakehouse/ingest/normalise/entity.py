"""Entity-identifier helpers the Spark resolution stage uses (rules.yaml's
resolution order: uscc, reg_no, name). Called once per row, so the common
case (a clean ASCII code, an NFKC-clean name) takes a fast path; results are
identical to lakehouse.identifiers (tests compare them)."""

from __future__ import annotations

import unicodedata
from operator import mul
from typing import NamedTuple

from lakehouse.identifiers import USCC_CHARSET, normalise_identifier

_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}.__getitem__
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class EntityIdentifier(NamedTuple):
    uscc_as_sent: str | None  # exactly as delivered
    uscc_normalised: str  # full-width -> ASCII, upper case, all spaces removed ('' if none)
    uscc_check_ok: bool  # 18 chars of the USCC charset with a correct check character
    reg_no: str | None  # the identifier, if it is a 15-digit (old registration) number


def _uscc_ok(code: str) -> bool:
    if len(code) != 18:
        return False
    try:
        total = sum(map(mul, map(_VALUE, code[:17]), _WEIGHTS))
    except KeyError:
        return False
    return USCC_CHARSET[(31 - total % 31) % 31] == code[17] and code[17] in USCC_CHARSET


def entity_identifier(raw: str | None) -> EntityIdentifier:
    if raw is None:
        return EntityIdentifier(None, "", False, None)
    code = raw.upper() if (raw.isascii() and raw.isalnum()) else normalise_identifier(raw)
    ok = _uscc_ok(code)
    reg_no = code if (not ok and len(code) == 15 and code.isdigit() and code.isascii()) else None
    return EntityIdentifier(raw, code, ok, reg_no)


def name_key(name: str | None) -> str | None:
    """NFKC (full-width brackets -> ASCII), every whitespace removed: the form
    names are compared in, never the form kept."""
    if name is None:
        return None
    if not unicodedata.is_normalized("NFKC", name):
        name = unicodedata.normalize("NFKC", name)
    return "".join(name.split()) or None
