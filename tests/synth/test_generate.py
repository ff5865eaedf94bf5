"""The synthetic force: reproducible, calibrated to the board paper, and realistically messy."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.cli import main
from vcpipeline.errors import UsageError
from vcpipeline.sources import combine_canonical, to_canonical
from vcpipeline.sources.config import load_source_config
from vcpipeline.sources.readers import native_strings
from vcpipeline.synth import calibration
from vcpipeline.synth.commands import quarter_window
from vcpipeline.synth.force import ForceSpec, generate_force
from vcpipeline.synth.summary import canonical_rows, measured_rates
from vcpipeline.synth.write import write_force


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _generate_to(root: Path, seed: int) -> dict[str, str]:
    configs = load_source_config(var=root)
    write_force(generate_force(ForceSpec(crimes=800, days=10, tail_days=5, seed=seed), configs).native, configs)
    return _tree_digest(root)


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path):
    first = _generate_to(tmp_path / "a", seed=3)
    again = _generate_to(tmp_path / "b", seed=3)
    other = _generate_to(tmp_path / "c", seed=4)
    assert first == again
    assert any(name.endswith(".xlsx") for name in first) and any(name.endswith(".db") for name in first)
    assert first != other


def test_regenerating_into_the_same_folder_leaves_no_stale_drop_files(tmp_path):
    configs = load_source_config(var=tmp_path)
    write_force(generate_force(ForceSpec(crimes=300, days=40, seed=1), configs).native, configs)
    write_force(generate_force(ForceSpec(crimes=300, days=10, seed=1), configs).native, configs)
    days = {p.name[10:18] for p in (tmp_path / "landing" / "victim_support").glob("referrals_*.csv")}
    assert max(days) <= "20260731"   # 10 report days + 14 tail days + lags, not 40


@pytest.fixture(scope="module")
def rates(small_force, force_configs):
    table = measured_rates(canonical_rows(small_force.native, force_configs), small_force.spec.extracted_at)
    return table.set_index(["department", "rule"])


def _rate(rates: pd.DataFrame, rule: str, department: str | None = None) -> float:
    rows = rates.xs(rule, level="rule")
    if department is not None:
        rows = rows.loc[[department]]
    return rows["met_on_time"].sum() / rows["decided"].sum()


def test_needs_referral_is_a_third_for_force_response_and_near_all_for_contact_and_iit(rates):
    assert _rate(rates, "needs_referral", "FORCE_RESPONSE") == pytest.approx(0.33, abs=0.04)
    assert _rate(rates, "needs_referral", "FORCE_CONTACT") > 0.96
    assert _rate(rates, "needs_referral", "IIT") > 0.96
    others = [d for d in DEPARTMENTS if d not in ("FORCE_RESPONSE", "FORCE_CONTACT", "IIT")]
    assert all(0.5 < _rate(rates, "needs_referral", d) < 0.95 for d in others)


def test_force_wide_rates_match_the_board_paper(rates):
    assert _rate(rates, "acknowledgement") > 0.97
    assert _rate(rates, "investigation_update") == pytest.approx(0.80, abs=0.04)
    assert _rate(rates, "outcome_notification") == pytest.approx(0.91, abs=0.025)
    assert _rate(rates, "vps_offer") > 0.97
    assert _rate(rates, "vps_feedback") == pytest.approx(0.91, abs=0.05)


def test_every_department_has_every_rule_measured(rates):
    departments = set(rates.index.get_level_values("department"))
    assert departments == set(DEPARTMENTS)
    assert (rates["decided"] > 0).all()


def test_summary_measures_the_rows_rather_than_echoing_parameters(monkeypatch, force_configs):
    spec = ForceSpec(crimes=3_000, seed=11)
    monkeypatch.setitem(calibration.NEEDS_REFERRAL_ON_TIME, "FORCE_CONTACT", 0.5)
    force = generate_force(spec, force_configs)
    # Remove every needs assessment from the partner's rows: the measured rate must collapse.
    referrals = force.native["victim_support"]["referrals"]
    force.native["victim_support"]["referrals"] = referrals[referrals["Activity"] != "Needs assessment"]
    table = measured_rates(canonical_rows(force.native, force_configs), spec.extracted_at)
    needs = table[table["rule"] == "needs_referral"].set_index("department")["rate"]
    assert needs.max() == 0.0


def test_victims_include_children_markers_multi_victim_crimes_and_enhanced_flags(small_force):
    crs = small_force.native["crime_recording"]
    victims, crimes = crs["victims"], crs["crimes"]
    multi = victims.groupby("crime_no").size()
    assert (multi > 1).mean() == pytest.approx(0.08, abs=0.015)
    for code in ("VUL", "INT", "PTV"):
        assert victims["markers"].str.contains(code).mean() > 0.01
    assert (crimes["da_marker"] == "Y").mean() > 0.05
    assert (crimes["hate_marker"] == "Y").mean() > 0.005
    assert crimes["offence_code"].isin(["SXO", "S18", "HOM", "ARL"]).any()
    born = pd.to_datetime(victims["date_of_birth"], errors="coerce")
    assert (born > pd.Timestamp("2009-01-01")).mean() > 0.05   # children
    assert (victims["date_of_birth"] == "").mean() == pytest.approx(0.02, abs=0.01)


def test_bad_rows_are_present_at_about_the_intended_rate(small_force):
    bad = small_force.bad_rows
    event_rows = sum(len(small_force.native[s][t]) for s, t in (
        ("crime_recording", "milestones"), ("crime_recording", "finalisations"),
        ("victim_contact", "contacts"), ("victim_support", "referrals"), ("witness_care", "WCU Updates")))
    event_bad = bad[bad["table"] != "crimes"]
    assert 0.004 < len(event_bad) / event_rows < 0.012
    assert set(bad["kind"]) >= {"unknown_code", "missing_crime_ref", "before_report", "duplicate",
                                "unparseable_date", "unknown_offence_code", "unknown_unit_code"}


def test_recorded_bad_rows_are_really_in_the_native_rows(small_force, force_configs):
    native, bad = small_force.native, small_force.bad_rows
    codes = {c.name: c for c in force_configs}
    milestones = native["crime_recording"]["milestones"]
    unknown = ~milestones["milestone_code"].isin(list(codes["crime_recording"].codes("milestone_code")))
    assert unknown.sum() == ((bad["table"] == "milestones") & (bad["kind"] == "unknown_code")).sum()
    contacts = native["victim_contact"]["contacts"]
    assert contacts["crime_number"].isna().sum() == (
        (bad["table"] == "contacts") & (bad["kind"] == "missing_crime_ref")).sum()
    referrals = native["victim_support"]["referrals"]
    exact_repeats = referrals.duplicated(keep="first").sum()
    assert exact_repeats == ((bad["table"] == "referrals") & (bad["kind"] == "duplicate")).sum()
    assert referrals["Activity Date"].str.startswith("31/02/").sum() == (bad["kind"] == "unparseable_date").sum()


def test_some_rows_arrive_late_and_some_are_corrected_later(small_force):
    milestones = small_force.native["crime_recording"]["milestones"]
    happened = pd.to_datetime(milestones["milestone_at"])
    created = pd.to_datetime(milestones["created_at"])
    modified = pd.to_datetime(milestones["modified_at"])
    assert ((created - happened) > pd.Timedelta(days=2)).mean() == pytest.approx(0.03, abs=0.01)
    assert (modified > created).mean() == pytest.approx(0.02, abs=0.01)


def test_corrected_partner_rows_are_delivered_again_later_with_a_changed_time(small_force):
    referrals = small_force.native["victim_support"]["referrals"].drop_duplicates()
    repeated = referrals[referrals.duplicated("Referral Ref", keep=False)]
    assert len(repeated) > 0
    first_last = repeated.groupby("Referral Ref").agg(
        files=("source_file", "nunique"), dates=("Activity Date", "nunique"))
    assert (first_last["files"] >= 2).all()
    assert (first_last["dates"] > 1).any()
    assert any(name.endswith("_v2.csv") for name in referrals["source_file"].unique())
    wcu = small_force.native["witness_care"]["WCU Updates"]
    assert any(name.endswith("_v2.xlsx") for name in wcu["source_file"].unique())


def test_nothing_happens_or_is_written_after_the_extract(small_force):
    horizon = small_force.spec.extracted_at.tz_convert("Europe/London").tz_localize(None)
    for table in ("milestones", "finalisations"):
        frame = small_force.native["crime_recording"][table]
        assert (pd.to_datetime(frame["modified_at"]) <= horizon).all()
    contacts = small_force.native["victim_contact"]["contacts"]
    assert (pd.to_datetime(contacts["modified_at"]).max()
            <= small_force.spec.extracted_at.tz_localize(None).tz_localize("UTC"))


def test_reading_the_written_sources_back_gives_the_generated_rows(small_force, read_back, force_configs):
    for config in force_configs:
        read = read_back[config.name]
        for table, frame in small_force.native[config.name].items():
            expected = native_strings(frame).reset_index(drop=True)
            got = read[table][list(expected.columns)].reset_index(drop=True)
            if config.kind != "sql":   # files are read in name order
                order = expected["source_file"].sort_values(kind="stable").index
                expected = expected.loc[order].reset_index(drop=True)
            else:
                got = got.sort_values(got.columns[0], key=lambda s: s.astype(int)).reset_index(drop=True)
            pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_personal_details_are_in_the_sources_but_not_in_adapter_output(small_force, read_back, force_configs):
    victims = small_force.native["crime_recording"]["victims"]
    canonical = combine_canonical([to_canonical(read_back[c.name], c) for c in force_configs])
    values = pd.concat([frame[col].astype("string") for frame in canonical.values() for col in frame.columns])
    values = set(values.dropna().unique())
    assert victims["phone"].str.match(r"07\d{3} \d{6}").all()
    names = set(victims["forename"]) | set(victims["surname"])
    names |= set(small_force.native["victim_support"]["referrals"]["Client Name"])
    pii = names | set(victims["phone"]) | set(victims["address_line"]) | set(victims["postcode"])
    pii |= set(victims["date_of_birth"]) - {""} | set(victims["town"])
    assert not (values & pii)
    joined = "\n".join(sorted(values))
    for sample in list(victims["phone"].head(200)) + list(victims["address_line"].head(200)):
        assert sample not in joined
    for column in ("forename", "surname", "phone", "date_of_birth", "address_line", "postcode"):
        assert all(column not in frame.columns for frame in canonical.values())


def test_generate_command_writes_sources_and_prints_measured_rates(tmp_path, capsys):
    summary = tmp_path / "rates.csv"
    code = main(["generate", "--out", str(tmp_path), "--crimes", "600", "--quarter", "2026Q1",
                 "--seed", "5", "--summary", "--summary-csv", str(summary)])
    assert code == 0
    out = capsys.readouterr().out
    assert "needs_referral" in out and "FORCE_RESPONSE" in out
    assert (tmp_path / "sources" / "crime_recording.db").is_file()
    assert (tmp_path / "sources" / "victim_contact.db").is_file()
    assert list((tmp_path / "landing" / "victim_support").glob("referrals_2026*.csv"))
    assert list((tmp_path / "landing" / "witness_care").glob("wcu_2026*.xlsx"))
    table = pd.read_csv(summary)
    assert list(table.columns) == ["department", "rule", "obligations", "decided", "met_on_time", "rate",
                                   "waived", "waived_share", "compared", "as_agreed", "as_agreed_share"]
    assert "agreed method" in out and "waived" in out
    assert np.all((table["rate"].dropna() >= 0) & (table["rate"].dropna() <= 1))


@pytest.mark.parametrize("argv", [["--quarter", "2026Q5"], ["--quarter", "2026Q1", "--days", "3"],
                                  ["--crimes", "0"]])
def test_generate_command_rejects_bad_arguments_with_one_line(argv, tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path), *argv]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize(("text", "first", "days"), [
    ("2026Q3", date(2026, 7, 1), 92), ("2026-q4", date(2026, 10, 1), 92), (" 2026 - Q1 ", date(2026, 1, 1), 90),
    ("2028Q1", date(2028, 1, 1), 91),
])
def test_generate_quarter_is_its_local_days_however_it_is_dashed(text, first, days):
    assert quarter_window(text) == (first, days)


@pytest.mark.parametrize("text", ["2026Q5", "Q3 2026", "2026--Q3", "2026-07"])
def test_generate_quarter_refuses_anything_else_naming_the_option(text):
    with pytest.raises(UsageError, match=r"^--quarter must look like 2026Q3, got "):
        quarter_window(text)
