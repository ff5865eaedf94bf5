"""The quarterly DAGs' task bodies without Airflow: the gate's arithmetic, the returns folder, the e-mail."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from vcpipeline.tasks import quarterly_sample, review_ingest
from vcpipeline.tasks.quarterly_sample import NightlyRun

from .conftest import load_quarter_crimes

Q3_END = datetime(2026, 9, 30, 23, tzinfo=UTC)  # local midnight starting 1 October (BST)


def night(start_day: int, state: str = "success", month: int = 9) -> NightlyRun:
    """The 02:00 BST run over `start_day` 02:00 to the next day's 02:00 (a data-interval schedule)."""
    start = datetime(2026, month, start_day, 1, tzinfo=UTC)
    end = datetime(2026, month + (start_day == 30), 1 if start_day == 30 else start_day + 1, 1, tzinfo=UTC)
    return NightlyRun(f"night-{month}-{start_day}", start, end, state)


def test_the_night_over_the_last_day_covers_the_quarter_end_and_its_neighbours_do_not():
    assert night(30).covers(Q3_END)
    assert not night(29).covers(Q3_END)
    first_night_of_q4 = NightlyRun("q4", datetime(2026, 10, 1, 1, tzinfo=UTC),
                                   datetime(2026, 10, 2, 1, tzinfo=UTC), "success")
    assert not first_night_of_q4.covers(Q3_END)
    # A night ending exactly at the quarter's end (a midnight schedule) still covers its last day.
    assert NightlyRun("m", datetime(2026, 9, 29, 23, tzinfo=UTC), Q3_END, "success").covers(Q3_END)
    assert not NightlyRun("m", None, None, "success").covers(Q3_END)


@pytest.mark.parametrize("state", ["failed", "running", "queued"])
def test_only_a_successful_covering_night_opens_the_gate(state):
    assert quarterly_sample.succeeded_night_covering([night(30, state), night(29)], Q3_END) is None
    assert quarterly_sample.succeeded_night_covering([night(30, state), night(30)], Q3_END) == night(30)


def test_sampled_quarter_is_the_local_quarter_of_the_interval_start():
    assert quarterly_sample.sampled_quarter(datetime(2026, 6, 30, 23, tzinfo=UTC)) == "2026Q3"  # 1 July BST
    assert quarterly_sample.sampled_quarter(datetime(2026, 1, 1, tzinfo=UTC)) == "2026Q1"


def _touch(path: Path, content: bytes, mtime: int) -> Path:
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


def test_new_returns_are_the_files_not_ingested_yet_or_changed_since(tmp_path):
    a = _touch(tmp_path / "2026Q3-IIT.xlsx", b"a", 1_000)
    _touch(tmp_path / "2026Q3-PPU.xlsx", b"b", 2_000)
    _touch(tmp_path / "~$2026Q3-IIT.xlsx", b"lock", 3_000)  # Excel's lock file while it is open
    (tmp_path / "2026Q3-review-errors.csv").write_text("file,row\n")

    assert [p.name for p in review_ingest.returned_worksheets(tmp_path)] == ["2026Q3-IIT.xlsx", "2026Q3-PPU.xlsx"]
    assert review_ingest.new_returns(tmp_path) == ["2026Q3-IIT.xlsx", "2026Q3-PPU.xlsx"]
    review_ingest.remember_ingested(tmp_path, review_ingest.fingerprints(review_ingest.returned_worksheets(tmp_path)))
    assert review_ingest.new_returns(tmp_path) == []
    _touch(a, b"a, answered", 4_000)
    assert review_ingest.new_returns(tmp_path) == ["2026Q3-IIT.xlsx"]
    # Oldest first, so a file saved later wins when two answer the same crime.
    assert [p.name for p in review_ingest.returned_worksheets(tmp_path)] == ["2026Q3-PPU.xlsx", "2026Q3-IIT.xlsx"]
    assert review_ingest.returned_worksheets(tmp_path / "missing") == []


def test_a_returned_file_of_no_stored_sample_goes_to_the_latest_sample(tmp_path):
    files = [_touch(tmp_path / name, b"not a workbook", 1_000)
             for name in ("2026Q2-IIT.xlsx", "2026Q3-PPU (done).xlsx", "reviewed.xlsx", "2024Q1-VVA.xlsx")]
    groups = review_ingest.returns_by_sample(files, ["2026Q2", "2026Q3"])
    assert {k: [p.name for p in v] for k, v in groups.items()} == {
        "2026Q2": ["2026Q2-IIT.xlsx"],
        "2026Q3": ["2026Q3-PPU (done).xlsx", "reviewed.xlsx", "2024Q1-VVA.xlsx"],
    }
    assert review_ingest.returns_by_sample(files, []) == {}


def test_reviewers_email_attaches_every_worksheet_and_gives_the_deadline_not_a_server_path(tmp_path):
    from datetime import date

    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    load_quarter_crimes(url, "2026-07-01", {"IIT": 2, "VVA": 3})
    sample = quarterly_sample.draw_quarter_sample(url, "2026Q3", size=240, minimum=10)
    assert (sample["status"], sample["sampled"], sample["strata"]) == ("created", 5, {"IIT": 2, "VVA": 3})
    sheets = quarterly_sample.write_quarter_worksheets(url, "2026Q3", tmp_path / "sample")
    paths = [tmp_path / "sample" / name for name in sheets["worksheets"]]

    message = quarterly_sample.reviewers_email(sample, paths, recipients="a@force.example, b@force.example",
                                               deadline=date(2026, 10, 29),
                                               returns_folder=tmp_path / "returns")

    assert message["To"] == "a@force.example, b@force.example"
    assert message["X-VCP-Message-Key"] == f"sample/2026Q3/{sample['population_hash'][:16]}"
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["2026Q3-IIT.xlsx", "2026Q3-VVA.xlsx"]
    assert attachments[0].get_content() == paths[0].read_bytes()
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert str(tmp_path / "returns") not in text
    assert "Thursday 29 October 2026" in text and "Thursday 29 October 2026" in message["Subject"]
    assert "2026Q3-VVA.xlsx (3 crime(s))" in text


def test_a_redraw_removes_worksheets_of_departments_no_longer_sampled(tmp_path):
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    load_quarter_crimes(url, "2026-07-01", {"IIT": 2})
    quarterly_sample.draw_quarter_sample(url, "2026Q3", size=240, minimum=10)
    stale = tmp_path / "sample" / "2026Q3-PPU.xlsx"
    stale.parent.mkdir()
    stale.write_bytes(b"from an earlier draw")
    other = tmp_path / "sample" / "2026Q2-PPU.xlsx"
    other.write_bytes(b"another quarter")

    sheets = quarterly_sample.write_quarter_worksheets(url, "2026Q3", tmp_path / "sample")

    assert (sheets["worksheets"], sheets["removed"]) == (["2026Q3-IIT.xlsx"], ["2026Q3-PPU.xlsx"])
    assert not stale.exists() and other.exists()


@pytest.mark.parametrize(
    ("first", "nights", "sample", "expected_first"),
    [
        (date(2026, 10, 8), 7, True, date(2026, 10, 1)),  # make demo: the Q3-end night goes first
        (date(2026, 9, 29), 3, True, date(2026, 9, 29)),  # already among the nights
        (date(2026, 10, 8), 7, False, date(2026, 10, 8)),
        (date(2027, 1, 4), 2, True, date(2027, 1, 1)),  # Q4 ends at midnight starting 1 January
    ],
)
def test_demo_runs_the_night_covering_the_sampled_quarters_end(first, nights, sample, expected_first):
    from vcpipeline.orchestration.demo import demo_nights

    chosen = demo_nights(first, nights, sample=sample)
    assert chosen[0] == expected_first
    assert chosen[-nights:] == [first + timedelta(days=i) for i in range(nights)]
