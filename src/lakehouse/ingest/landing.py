"""Finding deliveries in the landing area and reading their manifests: the
driver's whole share of the delivered bytes.

A delivery is `<landing>/<source>/<YYYY-MM-DD>/` with a `_MANIFEST.json`; a
folder without one is still being uploaded and is not read. The landing is a
local folder (listed with os.scandir) or object storage, e.g.
`s3a://bucket/landing` (listed with pyarrow's file systems). Either way only
names, sizes and modification times are listed and only the small manifests
are read: the delivered data files are opened by Spark's executors
(ingest/staging.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
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
class Listed:
    """A file as the landing's listing shows it (never opened by the driver)."""
    size: int
    modified_ms: int


@dataclass(frozen=True)
class Delivery:
    source: str
    day: date
    folder: str                    # local path or URI of the delivery folder
    template: str
    files: tuple[ManifestEntry, ...]
    listed: dict[str, Listed] = field(default_factory=dict, compare=False, hash=False)   # name -> listing

    def relative(self, name: str) -> str:
        return f"{self.source}/{self.day.isoformat()}/{name}"

    def uri(self, name: str) -> str:
        """Where Spark reads the file: the folder's path or URI plus the name."""
        return f"{self.folder.rstrip('/')}/{name}"


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


def is_uri(landing: str | Path) -> bool:
    """A landing Spark lists and reads through its file systems (s3a://, hdfs://, ...)."""
    text = str(landing)
    return "://" in text and not text.startswith("file://")


def local_path(landing: str | Path) -> Path:
    text = str(landing)
    return Path(text[len("file://"):] if text.startswith("file://") else text)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_manifest(data: bytes, where: str, source: str, day: date, names: set[str], folder: str,
                   listed: dict[str, Listed] | None = None) -> Delivery:
    """The manifest's bytes (at `where`) and the names in its folder -> a Delivery, or ManifestError."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
        files = tuple(ManifestEntry(str(f["name"]), str(f["feed"]), int(f["rows"]), str(f["sha256"]).lower())
                      for f in doc["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{where}: unreadable manifest ({exc}); ask {source} to re-send the folder "
                            f"with a valid {MANIFEST}") from exc
    if doc.get("source") not in (None, source) or doc.get("date") not in (None, day.isoformat()):
        raise ManifestError(f"{where}: manifest says source={doc.get('source')!r} date={doc.get('date')!r} "
                            f"but the folder is {source}/{day}; move the folder or fix the manifest",
                            "manifest_wrong_folder")
    unlisted = sorted(n for n in names if n != MANIFEST and not n.startswith(".") and n not in {f.name for f in files})
    if unlisted:
        raise ManifestError(f"{where}: file(s) {unlisted} are in the folder but not in {MANIFEST}, so the "
                            f"manifest does not describe this delivery; ask {source} to re-send the folder with "
                            "a complete manifest (or remove the stray files)", "manifest_unlisted_file")
    return Delivery(source, day, folder, str(doc.get("template", "")), files, dict(listed or {}))


def read_manifest(folder: Path, source: str, day: date) -> Delivery:
    """A local delivery folder's manifest (the CLI and tests read one folder)."""
    listing = _list_local_folder(folder)
    return parse_manifest(_read_local(folder / MANIFEST), str(folder / MANIFEST), source, day, set(listing),
                          str(folder), listing)


def _read_local(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        return str(exc).encode()    # not JSON: parse_manifest reports it as unreadable


def _list_local_folder(folder: Path) -> dict[str, Listed]:
    out = {}
    with os.scandir(folder) as entries:
        for e in entries:
            if e.is_file():
                st = e.stat()
                out[e.name] = Listed(st.st_size, st.st_mtime_ns // 1_000_000)
    return out


# (source, day) -> {file name: Listed}; and a reader of one manifest's bytes
Listing = dict[tuple[str, date], dict[str, Listed]]


def _list_local(landing: Path, sources: list[str], start: date | None, end: date | None,
                notes: list[str]) -> tuple[Listing, dict[tuple[str, date], str]]:
    listing, folders = {}, {}
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
            listing[(source, day)] = _list_local_folder(folder)
            folders[(source, day)] = str(folder)
    return listing, folders


def _object_store(landing: str):
    """(pyarrow file system, root path in it) of a landing on object storage.

    The driver lists it and reads its manifests through pyarrow, not Spark:
    Spark's file index hides names starting with "_" (`_MANIFEST.json`), and
    a Spark Connect client has no Hadoop file system of its own. The data
    files are read by the executors through Spark's file systems."""
    from pyarrow import fs

    from lakehouse.config import settings

    if landing.startswith("s3a://"):
        cfg = settings()
        endpoint = cfg.s3_endpoint.split("://", 1)[-1] or None
        scheme = "http" if cfg.s3_endpoint.startswith("http://") else "https"
        store = fs.S3FileSystem(endpoint_override=endpoint, scheme=scheme, region=cfg.s3_region,
                                access_key=cfg.s3_access_key or None, secret_key=cfg.s3_secret_key or None)
        return store, landing[len("s3a://"):].rstrip("/")
    return fs.FileSystem.from_uri(landing)


def _list_object_store(landing: str, sources: list[str], start: date | None, end: date | None,
                       notes: list[str]) -> tuple[Listing, dict[tuple[str, date], str]]:
    """The same listing on object storage (names, sizes, times; nothing read)."""
    from pyarrow import fs

    store, root = _object_store(landing)
    try:
        infos = store.get_file_info(fs.FileSelector(root, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise ValueError(f"{landing}: cannot list the landing ({exc}); check its URI and the S3 settings "
                         "(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)") from exc
    listing: Listing = {}
    folders = {}
    base = landing.rstrip("/")
    for info in infos:
        parts = info.path[len(root):].strip("/").split("/")
        if info.type != fs.FileType.File or len(parts) != 3 or parts[0] not in sources:
            continue
        source, folder_name, name = parts
        try:
            day = date.fromisoformat(folder_name)
        except ValueError:
            notes.append(f"{base}/{source}/{folder_name}: not a YYYY-MM-DD folder, ignored")
            continue
        if (start and day < start) or (end and day > end):
            continue
        listing.setdefault((source, day), {})[name] = Listed(info.size, int(info.mtime.timestamp() * 1000))
        folders[(source, day)] = f"{base}/{source}/{folder_name}"
    return listing, folders


def _read_object(landing: str, uri: str) -> bytes:
    store, root = _object_store(landing)
    path = root + uri[len(landing.rstrip("/")):]
    try:
        with store.open_input_stream(path) as stream:
            return stream.read()
    except OSError as exc:
        return str(exc).encode()    # not JSON: parse_manifest reports it as unreadable


def find_deliveries(landing: str | Path, sources: list[str], start: date | None = None, end: date | None = None,
                    rejected: list[RejectedFolder] | None = None) -> tuple[list[Delivery], list[str]]:
    """Deliveries with a manifest for the given sources and date range, oldest
    first; plus notes on folders skipped (no manifest yet, bad names).

    A folder whose manifest is unreadable or does not match the folder is
    added to `rejected` and skipped, so the other folders are still read
    (without `rejected`, its ManifestError is raised). A landing given as a
    URI (s3a://...) is listed on its object store."""
    notes: list[str] = []
    if is_uri(landing):
        listing, folders = _list_object_store(str(landing), sources, start, end, notes)
    else:
        listing, folders = _list_local(local_path(landing), sources, start, end, notes)
    waiting = sorted(k for k, names in listing.items() if MANIFEST not in names)
    notes += [f"{folders[k]}: no {MANIFEST} yet (still uploading), not read" for k in waiting]
    ready = sorted(k for k, names in listing.items() if MANIFEST in names)
    manifest_of = {k: f"{folders[k]}/{MANIFEST}" for k in ready}
    if is_uri(landing):
        data = {p: _read_object(str(landing), p) for p in manifest_of.values()}
    else:
        data = {p: _read_local(Path(p)) for p in manifest_of.values()}
    found: list[Delivery] = []
    for key in ready:
        source, day = key
        where = manifest_of[key]
        try:
            found.append(parse_manifest(data[where], where, source, day, set(listing[key]), folders[key],
                                        listing[key]))
        except ManifestError as exc:
            if rejected is None:
                raise
            rejected.append(RejectedFolder(source, day, f"{source}/{day.isoformat()}/{MANIFEST}",
                                           hashlib.sha256(data[where]).hexdigest(), exc.reason, str(exc)))
    found.sort(key=lambda d: (d.day, d.source))
    return found, notes
