"""The report's sections: one function per section, each reading the marts and
returning a Section (title, figures, tables, headline figures). To add a
section, write one more function taking a Context and append it to SECTIONS.

Everything a person reads is a name (district, department, source, place,
class) or a rule's description, taken from the marts' name columns, the
catalog (schemas/) and the rule seeds; codes only appear in hover text.
Long tables show their top rows and how many more there are (present.py).
"""

from __future__ import annotations

from lakehouse.serving.report.context import Context, Section
from lakehouse.serving.report.credit import credit_classes
from lakehouse.serving.report.quality import collection_quality
from lakehouse.serving.report.supervision import (
            buildings_and_hotspots,
            cross_district,
            dual_notification_funnel,
            joint_inspections,
            random_plans,
            risk_keyword_warnings,
)

__all__ = ["SECTIONS", "Context", "Section"]

SECTIONS = [collection_quality, credit_classes, cross_district, dual_notification_funnel, random_plans,
            joint_inspections, risk_keyword_warnings, buildings_and_hotspots]
