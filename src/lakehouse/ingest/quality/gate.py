"""Run a table's suite as a GX checkpoint on a Spark batch and keep the
results and Data Docs under $LAKEHOUSE_HOME/gx (Data Docs rendered once per
batch, build_data_docs).

One validation per table per run (cheap); only when a critical expectation
fails is the batch re-validated per source, so that only the failing
sources are blocked and every other source is still published.

Engine: GX runs each metric as its own Spark job, about 5 s a table even for
ten rows, which dominated small daily batches. Batches up to
LAKEHOUSE_GX_PANDAS_MAX_ROWS rows (default 2,000,000) are therefore
validated with GX's pandas engine on just the columns the suite names
(about 0.1 s for 100k rows); larger ones stay on Spark. Same suite, same
results either way.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from lakehouse.config import gx_pandas_max_rows, settings
from lakehouse.ingest.quality.suites import load_suite

log = logging.getLogger(__name__)


@dataclass
class GateResult:
    passed: bool
    failures: list[str] = field(default_factory=list)     # critical, blocking
    warnings: list[str] = field(default_factory=list)
    blocked_sources: set[str] = field(default_factory=set)


_GX_LOCK = threading.RLock()   # tables are validated from several threads; GX's context is not thread-safe
# Validation results not yet in Data Docs. Rendering rebuilds the site's index,
# which lists every result ever stored: once per run, not once per table.
_UNRENDERED: list = []


@lru_cache(maxsize=4)
def _context(home: str):
    import great_expectations as gx

    ctx = gx.get_context(mode="file", project_root_dir=home)
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    except Exception:  # progress bars are cosmetic; older layouts lack the setting
        log.debug("could not switch off GX progress bars")
    return ctx


def _checkpoint(home: str, table: str, engine: str):
    """The table's checkpoint, registered again on every run (a cached one goes
    stale: registering any table's data source again drops the other tables'
    assets). No actions: Data Docs are built once per batch, see build_data_docs."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    ctx = _context(home)
    spec = load_suite(table)
    if engine == "spark":
        source = ctx.data_sources.add_or_update_spark(name="silver_batches")
    else:
        source = ctx.data_sources.add_or_update_pandas(name="silver_batches_pandas")
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(name=table)
    try:
        batch_def = asset.get_batch_definition("batch")
    except (LookupError, KeyError):
        batch_def = asset.add_batch_definition_whole_dataframe("batch")
    suite = gx.ExpectationSuite(name=spec["name"], meta=spec.get("meta", {}))
    for exp in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(
                type=exp["type"], kwargs=exp["kwargs"], meta=exp.get("meta", {})))
    suite = ctx.suites.add_or_update(suite)
    definition = ctx.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{spec['name']}_{engine}", data=batch_def, suite=suite))
    return ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=f"{spec['name']}_{engine}", validation_definitions=[definition], actions=[],
        result_format="SUMMARY"))


def _suite_columns(table: str) -> list[str]:
    cols: list[str] = []
    for exp in load_suite(table)["expectations"]:
        kw = exp["kwargs"]
        cols += [kw["column"]] if "column" in kw else list(kw.get("column_list", []))
    return list(dict.fromkeys(cols))


def _run(table: str, df, run_name: str, rows: int) -> tuple[list[str], list[str]]:
    import great_expectations as gx

    engine = "spark" if rows > gx_pandas_max_rows() else "pandas"
    if engine == "pandas":
        df = df.select(*[c for c in _suite_columns(table) if c in df.columns]).toPandas()
    with _GX_LOCK:
        result = _checkpoint(str(settings().home), table, engine).run(
            batch_parameters={"dataframe": df}, run_id=gx.RunIdentifier(run_name=run_name))
        _UNRENDERED.extend(result.run_results)
    failures, warnings = [], []
    for validation in result.run_results.values():
        for r in validation.results:
            if r.success:
                continue
            cfg = r.expectation_config
            col = cfg.kwargs.get("column") or cfg.kwargs.get("column_list") or ""
            text = f"{table}: {cfg.type}({col}) unexpected={r.result.get('unexpected_count')}"
            (failures if (cfg.meta or {}).get("critical") else warnings).append(text)
    return failures, warnings


def validate_batch(table: str, df, run_id: str, rows: int) -> GateResult:
    """Validate the batch of new versions of `table` (about `rows` of them) about to be merged."""
    failures, warnings = _run(table, df, f"{run_id}-{table}", rows)
    if not failures:
        return GateResult(True, [], warnings)
    blocked: set[str] = set()
    for row in df.select("_source").distinct().collect():
        src = row["_source"]
        src_failures, _ = _run(table, df.where(df["_source"] == src), f"{run_id}-{table}-{src}", rows)
        if src_failures:
            blocked.add(src)
            failures.extend(f"[{src}] {f}" for f in src_failures)
    return GateResult(False, failures, warnings, blocked)


def build_data_docs() -> None:
    """Render the results validated since the last call into Data Docs (one
    index rebuild); the ingest calls it at the end of each batch."""
    with _GX_LOCK:
        results, _UNRENDERED[:] = list(_UNRENDERED), []
        if not results:
            return
        try:
            _context(str(settings().home)).build_data_docs(resource_identifiers=results)
        except Exception as exc:   # the results are stored; a page not drawn must not fail a committed batch
            log.warning("GX Data Docs not updated (%s: %s); the validation results are stored under %s, "
                        "and the next batch renders its own", type(exc).__name__, exc, settings().home / "gx")


def data_docs_index() -> str:
    return str(settings().home / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html")
