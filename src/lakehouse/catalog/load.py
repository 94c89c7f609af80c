"""The schemas/ folder parsed into the typed models of models.py.

Borrowed from OpenSanctions zavod: configuration is parsed once into pydantic
models with `extra="forbid"`, and cross-file consistency (a template names a
table, a rename names a column, ...) is checked at load time. A typo therefore
fails at start-up with the file and the key, not deep inside a Spark job.
Adding a source is adding `schemas/sources/<code>.yaml`; nothing here changes:
the division registry (`Catalog.districts`) is derived from the sources.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lakehouse.catalog.models import (
    REFERENCE_LISTS,
    Catalog,
    CatalogError,
    District,
    Source,
    Table,
    Template,
    _CommonFile,
    _ReferenceFile,
    _RulesFile,
)


def default_schemas_dir() -> Path:
    """The schemas/ folder: LAKEHOUSE_SCHEMAS via lakehouse.config, else the repo's."""
    try:
        from lakehouse.config import settings

        return settings().schemas_dir
    except ImportError:  # config is optional for pure-Python users of the catalog
        return Path(__file__).resolve().parents[3] / "schemas"


def _read_yaml(path: Path, root: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{_rel(path, root)}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{_rel(path, root)}: expected a mapping at top level, got {type(data).__name__}")
    return data


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(root.name) / path.relative_to(root))
    except ValueError:
        return str(path)


def _parse(model: type[BaseModel], data: Any, path: Path, root: Path, **extra: Any) -> Any:
    try:
        return model.model_validate({**data, **extra})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise CatalogError(f"{_rel(path, root)}: invalid:\n" + "\n".join(lines)) from None


def _fail(path: Path, root: Path, key: str, msg: str) -> None:
    raise CatalogError(f"{_rel(path, root)}: {key}: {msg}")


def load_catalog(root: Path | None = None) -> Catalog:
    """Load and cross-check schemas/ (default: `default_schemas_dir()`)."""
    root = Path(root) if root is not None else default_schemas_dir()
    if not root.is_dir():
        raise CatalogError(f"schemas folder {root} does not exist (set LAKEHOUSE_SCHEMAS)")
    ref_path, rules_path, common_path = (
        root / "reference.yaml",
        root / "rules.yaml",
        root / "tables/_common.yaml",
    )
    for p in (ref_path, rules_path, common_path):
        if not p.is_file():
            raise CatalogError(f"{_rel(p, root)}: missing")
    ref: _ReferenceFile = _parse(_ReferenceFile, _read_yaml(ref_path, root), ref_path, root)
    rules: _RulesFile = _parse(_RulesFile, _read_yaml(rules_path, root), rules_path, root)
    common: _CommonFile = _parse(_CommonFile, _read_yaml(common_path, root), common_path, root)

    tables = _load_tables(root, common)
    templates = _load_templates(root, tables)
    sources, source_files = _load_sources(root, templates, tables)
    districts = _division_registry(sources, source_files, root)
    _check_legacy_districts(ref, districts, ref_path, root)
    return Catalog(
        root=root,
        tables=tables,
        templates=templates,
        sources=sources,
        rules=rules.rules,
        thresholds=rules.thresholds,
        districts=districts,
        legacy_districts=ref.legacy_districts,
        legacy_district_names=ref.legacy_district_names,
        known_licence_types=tuple(rules.known_licence_types),
    )


def _load_tables(root: Path, common: _CommonFile) -> dict[str, Table]:
    """tables/*.yaml (not _common.yaml), each with the common columns it asks for."""
    common_cols = {
        "lineage": common.lineage,
        "entity_ref": common.entity_ref,
        "district_held": common.district_held,
        "extras": common.extras,
        "parsed_address": common.parsed_address,
    }
    tables: dict[str, Table] = {}
    table_files: dict[str, Path] = {}
    for path in sorted((root / "tables").glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        t: Table = _parse(Table, _read_yaml(path, root), path, root, common=common_cols)
        if t.name != path.stem:
            _fail(path, root, "name", f"{t.name!r} differs from the file name {path.stem!r}")
        tables[t.name] = t
        table_files[t.name] = path
    for name, t in tables.items():
        for i, col in enumerate(t.columns):
            if col.references and col.references not in tables and col.references not in REFERENCE_LISTS:
                _fail(
                    table_files[name],
                    root,
                    f"columns.{i}.references",
                    f"{col.references!r} is neither a table nor one of {sorted(REFERENCE_LISTS)}",
                )
    return tables


def _load_templates(root: Path, tables: dict[str, Table]) -> dict[str, Template]:
    """templates/*.yaml: raw first, then headers_from / values_from resolved, then checked."""
    raw_templates: dict[str, dict[str, Any]] = {}
    template_files: dict[str, Path] = {}
    for path in sorted((root / "templates").glob("*.yaml")):
        data = _read_yaml(path, root)
        code = data.get("template")
        if code != path.stem:
            _fail(path, root, "template", f"{code!r} differs from the file name {path.stem!r}")
        raw_templates[code] = data
        template_files[code] = path
    templates: dict[str, Template] = {}
    for code, data in raw_templates.items():
        path = template_files[code]
        merged = _resolve_borrowed(data, raw_templates, path, root)
        tpl: Template = _parse(Template, merged, path, root)
        _check_template(tpl, tables, path, root)
        templates[code] = tpl
    return templates


def _resolve_borrowed(
    data: dict[str, Any], raw_templates: dict[str, dict[str, Any]], path: Path, root: Path
) -> dict[str, Any]:
    """The template's data with headers_from / values_from replaced by the other template's part."""
    merged = dict(data)
    for attr, part in (("headers_from", "headers"), ("values_from", "values")):
        base = data.get(attr)
        if base is None:
            continue
        if base not in raw_templates:
            _fail(path, root, attr, f"unknown template {base!r} (known: {sorted(raw_templates)})")
        if raw_templates[base].get(attr):
            _fail(path, root, attr, f"template {base!r} itself borrows {part}; chains are not supported")
        if data.get(part):
            _fail(path, root, part, f"set both {part} and {attr}; choose one")
        merged[part] = raw_templates[base].get(part, {})
    return merged


def _check_template(tpl: Template, tables: dict[str, Table], path: Path, root: Path) -> None:
    feeds = {t.feed: t for t in tables.values()}
    for feed, hmap in tpl.headers.items():
        if feed not in feeds:
            _fail(path, root, f"headers.{feed}", f"{feed!r} is not the feed of any table")
        table = feeds[feed]
        for header, field in hmap.items():
            if field not in table.feed_fields:
                _fail(
                    path,
                    root,
                    f"headers.{feed}.{header}",
                    f"field {field!r} is not a column of table {table.name!r}",
                )
        if len(set(hmap.values())) != len(hmap):
            _fail(path, root, f"headers.{feed}", "two headers map to the same field")
    _check_value_maps(tpl.values, tables, path, root, "values")
    for feed in tpl.sheet_names:
        if feed not in feeds:
            _fail(path, root, f"sheet_names.{feed}", f"{feed!r} is not the feed of any table")


def _load_sources(
    root: Path, templates: dict[str, Template], tables: dict[str, Table]
) -> tuple[dict[str, Source], dict[str, Path]]:
    """sources/*.yaml, each checked and attached to its template; also the file of each."""
    sources: dict[str, Source] = {}
    source_files: dict[str, Path] = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        src: Source = _parse(Source, _read_yaml(path, root), path, root)
        if src.code in sources:
            _fail(
                path,
                root,
                "code",
                f"duplicate source code {src.code!r} (also in {_rel(source_files[src.code], root)})",
            )
        if src.code != path.stem:
            _fail(path, root, "code", f"{src.code!r} differs from the file name {path.stem!r}")
        if src.template not in templates:
            _fail(path, root, "template", f"unknown template {src.template!r} (known: {sorted(templates)})")
        tpl = templates[src.template]
        _check_source_feeds(src, tpl, tables, path, root)
        sources[src.code] = src.model_copy(update={"template_model": tpl})
        source_files[src.code] = path
    return sources, source_files


def _check_source_feeds(src: Source, tpl: Template, tables: dict[str, Table], path: Path, root: Path) -> None:
    """The source's feeds, renames and value maps name what its template and the tables hold."""
    feeds = {t.feed: t for t in tables.values()}
    for i, feed in enumerate(src.feeds):
        if feed not in feeds:
            _fail(
                path,
                root,
                f"feeds.{i}",
                f"{feed!r} is not the feed of any table (known: {sorted(feeds)})",
            )
        if feed not in tpl.headers:
            _fail(path, root, f"feeds.{i}", f"template {tpl.template} has no headers for feed {feed!r}")
        if tpl.format == "xlsx" and feed not in tpl.sheet_names:
            _fail(
                path, root, f"feeds.{i}", f"template {tpl.template} has no sheet name for feed {feed!r}"
            )
    for i, r in enumerate(src.renames):
        if r.feed not in src.feeds:
            _fail(path, root, f"renames.{i}.feed", f"{r.feed!r} is not one of this source's feeds")
        if r.field not in feeds[r.feed].feed_fields:
            _fail(
                path,
                root,
                f"renames.{i}.field",
                f"{r.field!r} is not a column of table {feeds[r.feed].name!r}",
            )
    _check_value_maps(src.values, tables, path, root, "values")


def _division_registry(sources: dict[str, Source], source_files: dict[str, Path], root: Path) -> dict[str, District]:
    """{division code: District}: one per source (a new district is one file in sources/)."""
    districts: dict[str, District] = {}
    for code, src in sorted(sources.items(), key=lambda item: item[1].division_code):
        other = districts.get(src.division_code)
        if other is not None:
            _fail(
                source_files[code],
                root,
                "division_code",
                f"{src.division_code!r} is also the division of source {other.code!r} "
                f"({_rel(source_files[other.code], root)}); each division has one source",
            )
        districts[src.division_code] = District(code=src.code, name=src.division_name or src.name)
    return districts


def _check_legacy_districts(ref: _ReferenceFile, districts: dict[str, District], ref_path: Path, root: Path) -> None:
    for code in ref.legacy_districts:
        if code in districts:
            _fail(
                ref_path, root, f"legacy_districts.{code}",
                f"{code!r} is the division_code of source {districts[code].code!r}; an abolished code "
                "cannot be a source's division (give the source today's code)",
            )
    # An old code may map to a division this deployment has no source for: a
    # schemas/ folder may hold a subset of the districts (the daily test does).


def _check_value_maps(
    values: dict[str, dict[str, str]], tables: dict[str, Table], path: Path, root: Path, where: str
) -> None:
    for key, vmap in values.items():
        table_name, _, field = key.partition(".")
        if table_name not in tables or not tables[table_name].has_column(field):
            _fail(path, root, f"{where}.{key}", "must be <table>.<column> of an existing table")
        col = tables[table_name].column(field)
        if not col.values:
            _fail(path, root, f"{where}.{key}", f"column {field!r} has no `values` vocabulary")
        bad = sorted(set(vmap.values()) - set(col.values))
        if bad:
            _fail(path, root, f"{where}.{key}", f"maps to {bad}, not in the vocabulary {col.values}")
