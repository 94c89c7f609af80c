"""The report page is self-contained: plotly's runtime embedded once, nothing
fetched from the network, one chart div per figure."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import plotly.graph_objects as go

from lakehouse.report.build import render
from lakehouse.report.sections import SECTIONS, Section


def _page(n_figures: int) -> str:
    figures = [go.Figure(go.Bar(x=["静安区", "黄浦区"], y=[i, i + 1])) for i in range(n_figures)]
    section = Section("demo", "信用分类 test", kpis={"k": ("标签", 1234)}, figures=figures)
    return render([section], datetime(2026, 1, 1, tzinfo=timezone.utc), "2017-04-12")


def test_plotly_is_embedded_once_and_nothing_comes_from_the_network():
    from plotly.offline import get_plotlyjs

    page = _page(3)
    runtime = get_plotlyjs()
    assert page.count(runtime) == 1
    ours = page.replace(runtime, "")   # plotly's own source mentions URLs in strings it never loads
    assert not re.search(r"""(src|href)=["']?https?://""", ours), "the page must not load anything from the web"
    assert "<script src=" not in ours
    assert page.count('class="chart"') == 3
    assert '<meta charset="utf-8">' in page and "信用分类 test" in page


def test_headline_figures_carry_their_key_for_readers_and_tests():
    assert '<span class="value" data-kpi="k">1,234</span>' in _page(1)


def test_every_section_function_is_documented_and_distinct():
    names = [fn.__name__ for fn in SECTIONS]
    assert len(names) == len(set(names))
    assert all((fn.__doc__ or "").strip() for fn in SECTIONS)
