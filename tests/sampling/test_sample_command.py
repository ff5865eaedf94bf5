"""`vcp sample` end to end on real files: exact output bytes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcpipeline.cli import main

CRIMES = """\
crime_ref,reported_at,department,offence_category,domestic_abuse,hate_crime
IIT-1,2026-01-05T10:00:00Z,IIT,theft,false,false
IIT-2,2026-02-14T12:00:00Z,IIT,theft,false,false
IIT-3,2026-01-01T00:30:00,IIT,theft,false,false
PPU-1,2026-03-02T09:00:00Z,PPU,sexual_offence,false,false
PPU-2,2026-03-31T22:59:59Z,PPU,sexual_offence,true,false
VVA-1,2026-01-10T10:00:00Z,VVA,burglary,false,false
VVA-2,2026-01-11T10:00:00Z,VVA,burglary,false,false
VVA-3,2026-01-12T10:00:00Z,VVA,burglary,false,false
VVA-4,2026-01-13T10:00:00Z,VVA,burglary,false,false
VVA-5,2026-02-13T10:00:00Z,VVA,burglary,false,false
VVA-6,2026-03-13T10:00:00Z,VVA,burglary,false,false
VVA-7,2026-03-14T10:00:00+01:00,VVA,burglary,false,false
VVA-8,2026-03-15T10:00:00Z,VVA,burglary,false,false
X-BST,2026-03-31T23:30:00Z,VVA,burglary,false,false
X-GMT,2025-12-31T23:30:00Z,IIT,theft,false,false
X-NOVICTIM,2026-02-10T10:00:00Z,IIT,theft,false,false
X-BADDATE,31/01/2026,IIT,theft,false,false
"""
VICTIMS = """\
crime_ref,victim_id,age_at_report,vulnerable,intimidated,persistently_targeted
IIT-1,V1,40,false,false,false
IIT-2,V1,,false,false,false
IIT-3,V1,17,false,false,false
PPU-1,V1,30,true,false,false
PPU-2,V1,30,false,false,false
PPU-2,V2,8,false,false,false
VVA-1,V1,50,false,false,false
VVA-2,V1,50,false,false,false
VVA-3,V1,50,false,false,false
VVA-4,V1,50,false,false,false
VVA-5,V1,50,false,false,false
VVA-6,V1,50,false,false,false
VVA-7,V1,50,false,false,false
VVA-8,V1,50,false,false,false
X-BST,V1,50,false,false,false
X-GMT,V1,50,false,false,false
X-BADDATE,V1,50,false,false,false
"""
EXCLUDE = "crime_ref,sampled_in\nVVA-8,2025Q4\n"

# Population 2026Q1: IIT-1..3 (IIT-3 is 00:30 London time on 1 January), PPU-1..2 (PPU-2 is
# 23:59:59 BST on 31 March), VVA-1..7 (VVA-8 sampled before). X-BST is 1 April locally, X-GMT
# 31 December, X-NOVICTIM has no victim, X-BADDATE cannot be read. N = 3 + 2 + 7 = 12.
# --size 5 --min-per-stratum 1: below λ = 1/2 PPU sits at its minimum of 1, so the total is
# 3λ + 1 + 7λ = 5 → λ = 2/5: IIT 1.2, PPU 1, VVA 2.8 → floors 1 + 1 + 2, the unit left over
# goes to VVA (largest fractional part .8). PRNs for seed 2026Q1 (sha256 formula):
# IIT-2 0.1436 < IIT-3 0.1460 < IIT-1 0.6603;  PPU-1 0.7378 < PPU-2 0.8401;
# VVA-3 0.1376 < VVA-4 0.1502 < VVA-1 0.2657 < VVA-2 0.5527 < VVA-7 0.5642 < ...
EXPECTED_SIZE_5 = (
    b"crime_ref,stratum,stratum_population,stratum_sample_size,selection_probability,design_weight\n"
    b"IIT-2,IIT,3,1,0.3333333333333333,3.0\n"
    b"PPU-1,PPU,2,1,0.5,2.0\n"
    b"VVA-1,VVA,7,3,0.42857142857142855,2.3333333333333335\n"
    b"VVA-3,VVA,7,3,0.42857142857142855,2.3333333333333335\n"
    b"VVA-4,VVA,7,3,0.42857142857142855,2.3333333333333335\n"
)
# --size 6: λ = 1/2 gives 1.5 + 1 + 3.5 = 6; floors 1 + 1 + 3, one unit left: IIT and VVA
# tie at .5, VVA is larger, so VVA gets 4 (adding VVA-2).
EXPECTED_SIZE_6 = (
    b"crime_ref,stratum,stratum_population,stratum_sample_size,selection_probability,design_weight\n"
    b"IIT-2,IIT,3,1,0.3333333333333333,3.0\n"
    b"PPU-1,PPU,2,1,0.5,2.0\n"
    b"VVA-1,VVA,7,4,0.5714285714285714,1.75\n"
    b"VVA-2,VVA,7,4,0.5714285714285714,1.75\n"
    b"VVA-3,VVA,7,4,0.5714285714285714,1.75\n"
    b"VVA-4,VVA,7,4,0.5714285714285714,1.75\n"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "crimes.csv").write_text(CRIMES, encoding="utf-8")
    (tmp_path / "victims.csv").write_text(VICTIMS, encoding="utf-8")
    (tmp_path / "exclude.csv").write_text(EXCLUDE, encoding="utf-8")
    return tmp_path


def sample_args(folder: Path, *extra: str) -> list[str]:
    return ["sample", "--input", str(folder), "--quarter", "2026Q1", "--min-per-stratum", "1",
            "--exclude", str(folder / "exclude.csv"), *extra]


def test_sample_to_stdout_is_exactly_the_hand_checked_bytes(folder, capsysbinary):
    assert main(sample_args(folder, "--size", "6")) == 0
    out, err = capsysbinary.readouterr()
    assert out == EXPECTED_SIZE_6
    summary = err.decode().splitlines()
    assert len(summary) == 1
    assert "sampled 6 of 12 crimes in 3 strata" in summary[0]
    assert "1 excluded as sampled before" in summary[0]
    assert "1 unusable crime row(s) skipped" in summary[0]


def test_sample_to_file_writes_the_same_bytes(folder, capsysbinary):
    out_file = folder / "out" / "sample.csv"
    assert main([*sample_args(folder, "--size", "5"), "--out", str(out_file)]) == 0
    assert out_file.read_bytes() == EXPECTED_SIZE_5
    assert capsysbinary.readouterr().out == b""


def test_explicit_default_seed_matches_the_default(folder, capsysbinary):
    main(sample_args(folder, "--size", "6", "--seed", "2026Q1"))
    assert capsysbinary.readouterr().out == EXPECTED_SIZE_6


def test_sample_without_events_file_is_fine(folder, capsysbinary):
    assert not (folder / "events.csv").exists()
    assert main(sample_args(folder, "--size", "6")) == 0


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vcp sample: error: ")
    return lines[0]


def test_bad_quarter_is_a_one_line_error(folder, capsys):
    assert main(["sample", "--input", str(folder), "--quarter", "2026Q5"]) == 2
    assert "quarter must look like 2026Q1, got '2026Q5'" in one_line_error(capsys)


def test_missing_crimes_file_is_a_one_line_error(folder, capsys):
    (folder / "crimes.csv").unlink()
    assert main(["sample", "--input", str(folder), "--quarter", "2026Q1"]) == 2
    assert "missing file" in one_line_error(capsys)


def test_missing_input_folder_is_a_one_line_error(tmp_path, capsys):
    assert main(["sample", "--input", str(tmp_path / "nowhere"), "--quarter", "2026Q1"]) == 2
    assert "input folder not found" in one_line_error(capsys)


def test_missing_column_is_a_one_line_error_naming_file_and_column(folder, capsys):
    (folder / "victims.csv").write_text("crime_ref,age_at_report\nIIT-1,40\n", encoding="utf-8")
    assert main(["sample", "--input", str(folder), "--quarter", "2026Q1"]) == 2
    line = one_line_error(capsys)
    assert "victims.csv" in line and "victim_id" in line


def test_exclude_file_without_crime_ref_column_is_a_one_line_error(folder, capsys):
    (folder / "exclude.csv").write_text("ref\nVVA-8\n", encoding="utf-8")
    assert main(sample_args(folder)) == 2
    line = one_line_error(capsys)
    assert "exclude.csv" in line and "crime_ref" in line


def test_minimum_exceeding_the_sample_size_is_a_one_line_error(folder, capsys):
    assert main(["sample", "--input", str(folder), "--quarter", "2026Q1", "--size", "5",
                 "--min-per-stratum", "2"]) == 2
    assert "minimum of 2 per stratum needs 6 crimes across 3 strata" in one_line_error(capsys)
