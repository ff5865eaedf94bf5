"""Data Docs show hostile source values as text: nothing a source sends can run in the reader's browser."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from vcpipeline.validation.docs import build_data_docs
from vcpipeline.validation.validate import validate_batch

SCRIPT = "<script>alert(9)</script>"
IMAGE = "'\"><img src=x onerror=alert(3)>"
AMPERSAND = "A&B <u>x</u>"
HOSTILE_COLUMN = "<marquee>chan</marquee>"


def events() -> pd.DataFrame:
    """Three good canonical events of crime EX1, as adapters emit them (strings)."""
    frame = pd.DataFrame({
        "event_id": ["E1", "E2", "E3"], "crime_ref": ["EX1"] * 3, "victim_id": ["V1", "V1", ""],
        "event_type": ["WRITTEN_ACKNOWLEDGEMENT", "NEEDS_ASSESSMENT", "SUSPECT_ARRESTED"],
        "occurred_at": ["2026-03-02T15:00:00Z", "2026-03-03T10:00:00Z", "2026-03-06T11:00:00Z"],
        "in_need": ["", "true", ""], "outcome_code": [""] * 3, "court_result": [""] * 3,
        "channel": ["email", "", ""], "source_system": ["TEST"] * 3,
        "source_row_id": ["row-1", "row-2", "row-3"], "source_modified_at": ["2026-05-01T00:00:00Z"] * 3,
    }, dtype="string")
    return frame


def validate(frame: pd.DataFrame):
    reported = pd.Series(["2026-03-02T09:30:00Z"], index=["EX1"])
    return validate_batch(frame, "canonical_events", row_id="source_row_id", now="2026-06-01T00:00:00Z",
                          crime_reported_at=reported)


class Page(HTMLParser):
    """The elements, event-handler attributes and visible text of one page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.handlers: list[str] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [f"{tag} {name}={value}" for name, value in attrs if name.startswith("on")]

    def handle_data(self, data: str) -> None:
        self.text.append(data.strip())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Page], list]:
    hostile = events()
    hostile.loc[0, "event_type"] = SCRIPT
    hostile.loc[1, "event_type"] = AMPERSAND
    hostile.loc[2, "in_need"] = IMAGE
    validations = [validate(hostile), validate(events().rename(columns={"channel": HOSTILE_COLUMN}))]
    index = build_data_docs(validations, tmp_path_factory.mktemp("docs") / "data_docs", run_name="night")
    pages = {page.relative_to(index.parent).as_posix(): Page(page.read_text(encoding="utf-8"))
             for page in index.parent.rglob("*.html")}
    return index.parent, pages, validations


def _validation_pages(pages: dict[str, Page]) -> list[Page]:
    """The hostile values' page, then the renamed column's (GX names the second batch `events-2`)."""
    found = sorted((name.endswith("-2.html"), page) for name, page in pages.items()
                   if name.startswith("validations/"))
    assert len(found) == 2
    return [page for _, page in found]


def test_a_hostile_unexpected_value_is_shown_as_text_not_markup(site):
    _, pages, _ = site
    hostile, _ = _validation_pages(pages)
    assert SCRIPT in hostile.text and AMPERSAND in hostile.text and IMAGE in hostile.text
    assert "u" not in hostile.tags and "script" not in hostile.tags
    assert not [handler for handler in hostile.handlers if "alert" in handler]


def test_a_hostile_column_name_is_shown_as_text_and_exception_messages_are_not_escaped_twice(site):
    _, pages, _ = site
    _, renamed = _validation_pages(pages)
    text = "\n".join(renamed.text)
    assert f"'{HOSTILE_COLUMN}'" in text and "marquee" not in renamed.tags
    assert 'The column "channel" in BatchData does not exist.' in text
    assert "&quot;" not in text and "&lt;" not in text and "&amp;" not in text


def test_no_data_docs_page_carries_a_script_or_an_event_handler(site):
    _, pages, _ = site
    for name, page in pages.items():
        assert "script" not in page.tags, name
        assert not [h for h in page.handlers if "alert" in h], name


def test_no_data_docs_stylesheet_loads_anything_from_elsewhere(site):
    root, _, _ = site
    for sheet in root.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8")
        assert "url(http" not in text.replace("'", "").replace('"', ""), sheet


def test_the_callers_validation_result_keeps_the_real_values(site):
    _, _, validations = site
    samples = [value for expectation in validations[0].result.results
               for value in expectation.result.get("partial_unexpected_list", [])]
    assert SCRIPT in samples and AMPERSAND in samples
