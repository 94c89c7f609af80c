"""The commands that are also Spark jobs (jobs/<name>.py): ingest, publish
and maintain. Each is its work (the library function the DAG tasks call
too, see orchestration.py) and what the command prints about its result."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lakehouse.cli.base import command, day, prepare_process, run_command
from lakehouse.config import settings


def ingest_job(args):
    """The body of `lakehouse ingest` and jobs/ingest.py: returns the IngestReport."""
    from lakehouse.ingest.pipeline import ingest

    start = args.date or args.start
    end = args.date or args.end
    return ingest(sources=args.source or None, start=start, end=end,
                  landing=Path(args.landing) if args.landing else None)


def preflight_ingest(args) -> None:
    """`lakehouse ingest`'s checks before Spark starts: a landing that does not
    exist or holds nothing, a reversed range, a day with no delivery folder."""
    from lakehouse.catalog import load_catalog
    from lakehouse.ingest.preflight import check_ingest_request

    check_ingest_request(args.landing or settings().landing, args.source, args.date or args.start,
                         args.date or args.end, load_catalog(settings().schemas_dir).sources)


def show_ingest(report) -> None:
    for note in report.notes:
        print("note:", note)
    for line in report.problem_lines():
        print(line)
    print(json.dumps({"run_id": report.run_id, **report.totals(),
                      "blocked_sources": sorted(report.blocked_sources),
                      "seconds_by_stage": {k: round(v, 1) for k, v in report.timings.items()}}, indent=2))


def publish_job(_args):
    """The body of `lakehouse publish` and jobs/publish.py: returns the Published tables."""
    from lakehouse.serving.publish import publish

    return publish()


def show_publish(published) -> None:
    for p in published:
        print(f"lake.{p.table}: delta v{p.from_version} -> v{p.to_version}, {p.upserted} upserted, "
              f"{p.deleted} deleted")


def maintain_job(args):
    """The body of `lakehouse maintain` and jobs/maintain.py: returns the Maintained tables."""
    from lakehouse.ingest.recovery import undo_unfinished
    from lakehouse.lake.maintain import maintain

    return maintain(undo_unfinished=undo_unfinished, retain_days=args.retain_days)


def show_maintain(maintained) -> None:
    for m in (m for m in maintained if m.changed):     # the tables with nothing to do stay quiet
        print(f"{m.path}: {m.files_before} -> {m.files_after} files, {m.vacuumed} vacuumed")
    print(f"[maintain] {len(maintained)} tables: {sum(m.compacted for m in maintained)} compacted, "
          f"{sum(m.vacuum_ran for m in maintained)} vacuumed, {sum(not m.changed for m in maintained)} had nothing to do")


# The options of ingest and maintain, shared with jobs/ingest.py and jobs/maintain.py.
INGEST_DESCRIPTION = ("Read the deliveries in the landing folder (every file kept in bronze), validate them, and "
                      "write the accepted rows to silver, the rejected rows to quarantine with their reasons. "
                      "Without --date/--from/--to: every day delivered.")
PUBLISH_DESCRIPTION = ("Copy what changed in the silver Delta tables since the last publish into PostgreSQL lake.* "
                       "(upserts and deletes, by Delta version).")
MAINTAIN_DESCRIPTION = ("Compact small files (OPTIMIZE), keep Delta checkpoints regular and VACUUM files older than "
                        "the time-travel window, for every Delta table of the lake. Takes the ingest's lock and first "
                        "undoes a batch a crash left unfinished.")


def add_ingest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", action="append", help="source code, e.g. jingan (repeatable; default: all)")
    p.add_argument("--date", "--day", dest="date", type=day, help="one delivery day, YYYY-MM-DD")
    p.add_argument("--from", "--start", dest="start", type=day, help="first delivery day of a range, YYYY-MM-DD")
    p.add_argument("--to", "--end", dest="end", type=day, help="last delivery day of a range, YYYY-MM-DD")
    p.add_argument("--landing", help="landing root folder (default: LAKEHOUSE_LANDING)")


def add_maintain_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--retain-days", type=int, help="time travel kept (default LAKEHOUSE_VACUUM_RETAIN_DAYS)")


@dataclass(frozen=True)
class Job:
    """A sub-command that is also a Spark job, jobs/<name>.py: its options and body."""
    name: str
    help: str                  # its line in `lakehouse --help`
    description: str
    work: Callable             # args -> result
    show: Callable             # result -> None: what the command prints
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    # `lakehouse <name>` only: checks that fail fast before Spark starts (not run
    # by jobs/<name>.py, whose callers, the DAGs, decide what a day holds)
    preflight: Callable | None = None

    def command(self, args):
        """The sub-command / program: the work, then its printout."""
        result = self.work(args)
        self.show(result)
        return result

    def cli_command(self, args):
        """`lakehouse <name>`: the preflight checks, then the command."""
        if self.preflight:
            self.preflight(args)
        return self.command(args)

    def parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog=prog or f"jobs/{self.name}.py", description=self.description)
        if self.add_arguments:
            self.add_arguments(p)
        return p


def jobs() -> dict[str, Job]:
    return {j.name: j for j in (
        Job("ingest", "landing -> bronze -> silver for sources and days", INGEST_DESCRIPTION, ingest_job,
            show_ingest, add_ingest_arguments, preflight_ingest),
        Job("publish", "silver -> PostgreSQL lake.* (changes only)", PUBLISH_DESCRIPTION, publish_job,
            show_publish),
        Job("maintain", "compact (OPTIMIZE), checkpoint and vacuum every Delta table", MAINTAIN_DESCRIPTION,
            maintain_job, show_maintain, add_maintain_arguments))}


def add(sub) -> None:
    for job in jobs().values():
        cmd = command(sub, job.name, job.help, job.description, job.cli_command)
        if job.add_arguments:
            job.add_arguments(cmd)


def job_main(name: str, argv: list[str] | None = None) -> int:
    """main() of jobs/<name>.py: its own arguments, then the sub-command's
    function with the CLI's error lines and exit codes."""
    job = jobs()[name]
    prepare_process()
    return run_command(name, job.command, job.parser().parse_args(argv))
