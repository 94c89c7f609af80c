"""The report page is self-contained: plotly's runtime embedded once, nothing
fetched from the network, one chart div per figure."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import plotly.graph_objects as go

from lakehouse.serving.report.build import render
from lakehouse.serving.report.sections import SECTIONS, Section


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


# ---------------------------------------------------------------- how values, tables, places and paths read

def test_numbers_read_as_people_write_them():
    from decimal import Decimal

    from lakehouse.serving.report.present import show

    assert [show(56.0), show(Decimal("56.00")), show(1234), show(0.5), show(Decimal("20000.50"))] == \
        ["56", "56", "1,234", "0.5", "20,000.5"]
    assert (show(None), show(True), show("黄浦区")) == ("", "是 yes", "黄浦区")


def test_a_long_table_shows_its_top_rows_and_counts_the_rest():
    from lakehouse.serving.report.present import html_table

    rows = [[f"主体{i}", i] for i in range(79)]
    page = html_table(["名称 name", "n"], rows, numeric={1}, limit=15, full_list="marts.fct_credit_risk")
    assert page.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 15
    assert 'data-more="64"' in page and "64 more not shown" in page and "marts.fct_credit_risk" in page
    # cut by the query already: the total says how many there are
    assert 'data-more="5"' in html_table(["a"], [[1]] * 10, total=15)
    assert "more not shown" not in html_table(["a"], [[1]] * 15)
    assert html_table(["a"], []) == '<p class="nodata">暂无数据 no data</p>'   # not a bare header


def test_rejection_reasons_name_the_file_inside_the_landing():
    from lakehouse.serving.report.present import landing_relative

    reason = ("manifest_unreadable: /srv/lake home/landing/huangpu/2017-04-13/_MANIFEST.json: unreadable manifest; "
              "ask huangpu to re-send")
    assert landing_relative(reason, "/srv/lake home/landing") == (
        "manifest_unreadable: huangpu/2017-04-13/_MANIFEST.json: unreadable manifest; ask huangpu to re-send")
    # a landing the report does not know (another machine, object storage): cut at <source>/<day>/
    assert landing_relative("broken: s3a://bucket/landing/jingan/2017-04-12/penalties.xlsx: bad",
                            "/elsewhere") == "broken: jingan/2017-04-12/penalties.xlsx: bad"
    assert landing_relative("file:/data/landing/city/2017-04-10/a.csv (row 3)") == "city/2017-04-10/a.csv (row 3)"


def test_places_read_as_addresses_not_keys():
    from lakehouse.serving.report.present import place_name, unique_labels

    assert place_name("road", "310106|北京西路", None) == "北京西路"
    assert place_name("building", "310106|北京西路|1|88|", "北京西路1弄88号") == "北京西路1弄88号"
    assert place_name("building", "310106|北京西路||88|A座", None) == "北京西路 88 A座"
    assert unique_labels(["a", "b", "a"]) == ["a", "b", "a (2)"]


def test_a_chart_without_data_says_no_data():
    from lakehouse.serving.report.present import NO_DATA, is_empty

    empty = [go.Figure(go.Bar(x=[], y=[])), go.Figure(go.Heatmap(z=[[None, None]])), go.Figure()]
    assert all(is_empty(f) for f in empty)
    assert not is_empty(go.Figure(go.Bar(x=["黄浦区"], y=[0])))
    page = render([Section("empty", "联合检查 test", figures=[go.Figure(go.Bar(x=[], y=[]))])],
                  datetime(2026, 1, 1, tzinfo=timezone.utc), None)
    assert json.dumps(NO_DATA) in page and 'data-empty="true"' in page   # as plotly's JSON writes it
    assert 'data-empty="false"' in _page(1)


def test_headline_figures_are_integers_when_whole():
    section = Section("k", "t", kpis={"a": ("x", 56.0)})
    assert '<span class="value" data-kpi="a">56</span>' in render([section], datetime(2026, 1, 1,
                                                                                        tzinfo=timezone.utc), None)
