"""The worked examples of RULES.md, byte for byte, through the `vcp sla` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcpipeline.cli import main

EXAMPLES = sorted(p for p in (Path(__file__).with_name("examples")).iterdir() if p.is_dir())


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_worked_example_obligations_csv_matches_byte_for_byte(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "obligations.csv"
    as_of = (example / "as_of.txt").read_text().strip()
    code = main(["sla", "--input", str(example), "--as-of", as_of, "--out", str(out)])
    assert code == 0
    assert out.read_bytes() == (example / "obligations.csv").read_bytes()


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_worked_example_to_stdout_matches_byte_for_byte(example: Path, capfdbinary) -> None:
    as_of = (example / "as_of.txt").read_text().strip()
    assert main(["sla", "--input", str(example), "--as-of", as_of]) == 0
    captured = capfdbinary.readouterr()
    assert captured.out == (example / "obligations.csv").read_bytes()
    assert captured.err.count(b"\n") == 1  # the one-line summary
