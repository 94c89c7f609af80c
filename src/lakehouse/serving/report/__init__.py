"""The supervision report: one self-contained HTML page of charts from the marts.

`build_report()` reads the marts as the analyst role, runs every function in
`sections.SECTIONS` (one function per chart section: add a section by writing
one more function and listing it there) and writes `index.html` with plotly's
JavaScript embedded once, so the page works from disk without a network.
"""

from lakehouse.serving.report.build import build_report

__all__ = ["build_report"]
