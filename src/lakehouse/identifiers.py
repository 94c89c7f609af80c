"""Chinese entity identifiers: the 18-character USCC (GB 32100-2015), the
9-character organisation code inside it (GB 11714) and the old 15-digit
business registration number (ISO 7064 MOD 11,10).

Pure functions; used by the pipeline to validate and by the generator to
issue codes, so both follow the standard, not each other.
"""

from __future__ import annotations

import unicodedata

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_ORG_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ORG_VALUE = {c: i for i, c in enumerate(_ORG_CHARSET)}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def normalise_identifier(raw: str | None) -> str:
    """Full-width -> half-width, upper case, every kind of space removed
    (incl. U+3000). Returns '' for None."""
    if raw is None:
        return ""
    text = str(raw)
    if not text.isascii():      # NFKC leaves ASCII as it is: skip it for the usual code
        text = unicodedata.normalize("NFKC", text)
    return "".join(text.split()).upper()   # split() splits on exactly the isspace() characters


def uscc_check_char(first17: str) -> str:
    """The 18th character for a 17-character USCC body."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """The 9th character of an organisation code for its 8-character body."""
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def is_valid_uscc(code: str) -> bool:
    """True when `code` (already normalised) is 18 characters of the USCC
    charset with a correct check character."""
    if len(code) != 18 or any(c not in _USCC_VALUE for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def is_valid_org_code(code: str) -> bool:
    if len(code) != 9 or any(c not in _ORG_VALUE for c in code[:8]):
        return False
    return org_code_check_char(code[:8]) == code[8]


def regno_check_digit(first14: str) -> str:
    """ISO 7064 MOD 11,10 check digit of a 15-digit registration number."""
    p = 10
    for ch in first14:
        s = p % 11 + int(ch)
        p = (s % 10 or 10) * 2
    return str((11 - p % 11) % 10)


def is_valid_regno(code: str) -> bool:
    """True for a 15-digit registration number with a correct check digit."""
    return len(code) == 15 and code.isdigit() and regno_check_digit(code[:14]) == code[14]
