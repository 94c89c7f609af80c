"""Small helpers shared by the text readers."""

from __future__ import annotations

from pathlib import Path

from lakehouse.ingest.readers.base import FileRejected


def clean_header(cells: list[str], path: Path, where: str) -> list[str]:
    """Header names stripped of surrounding blanks (a BOM is already gone).
    An empty name becomes `_col<N>` (1-based position) so its values are still
    kept as an unknown column; a duplicate name rejects the file (which value
    would be meant is unknowable)."""
    header = [c.strip() or f"_col{i}" for i, c in enumerate(cells, 1)]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise FileRejected(
                "malformed",
                f"{path}: {where}: column {name!r} appears twice in the header. "
                "Ask the source to fix its export.",
                path,
            )
        seen.add(name)
    return header


def make_row(header: list[str], cells: list[str], nulls: frozenset[str]) -> dict[str, str | None]:
    return {h: (None if c in nulls else c) for h, c in zip(header, cells, strict=False)}
