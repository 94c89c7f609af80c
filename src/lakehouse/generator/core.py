"""generate(): run the world day by day and write every source's folder,
manifest and the answer file."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from datetime import date
from pathlib import Path

from lakehouse.catalog import Catalog, Template, load_catalog

from .answers import AnswerFile
from .events import World
from .faults import FILE_FAULTS, REJECT_REASON, file_fault_slots
from .presets import get_preset
from .truth import Truth
from .writers import assemble, break_xlsx, render_text, render_xlsx

ENTITY_CHUNK = 50_000


def source_order(catalog: Catalog) -> list[str]:
    """Sources in division-code order, city first: a fixed order for deterministic output."""
    return sorted(catalog.sources, key=lambda s: catalog.sources[s].division_code)


def values_out(template: Template) -> dict[str, dict[str, str]]:
    """"table.field" -> {canonical: as sent}: the template's value map read backwards."""
    return {key: {canon: sent for sent, canon in m.items()} for key, m in template.values.items()}


def text_encoding(template: Template) -> str:
    """The codec a text file is written in; utf-8-sig is utf-8 whose BOM the
    generator adds per file (rates.bom), so the codec itself never writes one."""
    return (template.encoding or "utf-8").removesuffix("-sig")


class Generator(AnswerFile):
    def __init__(
        self,
        out: Path,
        truth: Path,
        start: date | None,
        days: int | None,
        preset: str,
        seed: int,
        sources: list[str] | None,
        progress: bool,
        truth_rows: bool | None,
    ):
        self.preset = get_preset(preset)
        self.catalog = load_catalog()
        self.values_out = {code: values_out(tpl) for code, tpl in self.catalog.templates.items()}
        self.out, self.truth_dir = Path(out), Path(truth)
        self.start = start or self.preset.start
        self.n_days = days or self.preset.days
        self.seed = seed
        self.progress = progress
        order = source_order(self.catalog)
        unknown = [s for s in (sources or []) if s not in self.catalog.sources]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; known: {', '.join(order)}")
        self.selected = [s for s in order if sources is None or s in sources]
        self.rates = self.preset.rates
        self.truth_rows = self.preset.truth_rows if truth_rows is None else truth_rows
        self.world = World(self.preset, seed, self.start, self.catalog, self.n_days)
        self.days = self.world.days[: self.n_days]
        horizon = self.world.horizon   # what is planned depends on it, never on n_days
        self.protected = set(self.preset.protect)
        if self.world.hotspot:   # its rows must reach silver: no file fault on that file
            self.protected.add((self.world.hotspot["source"], self.days[0]))
        # drift: day index from which it applies
        self.drift = {}
        for d in self.preset.drift:
            self.drift.setdefault((d.source, d.feed), []).append((d, max(1, int(horizon * d.day_fraction))))
        self.forced = self._file_fault_slots(order, horizon)
        self.not_ready = self._not_ready_sources(order)
        self.carry: dict[tuple[str, str], list] = {}
        self.truth = Truth(self.catalog, self.truth_dir, self.truth_rows)
        self.totals: dict = {}
        self.calib = {
            "record_ids": {},
            "plans": set(),
            "draws": set(),
            "pushes": set(),
            "cal_records": set(),
            "cal_pushes": {},
            "cal_issued": set(),
        }
        self.bytes_written = 0
        self.entity_truth: dict[int, list[str]] = {}

    def _file_fault_slots(self, order: list[str], horizon: int):
        """The district files that get a file fault (file_fault_slots), never a protected day's."""
        slots = [
            (s, i, f, self.catalog.sources[s].template)
            for s in order
            for i in range(horizon - 1)
            for f in self.catalog.sources[s].feeds
            if f in self.catalog.district_feeds and (s, self.world.days[i]) not in self.protected
        ]
        return file_fault_slots(self.rates, self.seed, slots)

    def _not_ready_sources(self, order: list[str]) -> set[str]:
        """The districts whose last day is not delivered yet (the preset's not_ready_sources)."""
        if not self.rates.not_ready_sources:
            return set()
        last = self.days[-1]
        cands = [s for s in order if s != "city" and (s, last) not in self.protected]
        rng = random.Random(f"{self.seed}:not-ready:{last}")
        return set(rng.sample(cands, min(len(cands), self.rates.not_ready_sources)))

    # ----------------------------------------------------------------- main
    def run(self) -> dict:
        t0 = time.time()
        rows_total = 0
        for i, day in enumerate(self.days):
            city = self.world.city_day(i)
            for source in self.selected:
                feeds = self.world.district_day(source, i)
                if source == "city":
                    feeds.update(city)
                rows_total += self._deliver(source, i, day, feeds)
            if self.progress and (i == len(self.days) - 1 or i % max(1, len(self.days) // 20) == 0):
                print(
                    f"[generate] {day} day {i + 1}/{len(self.days)}: {rows_total:,} rows, "
                    f"{self.bytes_written / 1e6:,.0f} MB, {time.time() - t0:,.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
        self.truth.close()
        summary = self._summary(time.time() - t0, rows_total)
        with open(self.truth_dir / "summary.json", "w", encoding="utf-8") as fh:
            json.dump(summary, fh, ensure_ascii=False, indent=1, default=str)
        return summary

    def _headers(self, source: str, template: str, feed: str, i: int, day: date):
        tpl = self.catalog.templates[template]
        headers = list(tpl.headers[feed].items())
        applied = []
        src = self.catalog.sources[source]
        for rn in src.renames:
            if rn.feed == feed and day >= rn.since:
                headers = [(rn.header if f == rn.field else h, f) for h, f in headers]
                applied.append("known_rename")
        for d, since in self.drift.get((source, feed), []):
            if d.kind == "unknown_column" and i >= since:
                headers.append((d.header, "_extra"))
                applied.append("unknown_column")
            elif d.kind == "reordered_columns" and i >= since:
                random.Random(f"{self.seed}:reorder:{source}:{feed}").shuffle(headers)
                applied.append("reordered_columns")
            elif d.kind == "missing_required_column" and i == since:
                event = self.catalog.table_for_feed(feed).event_date
                headers = [(h, f) for h, f in headers if f != event]
                applied.append("missing_required_column")
        return headers, applied

    def _file_fault(self, source, i, day, feed, template) -> str | None:
        if feed in ("entities", "departments") or (source, day) in self.protected:
            return None
        forced = self.forced.get((source, i, feed))
        if forced and not (template == "X" and forced == "bad_encoding"):
            return forced
        rng = random.Random(f"{self.seed}:file-fault:{source}:{i}:{feed}")
        r, acc = rng.random(), 0.0
        for f in FILE_FAULTS:
            acc += getattr(self.rates, f)
            if r < acc:
                return None if (template == "X" and f == "bad_encoding") else f
        return None

    def _deliver(self, source: str, i: int, day: date, feeds: dict) -> int:
        src = self.catalog.sources[source]
        template = src.template
        folder = self.out / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        written = 0
        ready = source not in self.not_ready or i != len(self.days) - 1
        district_feeds = self.catalog.district_feeds
        order = sorted(src.feeds, key=lambda f: (f not in ("entities", "departments"), f in district_feeds))
        for feed in order:
            if feed == "entities":
                res = self._write_entities(source, i, day, folder, feeds.get("entities") or [], ready)
            else:
                rows = self.carry.pop((source, feed), []) + list(feeds.get(feed) or [])
                if not rows:
                    continue
                res = self._write_feed(source, template, i, day, folder, feed, rows, ready)
            if res:
                entries.append(res[0])
                written += res[1]
        entries.sort(key=lambda e: src.feeds.index(e["feed"]))
        if ready:
            manifest = {"source": source, "date": day.isoformat(), "template": template, "files": entries}
            (folder / "_MANIFEST.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        else:
            self.truth.file(
                {
                    "source": source,
                    "date": day.isoformat(),
                    "feed": None,
                    "file": f"{source}/{day.isoformat()}",
                    "rows_written": written,
                    "expected_status": "not_ready",
                    "reject_reason": None,
                    "faults": {"not_ready": 1},
                }
            )
            self._count(source, "_folder", "faults", "not_ready")
        return written

    def _write_feed(self, source, template, i, day, folder, feed, rows, ready):
        rng = random.Random(f"{self.seed}:render:{source}:{i}:{feed}")
        headers, drift = self._headers(source, template, feed, i, day)
        _fill_extra_column(headers, rows, rng)
        # planted whether or not the folder is complete yet: its files are the same bytes
        # once a longer run (or the next day's) writes its manifest
        fault = self._file_fault(source, i, day, feed, template)
        rendered, fault, bom = self._render(source, template, day, feed, headers, rows, fault, rng)
        name = self.catalog.templates[template].file_name(feed)
        rel = f"{source}/{day.isoformat()}/{name}"
        (folder / name).write_bytes(rendered.data)
        self.bytes_written += len(rendered.data)
        sha = hashlib.sha256(
            rendered.sha_override if rendered.sha_override is not None else rendered.data
        ).hexdigest()
        entry = {"name": name, "feed": feed, "rows": rendered.rows, "sha256": sha}
        faults, reject = self._planted(feed, day, rows, fault, drift, bom)
        status = "accepted" if reject is None else "rejected"
        if not ready:
            status = "not_ready"
        self._file_answer(source, day, feed, rel, len(rows), rendered.rows, status, reject, faults)
        if status == "rejected":
            self.carry[(source, feed)] = rows  # the source sends them again with its next delivery
        elif status == "accepted":
            self._calibration(source, feed, day, rows)
            if self.truth_rows:
                self._evaluate_rows(source, feed, day, rel, rows, template)
        return entry, len(rows)

    def _render(self, source, template, day, feed, headers, rows, fault, rng):
        """(bytes broken as `fault` says, the fault as applied, whether a BOM was written)."""
        tpl, vmap = self.catalog.templates[template], self.values_out[template]
        if template == "X":
            sheet = tpl.sheet_names.get(feed, feed)
            title = f"{self.catalog.sources[source].name}{sheet}信息导出 {day.isoformat()}"
            data = render_xlsx(title, sheet, feed, headers, rows, vmap, rng, self.rates.x_text_dates)
            head_only = (
                render_xlsx(title, sheet, feed, headers, [], vmap, rng, 0)
                if fault == "header_only"
                else None
            )
            return break_xlsx(data, len(rows), fault, rng, head_only), fault, False
        head, lines = render_text(template, feed, headers, rows, vmap, rng)
        bom = template == "S" and rng.random() < self.rates.bom
        if template == "J" and fault == "header_only":
            fault = "empty_file"  # JSON Lines has no header: header-only is an empty file
        return assemble(template, text_encoding(tpl), head, lines, fault, bom, rng), fault, bom

    def _planted(self, feed, day, rows, fault, drift, bom) -> tuple[dict[str, int], str | None]:
        """(fault -> count, the reject reason or None) of a delivered file and its rows."""
        faults: dict[str, int] = {}
        reject = None
        if fault:
            faults[fault] = 1
            reject = REJECT_REASON[fault]
        for d in drift:
            faults[d] = 1
        if "missing_required_column" in drift and reject is None:
            reject = "missing_required_column"
        if bom:
            faults["bom"] = 1
        event = self.catalog.table_for_feed(feed).event_date
        late_after = self.catalog.thresholds.late_after_days
        for row in rows:
            for f in row.get("_faults") or ():
                faults[f] = faults.get(f, 0) + 1
            ev = row.get(event) if event else None
            if (
                isinstance(ev, date)
                and (day - (ev.date() if hasattr(ev, "date") else ev)).days > late_after
                and ev.year >= 1949
            ):
                faults["late"] = faults.get("late", 0) + 1
        return faults, reject

    def _write_entities(self, source, i, day, folder, indices, ready):
        if not indices:
            return None
        template = self.catalog.sources[source].template
        tpl = self.catalog.templates[template]
        reg = self.world.registry
        rng = random.Random(f"{self.seed}:render:{source}:{i}:entities")
        headers, _ = self._headers(source, template, "entities", i, day)
        name = tpl.file.format(feed="entities")
        rel = f"{source}/{day.isoformat()}/{name}"
        bom = rng.random() < self.rates.bom
        h = hashlib.sha256()
        n = 0
        faults: dict[str, int] = {}
        with open(folder / name, "wb") as fh:
            first = True
            idx_list = list(indices)
            for c in range(0, len(idx_list), ENTITY_CHUNK):
                chunk = idx_list[c : c + ENTITY_CHUNK]
                need = [x for x in chunk if x not in reg.lines]
                rows = {x: reg.row(x) for x in need}
                head, lines = render_text(
                    template, "entities", headers, list(rows.values()), self.values_out[template], rng
                )
                for x, line in zip(need, lines, strict=False):
                    reg.lines[x] = line
                text = (("\ufeff" if bom else "") + head if first else "") + "".join(
                    reg.lines[x] for x in chunk
                )
                first = False
                data = text.encode(text_encoding(tpl))
                fh.write(data)
                h.update(data)
                self.bytes_written += len(data)
                for k, x in enumerate(chunk):
                    self._entity_faults(x, faults)
                    if self.truth_rows and ready:
                        self._entity_answer(source, day, rel, n + k + 1, x, rows.get(x), template)
                n += len(chunk)
        if bom:
            faults["bom"] = 1
        status = "accepted" if ready else "not_ready"
        self._file_answer(source, day, "entities", rel, n, n, status, None, faults)
        return {"name": name, "feed": "entities", "rows": n, "sha256": h.hexdigest()}, n

    # ------------------------------------------------------------ reporting


def _fill_extra_column(headers: list[tuple[str, str]], rows: list[dict], rng: random.Random) -> None:
    """A drifted file's unknown column gets a value per row (kept in silver's extra_columns)."""
    extra_header = next((h for h, f in headers if f == "_extra"), None)
    for row in rows:
        if extra_header is None:
            row.pop("_extra_columns", None)
        else:
            row["_extra"] = rng.choice(("系统导入", "人工录入", "接口推送"))
            row["_extra_columns"] = {extra_header: row["_extra"]}


def generate(
    out: Path,
    truth: Path | None = None,
    start: date | None = None,
    days: int | None = None,
    preset: str = "small",
    seed: int = 7,
    sources: list[str] | None = None,
    progress: bool = True,
    truth_rows: bool | None = None,
) -> dict:
    """Write the landing folders under `out` and the answer file under `truth`
    (default: `<out>/../truth`). Returns the summary (also truth/summary.json)."""
    out = Path(out)
    truth = Path(truth) if truth is not None else out.parent / "truth"
    return Generator(out, truth, start, days, preset, seed, sources, progress, truth_rows).run()
