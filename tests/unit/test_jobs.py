"""jobs/*.py parse their own options (the same as `lakehouse ingest|publish|maintain`)
and hand them to the library function; failures are the CLI's one line and exit
code 2. The library functions are replaced by recorders: no Spark here."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from jobs import ingest, maintain, publish
from lakehouse.orchestration.factories import backfill_request


class Recorder:
    """Stands in for a library function: keeps the keyword arguments of each call."""

    def __init__(self, result):
        self.calls: list[dict] = []
        self.result = result

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        return self.result


def _empty_report():
    from lakehouse.ingest.pipeline import IngestReport

    return IngestReport("run-test")


@pytest.fixture
def library_ingest(monkeypatch):
    import lakehouse.ingest.pipeline as pipeline

    recorder = Recorder(_empty_report())
    monkeypatch.setattr(pipeline, "ingest", recorder)
    return recorder


@pytest.mark.parametrize("argv, sources, start, end", [
    ([], None, None, None),
    (["--source", "huangpu", "--day", "2017-04-14"], ["huangpu"], date(2017, 4, 14), date(2017, 4, 14)),
    (["--source", "city", "--source", "jingan", "--start", "2017-04-10", "--end", "2017-04-14"],
     ["city", "jingan"], date(2017, 4, 10), date(2017, 4, 14)),
    (["--from", "2017-04-10", "--to", "2017-04-12"], None, date(2017, 4, 10), date(2017, 4, 12)),
])
def test_ingest_maps_its_options_onto_the_library_call(library_ingest, argv, sources, start, end):
    assert ingest.main(argv) == 0
    assert library_ingest.calls == [{"sources": sources, "start": start, "end": end, "landing": None}]


def test_ingest_landing_option_is_a_path(library_ingest, tmp_path):
    assert ingest.main(["--landing", str(tmp_path)]) == 0
    assert library_ingest.calls[0]["landing"] == tmp_path


def test_ingest_prints_the_cli_summary(library_ingest, capsys):
    assert ingest.main(["--day", "2017-04-14"]) == 0
    out = capsys.readouterr().out
    assert '"run_id": "run-test"' in out and '"rows_in": 0' in out


def test_a_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        ingest.main(["--day", "2017-13-01"])
    assert exit_.value.code == 2
    assert "'2017-13-01' is not a date: use YYYY-MM-DD" in capsys.readouterr().err


def test_an_unknown_source_is_one_line_and_exit_code_2(capsys):
    """The real library: it refuses the name before any Spark starts."""
    assert ingest.main(["--source", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lakehouse ingest: unknown source(s) ['nowhere']")
    assert "Traceback" not in err


def test_publish_takes_no_options_and_returns_what_was_published(monkeypatch):
    import lakehouse.serving.publish as library

    published = [SimpleNamespace(table="penalties", from_version=None, to_version=2, upserted=3, deleted=0)]
    recorder = Recorder(published)
    monkeypatch.setattr(library, "publish", recorder)
    assert publish.main([]) == 0
    assert recorder.calls == [{}]
    with pytest.raises(SystemExit):
        publish.main(["--source", "huangpu"])


@pytest.mark.parametrize("argv, retain_days", [([], None), (["--retain-days", "30"], 30)])
def test_maintain_maps_retain_days(monkeypatch, argv, retain_days):
    import lakehouse.lake.maintain as library

    recorder = Recorder([])
    monkeypatch.setattr(library, "maintain", recorder)
    assert maintain.main(argv) == 0
    from lakehouse.ingest.recovery import undo_unfinished

    # and a batch a crash left half done is undone before anything is vacuumed
    assert recorder.calls == [{"retain_days": retain_days, "undo_unfinished": undo_unfinished}]


def test_a_failure_the_user_can_fix_is_the_clis_line(monkeypatch, capsys):
    import lakehouse.lake.maintain as library
    from lakehouse.lake.lakelock import LakeBusy

    def busy(**_):
        raise LakeBusy("the lake is held by ingest (pid 1): wait for it")

    monkeypatch.setattr(library, "maintain", busy)
    assert maintain.main([]) == 2
    assert capsys.readouterr().err.startswith("lakehouse maintain: the lake is held by ingest")


def test_the_backfill_conf_becomes_the_ingests_arguments():
    conf = {"start": "2017-01-02", "end": "2017-12-29", "sources": ["jingan", "city"]}
    assert backfill_request(conf) == {"sources": ["jingan", "city"], "start": date(2017, 1, 2),
                                      "end": date(2017, 12, 29)}
    assert backfill_request({}) == {"sources": None, "start": None, "end": None}
    with pytest.raises(ValueError, match="ingest_backfill's conf: end='2017-13-01' is not a date: use YYYY-MM-DD"):
        backfill_request({"end": "2017-13-01"})
