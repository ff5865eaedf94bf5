"""The report page: one self-contained file, accessible, printable; its tables exported beside it."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pandas as pd
import pytest

from vcpipeline.report.run import build_period_report, list_reports


@pytest.fixture(scope="module")
def built(sqlite_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VCP_OUT_DIR", str(out))  # the default layout: out/report beside out/data_docs
        return build_period_report(sqlite_warehouse, "2026Q1", out / "report")


@pytest.fixture(scope="module")
def html(built: Path) -> str:
    return built.read_text(encoding="utf-8")


def test_one_html_file_per_period_named_after_it(built: Path) -> None:
    assert built.name == "victims-code-2026Q1.html"
    assert [name for name, _ in list_reports(built.parent)] == ["victims-code-2026Q1.html"]
    assert (built.parent / "index.html").is_file()


def test_page_loads_nothing_from_anywhere_and_runs_no_script(html: str, page_parser) -> None:
    page = page_parser(html)
    assert "script" not in page.tags and "iframe" not in page.tags and "link" not in page.tags
    assert "img" not in page.tags  # charts are inline SVG
    for reference in page.references:
        assert not re.match(r"^[a-z][a-z0-9+.-]*:|^//", reference), reference  # relative only
    styles = "\n".join(page.styles)
    assert "@import" not in styles and "url(" not in styles and "@font-face" not in styles


def test_headings_start_at_one_and_never_skip_a_level(html: str, page_parser) -> None:
    levels = page_parser(html).headings
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(later <= earlier + 1 for earlier, later in itertools.pairwise(levels))


def test_every_table_has_a_caption_and_every_header_cell_a_scope(html: str, page_parser) -> None:
    page = page_parser(html)
    assert len(page.tables) >= 9
    assert all(table["caption"] for table in page.tables), page.tables
    assert page.header_cells and all(cell.get("scope") in ("col", "row") for cell in page.header_cells)


def test_every_chart_is_an_image_labelled_by_its_own_title_and_description(html: str, page_parser) -> None:
    page = page_parser(html)
    assert len(page.svgs) == 4 + 8  # rule, department, agreed method, service bars; 8 trend lines
    for svg in page.svgs:
        assert svg["role"] == "img"
        assert svg["title"] and svg["desc"]
        assert svg["aria-labelledby"].split() == [svg["title"], svg["desc"]]


def test_chart_descriptions_state_the_numbers_in_words(html: str) -> None:
    description = re.search(r'<desc id="c-rule-d">(.*?)</desc>', html).group(1)
    assert "Q3 Written acknowledgement: " in description and "%" in description


def test_page_has_print_styles_and_says_how_each_figure_is_measured(html: str) -> None:
    assert "@media print" in html
    assert html.count("How measured:") >= 8


def test_departments_read_by_their_plain_names_and_codes_stay_in_the_figure_keys(html: str) -> None:
    text = re.sub(r"<[^>]*>", " ", html.split("<body>", 1)[1])  # what a reader sees, no attributes
    for code, name in (("FORCE_RESPONSE", "Force Response"), ("WITNESS_CARE", "Witness Care"),
                       ("CRIMINAL_JUSTICE", "Criminal Justice")):
        assert name in text and code not in text, code
    assert 'data-figure="by_owner:WITNESS_CARE:due"' in html


def test_owner_section_says_what_owner_means_and_waived_has_its_own_column(html: str) -> None:
    assert "The owner is the department that must meet the obligation" in html
    assert "Waived (victim opted out / plan changed)" in html
    assert "Updates by the victim&#39;s agreed method" in html or "Updates by the victim's agreed method" in html


def test_agreed_method_cells_show_the_share_with_n_of_n(html: str) -> None:
    match = re.search(r'data-figure="agreed_method:ALL/ALL:agreed_method_rate"[^>]*>([^<]+)</span>'
                      r'<span class="n-of"><span[^>]*>([\d,]+)</span> of <span[^>]*>([\d,]+)</span>', html)
    assert match, "headline share without its n of N"
    share, kept, compared = match.group(1), int(match.group(2).replace(",", "")), int(match.group(3).replace(",", ""))
    assert share == f"{100 * kept / compared:.1f}%"


def test_data_quality_links_to_data_docs_relatively(html: str) -> None:
    assert 'href="../data_docs/index.html"' in html


def test_no_victim_detail_reaches_the_page(html: str, synthetic_force) -> None:
    crimes = synthetic_force.canonical["crimes"]
    victims = synthetic_force.canonical["victims"]
    assert not any(ref in html for ref in crimes["crime_ref"].head(200))
    assert not any(f">{victim}<" in html or f'"{victim}"' in html for victim in victims["victim_id"].head(200))


def test_summary_tables_are_exported_as_csv_and_parquet_with_the_same_rows(built: Path, page_parser,
                                                                            html: str) -> None:
    folder = built.parent / "victims-code-2026Q1-data"
    figures = page_parser(html).figures
    for section in ("overall", "by_rule", "by_department", "by_owner", "agreed_method", "trend", "enhanced",
                    "victims", "teams", "survey", "loads", "quarantine"):
        csv = pd.read_csv(folder / f"{section}.csv")
        parquet = pd.read_parquet(folder / f"{section}.parquet")
        assert len(csv) == len(parquet) > 0, section
        assert set(csv["period"]) == {"2026Q1"}
        assert f'href="victims-code-2026Q1-data/{section}.csv"' in html
    by_rule = pd.read_parquet(folder / "by_rule.parquet").set_index("rule")
    assert int(figures["by_rule:acknowledgement:due"]) == by_rule.loc["acknowledgement", "due"]
    assert float(figures["by_rule:acknowledgement:compliance_rate"]) == pytest.approx(
        by_rule.loc["acknowledgement", "compliance_rate"], rel=1e-12)


def test_rebuilding_replaces_the_report_and_leaves_no_temporary_files(sqlite_warehouse: str, built: Path) -> None:
    again = build_period_report(sqlite_warehouse, "2026Q1", built.parent)
    assert again == built
    assert not [path for path in built.parent.rglob(".*.tmp")]
