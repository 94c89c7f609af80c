"""What every reader returns, and how it refuses a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# The codes the readers and normalise raise; callers may add their own
# (e.g. manifest_sha256_mismatch, unknown_source).
ReasonCode = Literal[
    "empty_file",
    "header_only",
    "truncated",
    "bad_encoding",
    "malformed",
    "row_count_mismatch",
    "missing_required_column",
    "conflicting_headers",
]


class FileRejected(Exception):
    """A delivered file cannot be read as a whole; nothing of it reaches silver.

    `reason_code` is stable (recorded in the ingest ledger and the quality mart);
    `message` says what was wrong, where, and what to do."""

    def __init__(self, reason_code: ReasonCode | str, message: str, path: Path | str | None = None):
        super().__init__(f"[{reason_code}] {message}")
        self.reason_code = reason_code
        self.message = message
        self.path = str(path) if path is not None else None


@dataclass(slots=True)
class RawRow:
    """One data row as sent. `values` maps the header AS SENT to the raw text
    (None for missing: an empty field, a null value of the template, an absent
    JSON key). J arrays are kept as their JSON text (e.g. '["警告","罚款"]') so
    bronze stays all-strings; the normaliser parses them."""

    row_number: int  # 1-based data row number within the file
    values: dict[str, str | None]


@dataclass(slots=True)
class DeliveredFile:
    path: Path
    header: list[str]  # as sent, in order (J: flattened keys, first-seen order)
    rows: list[RawRow] = field(default_factory=list)


def decode_strict(data: bytes, encoding: str, path: Path) -> str:
    """Decode the whole file or reject it naming the first bad byte offset and line."""
    codec = "utf-8" if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig") else encoding
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        cut = "incomplete" in exc.reason or "unexpected end" in exc.reason
        if cut and exc.end >= len(data) and not data.endswith(b"\n"):
            # the file stops in the middle of a multi-byte character: cut off in transfer
            raise FileRejected(
                "truncated",
                f"{path}: the file ends inside a multi-byte {encoding} character at byte offset {exc.start} "
                f"(line {line}): the last line was cut off. Ask the source to re-send the file.",
                path,
            ) from None
        bad = data[exc.start : exc.start + 4].hex(" ")
        raise FileRejected(
            "bad_encoding",
            f"{path}: bytes invalid for the declared encoding {encoding} at byte offset {exc.start} "
            f"(line {line}, bytes {bad}): {exc.reason}. Ask the source to re-export the file in {encoding}.",
            path,
        ) from None
    # a BOM is allowed in front of any text template (utf-8 or gb18030 alike)
    return text[1:] if text.startswith("\ufeff") else text


def reject_empty(data: bytes, path: Path) -> None:
    if not data.strip():
        what = "0 bytes" if not data else "only whitespace"
        raise FileRejected(
            "empty_file",
            f"{path}: the file is empty ({what}), not even a header. " "Ask the source to re-send it.",
            path,
        )
