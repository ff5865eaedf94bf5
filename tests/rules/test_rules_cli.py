"""`vcp sla` from the outside: files, streams, exit codes and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from vcpipeline.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["sla", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_quarantined_rows_go_to_the_quarantine_file_and_the_run_still_succeeds(vc, write_folder, tmp_path, capsys) -> None:
    folder = write_folder(events=[vc.event("E1", "VICTIM_UPDATE", "2026-03-03T10:00:00Z"),
                                  vc.event("E2", "MYSTERY", "2026-03-03T10:00:00Z")])
    quarantine = tmp_path / "quarantine.csv"
    code, out, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z",
                         "--out", str(tmp_path / "o.csv"), "--quarantine", str(quarantine))
    assert code == 0 and out == ""
    q = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    assert list(q[["file", "row_number", "event_id", "reason"]].itertuples(index=False, name=None)) == [
        ("events.csv", "2", "E2", "unknown event_type")]
    assert err.count("\n") == 1 and "quarantined 1" in err and err.startswith("vcp sla: ")


def test_as_of_without_offset_is_london_time(vc, write_folder, capsys) -> None:
    # Acknowledgement due by the end of Monday 8 June 2026 (BST): due_at 2026-06-08T23:00:00Z.
    folder = write_folder(crimes=[vc.crime(reported_at="2026-06-01T09:00:00Z")])
    _, naive, _ = run(capsys, "--input", str(folder), "--as-of", "2026-06-08T23:30:00")
    _, london, _ = run(capsys, "--input", str(folder), "--as-of", "2026-06-08T23:30:00+01:00")
    _, utc, _ = run(capsys, "--input", str(folder), "--as-of", "2026-06-08T23:30:00Z")
    assert naive == london
    assert "acknowledgement,,2026-06-01T09:00:00Z,2026-06-08T23:00:00Z,,PENDING" in naive
    assert "acknowledgement,,2026-06-01T09:00:00Z,2026-06-08T23:00:00Z,,BREACHED" in utc


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda folder: (folder / "victims.csv").unlink(), "missing file"),
    (lambda folder: (folder / "crimes.csv").write_text("crime_ref,reported_at\nC1,2026-03-02T09:30:00Z\n"),
     "crimes.csv: missing required column(s): department, offence_category, domestic_abuse, hate_crime"),
])
def test_unusable_input_is_a_one_line_error_and_non_zero_exit(vc, write_folder, capsys, mutate, message) -> None:
    folder = write_folder()
    mutate(folder)
    code, out, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z")
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("vcp sla: error: ") and message in err


def test_unparseable_as_of_is_a_one_line_error(write_folder, capsys) -> None:
    code, _, err = run(capsys, "--input", str(write_folder()), "--as-of", "last tuesday")
    assert code == 2 and err.count("\n") == 1 and "--as-of 'last tuesday'" in err


def test_bad_rule_set_file_is_a_one_line_error(write_folder, tmp_path, capsys) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[rulesets."vcop-2099"]\nreported_from = "soon"\n')
    code, _, err = run(capsys, "--input", str(write_folder()), "--as-of", "2026-03-31T12:00:00Z",
                       "--rulesets", str(bad))
    assert code == 2 and err.count("\n") == 1 and "rule set 'vcop-2099'" in err and str(bad) in err


def test_missing_input_folder_is_a_one_line_error(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "--input", str(tmp_path / "nowhere"), "--as-of", "2026-03-31T12:00:00Z")
    assert code == 2 and "input folder not found" in err


def test_identifiers_with_commas_and_quotes_are_quoted_minimally(vc, write_folder, tmp_path, capsys) -> None:
    ref = 'C,1"x'
    folder = write_folder(crimes=[vc.crime(crime_ref=ref)], victims=[vc.victim(crime_ref=ref)])
    code, out, _ = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z")
    assert code == 0
    assert out.splitlines()[1].startswith('"C,1""x",V1,acknowledgement,,2026-03-02T09:30:00Z,')
    assert "\r" not in out


def test_header_only_files_give_a_header_only_obligations_csv(write_folder, tmp_path, capsys) -> None:
    folder = write_folder()
    for name in ("crimes", "victims", "events"):
        path = folder / f"{name}.csv"
        path.write_text(path.read_text().splitlines()[0] + "\n")
    code, out, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z")
    assert code == 0
    assert out == ("crime_ref,victim_id,rule,trigger_event_id,trigger_at,due_at,met_at,status,enhanced,rule_set,"
                   "owner,met_channel,channel_as_agreed\n")
    assert "0 obligations" in err


def _regular_file(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("a file, not a folder\n")
    return plain


# Each destination fails even for root: a missing folder, a folder, a path under a regular file, /proc.
UNWRITABLE = {
    "out_in_a_missing_folder": ("--out", lambda tmp_path: tmp_path / "missing" / "obligations.csv",
                                "does not exist"),
    "out_is_a_folder": ("--out", lambda tmp_path: tmp_path, "it is a folder"),
    "quarantine_under_a_regular_file": ("--quarantine", lambda tmp_path: _regular_file(tmp_path) / "q.csv",
                                        "is not a folder"),
    "quarantine_in_proc": ("--quarantine", lambda tmp_path: Path("/proc/version"), "cannot be written"),
}


@pytest.mark.parametrize("case", list(UNWRITABLE))
def test_an_unwritable_destination_is_a_one_line_error_and_nothing_is_written(
        vc, write_folder, tmp_path, capsys, case) -> None:
    option, make_path, message = UNWRITABLE[case]
    folder = write_folder(events=[vc.event("E2", "MYSTERY", "2026-03-03T10:00:00Z")])
    dest = tmp_path / "dest"
    dest.mkdir()
    paths = {"--out": dest / "obligations.csv", "--quarantine": dest / "quarantine.csv"}
    paths[option] = make_path(tmp_path)
    code, out, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z",
                         "--out", str(paths["--out"]), "--quarantine", str(paths["--quarantine"]))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"vcp sla: error: {option} ") and message in err
    assert list(dest.iterdir()) == []  # neither the other file nor any staging file


def test_a_failed_run_keeps_the_previous_obligations_file_whole(vc, write_folder, tmp_path, capsys) -> None:
    out_file = tmp_path / "obligations.csv"
    out_file.write_text("yesterday's obligations\n")
    code, _, _ = run(capsys, "--input", str(write_folder()), "--as-of", "2026-03-31T12:00:00Z",
                     "--out", str(out_file), "--quarantine", str(tmp_path / "missing" / "q.csv"))
    assert code == 2 and out_file.read_text() == "yesterday's obligations\n"
    folder = write_folder()
    (folder / "victims.csv").unlink()
    code, _, _ = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z", "--out", str(out_file))
    assert code == 2 and out_file.read_text() == "yesterday's obligations\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_dir()) == ["obligations.csv"]


def test_a_successful_run_replaces_the_files_and_leaves_no_staging_files(vc, write_folder, tmp_path, capsys) -> None:
    out_file, quarantine = tmp_path / "obligations.csv", tmp_path / "quarantine.csv"
    out_file.write_text("old\n")
    code, out, _ = run(capsys, "--input", str(write_folder()), "--as-of", "2026-03-31T12:00:00Z",
                       "--out", str(out_file), "--quarantine", str(quarantine))
    assert code == 0 and out == ""
    assert out_file.read_text().startswith("crime_ref,victim_id,rule,")
    assert quarantine.read_text().startswith("file,")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_dir()) == ["obligations.csv", "quarantine.csv"]


def test_out_and_quarantine_naming_the_same_file_is_a_one_line_error(write_folder, tmp_path, capsys) -> None:
    same = str(tmp_path / "both.csv")
    code, _, err = run(capsys, "--input", str(write_folder()), "--as-of", "2026-03-31T12:00:00Z",
                       "--out", same, "--quarantine", same)
    assert code == 2 and err.count("\n") == 1 and "same file" in err
    assert not (tmp_path / "both.csv").exists()


def test_out_may_be_a_device(write_folder, capsys) -> None:
    code, out, err = run(capsys, "--input", str(write_folder()), "--as-of", "2026-03-31T12:00:00Z",
                         "--out", "/dev/null")
    assert code == 0 and out == "" and "obligations" in err


def test_a_ragged_row_is_quarantined_and_the_run_goes_on(vc, write_folder, tmp_path, capsys) -> None:
    folder = write_folder(events=[vc.event("E1", "WRITTEN_ACKNOWLEDGEMENT", "2026-03-03T10:00:00Z")])
    with (folder / "events.csv").open("a") as events:
        events.write("E2,C1,,VICTIM_UPDATE,2026-03-04T10:00:00Z,,,,phone,14,extra\n")
    quarantine = tmp_path / "q.csv"
    code, out, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z",
                         "--quarantine", str(quarantine))
    assert code == 0 and "acknowledgement,,2026-03-02T09:30:00Z,2026-03-10T00:00:00Z,2026-03-03T10:00:00Z,MET" in out
    q = pd.read_csv(quarantine, dtype=str, keep_default_na=False)
    assert list(q[["file", "row_number", "event_id", "reason"]].itertuples(index=False, name=None)) == [
        ("events.csv", "2", "E2", "ragged row: 11 fields, the header has 9")]
    assert "quarantined 1;" in err


def test_quarantine_file_has_the_contract_columns_interval_days_included(vc, write_folder, tmp_path, capsys) -> None:
    folder = write_folder(events=[vc.event("E1", "CONTACT_AGREED", "2026-03-03T10:00:00Z", interval_days="7.0")])
    quarantine = tmp_path / "q.csv"
    code, _, _ = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z", "--quarantine", str(quarantine))
    assert code == 0
    assert quarantine.read_text().splitlines() == [
        "file,row_number,crime_ref,reported_at,department,offence_category,domestic_abuse,hate_crime,victim_id,"
        "age_at_report,vulnerable,intimidated,persistently_targeted,event_id,event_type,occurred_at,in_need,"
        "outcome_code,court_result,channel,interval_days,reason",
        "events.csv,1,C1,,,,,,,,,,,E1,CONTACT_AGREED,2026-03-03T10:00:00Z,,,,,7.0,interval_days not a whole number 0-366"]


def test_summary_line_counts_rows_read_quarantined_replaced_after_as_of_and_obligations_by_status(
        vc, write_folder, capsys) -> None:
    folder = write_folder(
        crimes=[vc.crime(), vc.crime(crime_ref="C2", reported_at="2026-04-01T00:00:00Z")],
        victims=[vc.victim(), vc.victim(crime_ref="C2")],
        events=[vc.event("E1", "OPTED_OUT", "2026-03-02T09:30:00Z", victim_id="V1"),
                vc.event("E2", "SUSPECT_ARRESTED", "2026-03-03T10:00:00Z"),
                vc.event("E2", "SUSPECT_ARRESTED", "2026-03-03T11:00:00Z"),
                vc.event("E3", "MYSTERY", "2026-03-03T10:00:00Z"),
                vc.event("E4", "VICTIM_UPDATE", "2026-04-03T10:00:00Z")])
    code, _, err = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z")
    assert code == 0 and err.count("\n") == 1
    assert err.startswith("vcp sla: read 2 crimes, 2 victims, 5 events; quarantined 1; replaced by a later row 1; "
                          "left out as after the as-of instant 3 (1 crimes, 1 victims, 1 events); 3 obligations (")
    assert "WAIVED" in err and "BREACHED" in err


def test_input_files_with_a_byte_order_mark_are_read(vc, write_folder, capsys) -> None:
    folder = write_folder()
    for name in ("crimes", "victims", "events"):
        path = folder / f"{name}.csv"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, out, _ = run(capsys, "--input", str(folder), "--as-of", "2026-03-31T12:00:00Z")
    assert code == 0 and "C1,V1,acknowledgement," in out
