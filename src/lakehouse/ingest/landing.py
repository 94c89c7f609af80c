"""Finding deliveries in the landing area and checking them against their manifest.

A delivery is `landing/<source>/<YYYY-MM-DD>/` with a `_MANIFEST.json`; a
folder without one is still being uploaded and is not read.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

MANIFEST = "_MANIFEST.json"


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    feed: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Delivery:
    source: str
    day: date
    folder: Path
    template: str
    files: tuple[ManifestEntry, ...]

    def relative(self, name: str) -> str:
        return f"{self.source}/{self.day.isoformat()}/{name}"


class ManifestError(ValueError):
    """The folder's manifest cannot be trusted; `reason` is the run log's code."""

    def __init__(self, message: str, reason: str = "manifest_unreadable"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RejectedFolder:
    """A delivery folder refused whole, for its manifest; logged once per manifest's bytes."""
    source: str
    day: date
    manifest: str          # relative to the landing root
    sha256: str            # of the manifest's bytes ("" when it cannot be read)
    reason: str
    message: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path, source: str, day: date) -> Delivery:
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
        files = tuple(ManifestEntry(str(f["name"]), str(f["feed"]), int(f["rows"]), str(f["sha256"]).lower())
                      for f in doc["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path}: unreadable manifest ({exc}); ask {source} to re-send the folder "
                            f"with a valid {MANIFEST}") from exc
    if doc.get("source") not in (None, source) or doc.get("date") not in (None, day.isoformat()):
        raise ManifestError(f"{path}: manifest says source={doc.get('source')!r} date={doc.get('date')!r} "
                            f"but the folder is {source}/{day}; move the folder or fix the manifest",
                            "manifest_wrong_folder")
    listed = {f.name for f in files}
    unlisted = sorted(p.name for p in folder.iterdir()
                      if p.is_file() and p.name != MANIFEST and not p.name.startswith(".") and p.name not in listed)
    if unlisted:
        raise ManifestError(f"{path}: file(s) {unlisted} are in the folder but not in {MANIFEST}, so the "
                            f"manifest does not describe this delivery; ask {source} to re-send the folder with "
                            "a complete manifest (or remove the stray files)", "manifest_unlisted_file")
    return Delivery(source, day, folder, str(doc.get("template", "")), files)


def find_deliveries(landing: Path, sources: list[str], start: date | None = None, end: date | None = None,
                    rejected: list[RejectedFolder] | None = None) -> tuple[list[Delivery], list[str]]:
    """Deliveries with a manifest for the given sources and date range, oldest
    first; plus notes on folders skipped (no manifest yet, bad names).

    A folder whose manifest is unreadable or does not match the folder is
    added to `rejected` and skipped, so the other folders are still read
    (without `rejected`, its ManifestError is raised)."""
    found: list[Delivery] = []
    notes: list[str] = []
    for source in sources:
        base = landing / source
        if not base.is_dir():
            continue
        for folder in sorted(p for p in base.iterdir() if p.is_dir()):
            try:
                day = date.fromisoformat(folder.name)
            except ValueError:
                notes.append(f"{folder}: not a YYYY-MM-DD folder, ignored")
                continue
            if (start and day < start) or (end and day > end):
                continue
            if not (folder / MANIFEST).exists():
                notes.append(f"{folder}: no {MANIFEST} yet (still uploading), not read")
                continue
            try:
                found.append(read_manifest(folder, source, day))
            except ManifestError as exc:
                if rejected is None:
                    raise
                manifest = folder / MANIFEST
                rejected.append(RejectedFolder(source, day, f"{source}/{day.isoformat()}/{MANIFEST}",
                                               sha256_of(manifest) if manifest.is_file() else "",
                                               exc.reason, str(exc)))
    found.sort(key=lambda d: (d.day, d.source))
    return found, notes
