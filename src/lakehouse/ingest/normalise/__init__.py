"""Raw rows -> canonical typed rows, with the row rules that need no registry."""

from lakehouse.ingest.normalise.entity import EntityIdentifier, entity_identifier, name_key
from lakehouse.ingest.normalise.headers import missing_required_columns, reject_missing_required_columns, unknown_columns
from lakehouse.ingest.normalise.parsers import parse_amount, parse_date, parse_int, parse_list, parse_ratio, parse_timestamp
from lakehouse.ingest.normalise.row import NormalisedRow, RuleBreak, make_row_normaliser, normalise_row

__all__ = [
    "EntityIdentifier",
    "NormalisedRow",
    "RuleBreak",
    "entity_identifier",
    "make_row_normaliser",
    "missing_required_columns",
    "name_key",
    "normalise_row",
    "parse_amount",
    "parse_date",
    "parse_int",
    "parse_list",
    "parse_ratio",
    "parse_timestamp",
    "reject_missing_required_columns",
    "unknown_columns",
]
