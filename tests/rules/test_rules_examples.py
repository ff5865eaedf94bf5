"""The worked examples of RULES.md, byte for byte, through the `vcp sla` command line.

They are read from the shared contract folder (`../shared/domain/examples`), the one source of
truth: a copy in this project would silently drift when the contract changes (as in version 2).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vcpipeline.cli import main

SHARED_EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "domain" / "examples"
EXAMPLES = sorted(p for p in SHARED_EXAMPLES.iterdir() if p.is_dir()) if SHARED_EXAMPLES.is_dir() else []
needs_examples = pytest.mark.skipif(not EXAMPLES, reason=f"no shared contract examples at {SHARED_EXAMPLES}")


@needs_examples
def test_every_version_2_example_is_present() -> None:
    assert {"01-standard-victim", "02-enhanced-easter", "03-code-2015-calendar-days",
            "04-victim-choices"} <= {p.name for p in EXAMPLES}


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
