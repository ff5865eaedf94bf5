"""`vcp report`: one page per period in the folder asked for; one-line errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcpipeline.cli import main


def test_report_command_writes_the_period_page_and_prints_its_path(
        sqlite_warehouse: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["report", "--period", "2026-03", "--out", str(tmp_path / "r"), "--url", sqlite_warehouse])
    assert status == 0
    page = tmp_path / "r" / "victims-code-2026-03.html"
    assert capsys.readouterr().out.strip() == str(page)
    assert "<h1>Victims Code compliance: March 2026</h1>" in page.read_text(encoding="utf-8")


def test_bad_period_is_a_one_line_error(sqlite_warehouse: str, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["report", "--period", "March", "--out", str(tmp_path), "--url", sqlite_warehouse])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and error.startswith("vcp report: error: period must be")
    assert not list(tmp_path.iterdir())


def test_warehouse_without_summaries_is_a_one_line_error(sqlite_warehouse: str, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    status = main(["report", "--period", "2026Q1", "--out", str(tmp_path / "r"), "--url", empty])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and "run `vcp db upgrade` and the nightly run first" in error
