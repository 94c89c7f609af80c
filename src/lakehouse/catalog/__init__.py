"""The catalog: the one reading of schemas/ (tables, templates, sources, rules,
reference lists, the business calendar), as typed models, with the column
types and the project's own operational tables. The bottom layer of the
package: it imports nothing of the project but config."""

from lakehouse.catalog.load import default_schemas_dir, load_catalog
from lakehouse.catalog.models import (
    Catalog,
    CatalogError,
    Column,
    District,
    Rename,
    Rule,
    Source,
    Table,
    Template,
    Thresholds,
)

__all__ = ["Catalog", "CatalogError", "Column", "District", "Rename", "Rule", "Source", "Table",
           "Template", "Thresholds", "default_schemas_dir", "load_catalog"]
