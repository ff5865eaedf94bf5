"""When the nightly run writes the quarterly return: the first working day after the quarter, and
again (the next issue) the night that quarter's own survey is published."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from vcpipeline.returns.run import quarter_ended_on, returns_due
from vcpipeline.tasks.nightly import build_quarterly_returns

QUARTER = "2026Q1"


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 4, 1), "2026Q1"),   # a Wednesday
    (date(2026, 4, 2), None),
    (date(2025, 1, 1), None),       # New Year's Day: a bank holiday
    (date(2025, 1, 2), "2024Q4"),
    (date(2026, 3, 31), None),
])
def test_the_return_falls_due_on_the_first_working_day_after_the_quarter(day, expected):
    assert quarter_ended_on(day) == expected


def test_nightly_task_writes_the_return_on_its_day_only_and_reissues_it_when_the_survey_is_published(
        warehouse_b, tmp_path, monkeypatch):
    folder = tmp_path / "returns"
    monkeypatch.delenv("VCP_FORCE_CODE", raising=False)
    first_day = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    assert build_quarterly_returns(first_day, warehouse_b, folder) == []  # no force code, no return
    monkeypatch.setenv("VCP_FORCE_CODE", "BBB")
    written = build_quarterly_returns(first_day, warehouse_b, folder)
    assert [p.rsplit("/", 1)[1] for p in written] == [f"victims-code-return-BBB-{QUARTER}-v1.manifest.json"]
    later = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)
    assert returns_due(later, warehouse_b, "BBB", folder) == []  # it already carries its own survey
    manifest = folder / f"victims-code-return-BBB-{QUARTER}-v1.manifest.json"
    earlier = {**json.loads(manifest.read_text()), "survey_quarter": "2025Q4", "csv_sha256": "0" * 64}
    manifest.write_text(json.dumps(earlier))  # as if issued before the quarter's survey was published
    reissued = build_quarterly_returns(later, warehouse_b, folder)
    assert [p.rsplit("/", 1)[1] for p in reissued] == [f"victims-code-return-BBB-{QUARTER}-v2.manifest.json"]
