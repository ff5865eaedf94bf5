"""What the board reads: the reconciled headline, owner × entitlement, automated vs survey, plain
names, the performance lead's commentary (safely), the as-of instant, and a data folder that
holds only this build's files."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import norm

from vcpipeline.report.headline import two_proportion_test
from vcpipeline.report.owner_matrix import with_lowest
from vcpipeline.report.run import build_period_report
from vcpipeline.report.wording import check_words, team_label

COMMENTARY = """# Needs assessment

Response officers <b>still</b> lag: see [the guide](https://example.org/guide).

<script>alert("x")</script> [bad](javascript:alert(1)) ![tracker](https://example.org/t.png)
"""


@pytest.fixture(scope="module")
def folder(sqlite_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("board") / "out"
    (out / "report" / "commentary").mkdir(parents=True)
    (out / "report" / "commentary" / "2026Q1.md").write_text(COMMENTARY, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VCP_OUT_DIR", str(out))
        build_period_report(sqlite_warehouse, "2026Q1", out / "report")
    return out / "report"


@pytest.fixture(scope="module")
def html(folder: Path) -> str:
    return (folder / "victims-code-2026Q1.html").read_text(encoding="utf-8")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = False

    def handle_starttag(self, tag, attrs) -> None:
        self._skip = tag == "style"

    def handle_endtag(self, tag) -> None:
        self._skip = False

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section aria-labelledby="{anchor}"')
    return html[start:html.index("</section>", start)]


# --- the tests of change ------------------------------------------------------------------------

def test_two_proportion_test_is_the_pooled_score_test() -> None:
    test = two_proportion_test(90, 100, 80, 100)
    pooled = 170 / 200
    z = 0.1 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert test.change == pytest.approx(0.1)
    assert test.p_value == pytest.approx(2 * norm.sf(z))


def test_a_period_at_100_percent_is_not_called_a_significant_change_on_its_zero_variance() -> None:
    # 10 of 10 against 9 of 10: the Wald test's variance at 100% is 0 (any change "significant")
    assert not two_proportion_test(10, 10, 9, 10).significant
    assert two_proportion_test(10, 10, 10, 10).p_value == 1.0  # both at the boundary: no change
    assert two_proportion_test(500, 500, 400, 500).significant
    assert math.isnan(two_proportion_test(5, 10, 0, 0).p_value)  # no previous figure: untested


def test_headline_block_reconciles_the_three_figures_with_the_previous_period(html: str) -> None:
    block = visible_text(_section(html, "summary"))
    for words in ("Compliance by obligation", "Victims Code compliant victims (Q1, automated)",
                  "Victims Code compliant (Q1, dip-sample survey)", "Previous period", "Significant change?",
                  "appropriate quality", "Why they differ"):
        assert words in block, words
    assert 'data-figure="headline:survey:significant"' in html
    assert 'data-figure="headline:victim:significant"' in html


def test_survey_table_comes_before_every_other_section(html: str) -> None:
    assert html.index('id="t-survey"') < html.index('id="t-headline"') < html.index('id="t-owner-rule"')


# --- owner × entitlement ------------------------------------------------------------------------

def test_lowest_cell_of_each_entitlement_needs_the_minimum_decided() -> None:
    frame = pd.DataFrame({"owner": ["A", "B", "C", "A"], "rule": ["r", "r", "r", "s"],
                          "met_on_time": [1, 5, 20, 4], "met_late": [0, 0, 0, 0], "breached": [2, 15, 5, 6],
                          "compliance_rate": [1 / 3, 0.25, 0.8, 0.4]})
    marked = with_lowest(frame, min_decided=10)
    assert marked["lowest"].tolist() == [False, True, False, False]  # A/r: 3 decided, not a figure;
    # A/s is the only owner of s with enough decided: nothing to be lower than


def test_no_cell_is_called_lowest_when_every_owner_has_the_same_rate() -> None:
    frame = pd.DataFrame({"owner": ["A", "B"], "rule": ["r", "r"], "met_on_time": [20, 30],
                          "met_late": [0, 0], "breached": [0, 0], "compliance_rate": [1.0, 1.0]})
    assert not with_lowest(frame, min_decided=10)["lowest"].any()


def test_the_paper_s_needs_assessment_spread_is_shown_by_owner_with_counts(html: str) -> None:
    table = _section(html, "owner-rule")
    cell = re.search(r'<td[^>]*class="num lowest"[^>]*><span data-figure="owner_rule:FORCE_RESPONSE/'
                     r'needs_referral:compliance_rate"', table)
    assert cell, "Force Response's needs assessment is not marked lowest"
    assert 'data-figure="owner_rule:FORCE_CONTACT/needs_referral:decided"' in table
    assert "lowest" in visible_text(table).lower()


# --- automated vs survey, labels ----------------------------------------------------------------

def test_automated_and_survey_side_by_side_say_why_they_differ(html: str) -> None:
    section = visible_text(_section(html, "automated-survey"))
    assert "appropriate quality" in section
    assert re.search(r"Q7 .*offered, taken or declined", section)
    assert "Q7 VPS offered, taken or declined" in visible_text(_section(html, "by-rule"))
    assert re.search(r"Q8 VPS used\s+No data", section)
    assert 'data-figure="compare:Q5:automated"' in html and 'data-figure="compare:Q5:survey"' in html


def test_departments_teams_sources_and_checks_are_in_plain_words(html: str) -> None:
    text = visible_text(html)
    for code in ("FORCE_RESPONSE", "FORCE_CONTACT", "WITNESS_CARE", "expect_", "RESP-", "VCL ", "CRS "):
        assert code not in text, code
    assert team_label("FORCE_RESPONSE", "RESP-D4") == "Force Response Team D4"
    assert "Team " in visible_text(_section(html, "teams"))


def test_expectation_names_read_as_what_they_check() -> None:
    assert check_words("expect_column_values_to_be_in_set(event_type)") == "Event type not an allowed value"
    assert check_words("expect_column_values_to_be_in_set(crime_ref_known)").startswith("Crime reference not known")
    assert check_words("expect_column_pair_values_a_to_be_greater_than_b(occurred_at_utc,crime_reported_at_utc)") \
        == "Event time not after the crime's report time"
    assert check_words("unknown event_type") == "Unknown event type"


# --- commentary, as-of, data folder -------------------------------------------------------------

def test_commentary_is_rendered_with_raw_html_escaped(html: str) -> None:
    section = _section(html, "commentary")
    assert "<h3>Needs assessment</h3>" in section
    assert '<a href="https://example.org/guide">the guide</a>' in section
    assert "<script" not in section and "&lt;script&gt;" in section
    assert "<b>" not in section and "&lt;b&gt;" in section
    assert 'href="javascript:' not in section and "<img" not in section


def test_commentary_folder_is_configurable_and_its_absence_is_said(sqlite_warehouse: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCP_OUT_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("VCP_REPORT_COMMENTARY_DIR", str(tmp_path / "lead"))
    page = build_period_report(sqlite_warehouse, "2026-03", tmp_path / "out" / "report")
    assert "No commentary for 2026-03 yet" in page.read_text(encoding="utf-8")
    (tmp_path / "lead").mkdir()
    (tmp_path / "lead" / "2026-03.md").write_text("March was *better*.", encoding="utf-8")
    page = build_period_report(sqlite_warehouse, "2026-03", tmp_path / "out" / "report")
    assert "March was <em>better</em>." in page.read_text(encoding="utf-8")


def test_the_as_of_instant_is_stated_at_the_top(html: str) -> None:
    header = html[html.index("<header>"):html.index("</header>")]
    assert re.search(r'<time datetime="2026-04-1\dT[^"]+">\d\d \w+ 2026 \d\d:\d\d (BST|GMT)</time>', header)


def test_rebuilding_clears_files_of_an_earlier_build_from_the_data_folder(sqlite_warehouse: str,
                                                                          tmp_path: Path) -> None:
    folder = tmp_path / "report"
    build_period_report(sqlite_warehouse, "2026Q1", folder)
    data = folder / "victims-code-2026Q1-data"
    (data / "withdrawn_section.csv").write_text("old", encoding="utf-8")
    build_period_report(sqlite_warehouse, "2026Q1", folder)
    assert not (data / "withdrawn_section.csv").exists()
    assert (data / "survey.csv").is_file() and (data / "headline.csv").is_file()
    assert not any(p.name.startswith(".") for p in folder.iterdir() if p.is_dir())


def test_the_data_docs_link_resolves_to_the_site_index_beside_the_reports(folder: Path, html: str) -> None:
    href = re.search(r'<a href="([^"]+)">Data Docs</a>', html).group(1)
    target = (folder / href).resolve()
    assert target == (folder.parent / "data_docs" / "index.html").resolve()  # what every load rewrites
    # In the Airflow UI the page is /vcp-reports/reports/<file>: the same href lands on the plugin's
    # /vcp-reports/data_docs/ route.
    from urllib.parse import urljoin

    assert urljoin("http://airflow/vcp-reports/reports/victims-code-2026Q1.html", href) == \
        "http://airflow/vcp-reports/data_docs/index.html"


def test_a_missing_significance_flag_reads_as_not_significant() -> None:
    from vcpipeline.report.cells import is_true

    assert is_true(True) and not is_true(False)
    assert not is_true(float("nan")) and not is_true(None)  # bool(NaN) is True: a NULL read back
