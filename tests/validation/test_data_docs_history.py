"""Data Docs keep a history of nights, one index across sources, and say "rows quarantined" for row checks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vcpipeline.validation.docs import build_data_docs

from .test_data_docs_safety import Page, events, validate

NIGHT = datetime(2026, 3, 24, 2, tzinfo=UTC)


def quarantining():
    """A batch that loads with one row quarantined (an event type outside the code list)."""
    frame = events()
    frame.loc[0, "event_type"] = "NOT_A_TYPE"
    return validate(frame)


def broken():
    """A batch that does not load (a required column is missing)."""
    return validate(events().drop(columns=["occurred_at"]))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """out/data_docs with two sources: an old night (past the window), then three nights."""
    root = tmp_path_factory.mktemp("out") / "data_docs"
    builds = [("crime_recording", NIGHT - timedelta(days=40), [validate(events())]),
              ("crime_recording", NIGHT - timedelta(days=2), [validate(events())]),
              ("victim_contact", NIGHT - timedelta(days=1), [broken()]),
              ("crime_recording", NIGHT, [quarantining()])]
    for source, night, validations in builds:
        build_data_docs(validations, root / source, run_name=f"night_{night:%Y%m%d}", run_time=night,
                        site_root=root, history_days=35)
    return root


def _index_rows(index: Path) -> list[str]:
    text = index.read_text(encoding="utf-8")
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(r"<tr>(.*?)</tr>", text.split("<tbody>")[1])]


def test_a_later_night_keeps_the_pages_of_earlier_nights(site: Path):
    pages = sorted(p.relative_to(site).parts[3] for p in (site / "crime_recording" / "validations").rglob("*.html"))
    assert pages == ["night_20260322", "night_20260324"]


def test_pages_older_than_the_history_window_are_pruned(site: Path):
    assert not list(site.rglob("night_20260212"))
    assert "night_20260212" not in (site / "index.html").read_text(encoding="utf-8")


def test_one_index_at_the_top_lists_every_source_and_night_newest_first(site: Path):
    rows = _index_rows(site / "index.html")
    assert [row.split(" night_")[1][:8] for row in rows] == ["20260324", "20260323", "20260322"]
    assert "crime_recording" in rows[0] and "victim_contact" in rows[1]
    for href in re.findall(r'href="([^"]+)"', (site / "index.html").read_text(encoding="utf-8")):
        assert (site / href).is_file(), href
    assert "<script" not in (site / "index.html").read_text(encoding="utf-8")
    assert len(_index_rows(site / "crime_recording" / "index.html")) == 2  # each source's own index


def test_rows_that_were_only_quarantined_read_rows_quarantined_not_failed(site: Path):
    rows = _index_rows(site / "index.html")
    assert rows[0].endswith("loaded; 1 row quarantined") and "FAILED" not in rows[0]
    page_file = next((site / "crime_recording" / "validations").rglob("night_20260324/*/*.html"))
    text = page_file.read_text(encoding="utf-8")
    visible = " ".join(" ".join(Page(text).text).split())
    assert "Status: loaded; 1 row quarantined" in visible
    assert "rows quarantined" in visible and "Failed" not in visible.replace("Failed Only", "")
    assert "fa-times" not in text and "text-danger" not in text


def test_a_batch_that_did_not_load_still_reads_failed(site: Path):
    rows = _index_rows(site / "index.html")
    assert rows[1].endswith("FAILED: batch not loaded")
    page_file = next((site / "victim_contact" / "validations").rglob("*.html"))
    assert "fa-times text-danger" in page_file.read_text(encoding="utf-8") or \
        "fa-exclamation-triangle" in page_file.read_text(encoding="utf-8")
