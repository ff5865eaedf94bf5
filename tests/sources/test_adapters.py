"""Adapters: every native code maps to its canonical value; unknown codes, bad times and missing
references pass through for validation; no personal data comes out."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.canonical import COURT_RESULTS, DEPARTMENTS, EVENT_TYPES
from vcpipeline.sources import combine_canonical, to_canonical
from vcpipeline.sources.common import OUTPUT_COLUMNS, victim_ids
from vcpipeline.sources.config import source_config
from vcpipeline.sources.crime_recording import ages_at

CRS = source_config("crime_recording")
VCL = source_config("victim_contact")
VS = source_config("victim_support")
WCU = source_config("witness_care")


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, dtype="string")


def _crime(**overrides: str) -> dict[str, str]:
    row = {"crime_id": "1", "crime_no": "20/000001/26", "recorded_at": "2026-07-01 10:00:00",
           "reporting_unit": "RESP", "owning_team": "RESP-B3", "oic_collar": "4521",
           "offence_code": "THF", "da_marker": "N", "hate_marker": "N", "court_area": "WLV",
           "created_at": "2026-07-01 10:05:00", "modified_at": "2026-07-01 10:05:00"}
    return row | overrides


def _milestone(code: str, **overrides: str) -> dict[str, str]:
    row = {"milestone_id": "123", "crime_no": "20/000001/26", "victim_no": "", "milestone_code": code,
           "milestone_at": "2026-07-02 09:30:00", "created_at": "2026-07-02 10:00:00",
           "modified_at": "2026-07-02 10:00:00"}
    return row | overrides


EXPECTED_CODES = {
    ("crime_recording", "reporting_unit"): {
        "FCC": "FORCE_CONTACT", "RESP": "FORCE_RESPONSE", "IIT": "IIT", "VVA": "VVA", "PPU": "PPU",
        "CJU": "CRIMINAL_JUSTICE", "WCU": "WITNESS_CARE", "RJU": "RESTORATIVE_JUSTICE"},
    ("crime_recording", "milestone_code"): {
        "ARR": "SUSPECT_ARRESTED", "INT": "SUSPECT_INTERVIEWED", "RUI": "SUSPECT_RELEASED_UNDER_INVESTIGATION",
        "BAIL": "SUSPECT_BAILED", "BVAR": "BAIL_CONDITIONS_CHANGED", "CHG": "SUSPECT_CHARGED",
        "NFA": "DECISION_NOT_TO_INVESTIGATE", "RNC": "SUSPECT_RELEASED_NO_CHARGE"},
    ("crime_recording", "court_area"): {
        "BHM": "WCU-BHM", "SOL": "WCU-BHM", "COV": "WCU-COV", "WLV": "WCU-BLK", "DUD": "WCU-BLK",
        "WAL": "WCU-BLK"},
    ("victim_contact", "contact_type"): {
        "ACK": "WRITTEN_ACKNOWLEDGEMENT", "UPD": "VICTIM_UPDATE", "OUTC": "OUTCOME_COMMUNICATED",
        "VPSU": "VPS_USE_COMMUNICATED", "AGREE": "CONTACT_AGREED", "OPTOUT": "OPTED_OUT",
        "OPTIN": "OPTED_IN"},
    ("victim_contact", "vps_response"): {"OFF": "VPS_OFFERED", "TKN": "VPS_TAKEN", "DEC": "VPS_DECLINED"},
    ("victim_support", "activity"): {
        "Needs assessment": "NEEDS_ASSESSMENT", "Referred": "SUPPORT_REFERRAL",
        "Declined support": "REFERRAL_DECLINED"},
    ("witness_care", "update_type"): {
        "Court result": "COURT_OUTCOME", "VPS taken": "VPS_TAKEN", "VPS used": "VPS_USED",
        "VPS feedback given": "VPS_USE_COMMUNICATED", "Victim updated": "VICTIM_UPDATE",
        "Outcome given": "OUTCOME_COMMUNICATED"},
    ("witness_care", "contact_method"): {
        "Letter": "letter", "Email": "email", "Text": "sms", "Phone": "phone", "Home visit": "visit"},
}


@pytest.mark.parametrize(("source", "mapping"), sorted(EXPECTED_CODES))
def test_declared_code_lists_are_the_documented_ones(source, mapping):
    assert dict(source_config(source).codes(mapping)) == EXPECTED_CODES[(source, mapping)]


def test_every_declared_event_code_maps_to_a_canonical_event_type():
    targets = [v for (source, name), codes in EXPECTED_CODES.items()
               if name not in ("reporting_unit", "court_area", "contact_method") for v in codes.values()]
    assert set(targets) <= EVENT_TYPES
    assert set(CRS.codes("reporting_unit").values()) == set(DEPARTMENTS)
    assert set(WCU.codes("court_result").values()) == COURT_RESULTS


@pytest.mark.parametrize(("native", "canonical"), sorted(CRS.codes("offence_code").items()))
def test_every_offence_code_maps_to_its_category(native, canonical):
    out = to_canonical({"crimes": _frame([_crime(offence_code=native)])}, CRS)["crimes"]
    assert out.loc[0, "offence_category"] == canonical


@pytest.mark.parametrize(("native", "canonical"), sorted(CRS.codes("reporting_unit").items()))
def test_every_unit_code_maps_to_its_department(native, canonical):
    out = to_canonical({"crimes": _frame([_crime(reporting_unit=native)])}, CRS)["crimes"]
    assert out.loc[0, "department"] == canonical


def test_crime_row_maps_reference_report_time_owner_flags_and_lineage():
    crimes = _frame([_crime(da_marker="Y", hate_marker="N", recorded_at="2026-07-01 10:00:00")])
    out = to_canonical({"crimes": crimes}, CRS)["crimes"]
    assert list(out.columns) == list(OUTPUT_COLUMNS["crimes"])
    assert out.loc[0].to_dict() == {
        "crime_ref": "20/000001/26", "reported_at": "2026-07-01T09:00:00Z",   # BST
        "department": "FORCE_RESPONSE", "offence_category": "theft", "domestic_abuse": "true",
        "hate_crime": "false", "team": "RESP-B3", "officer_collar": "4521",
        "witness_care_team": "WCU-BLK", "source_system": "CRS", "source_row_id": "1"}


def test_winter_local_time_is_utc_and_unparseable_times_pass_through_raw():
    crimes = _frame([_crime(recorded_at="2026-12-01 10:00:00"), _crime(crime_id="2", recorded_at="31/02/2026")])
    out = to_canonical({"crimes": crimes}, CRS)["crimes"]
    assert list(out["reported_at"]) == ["2026-12-01T10:00:00Z", "31/02/2026"]


@pytest.mark.parametrize(("native", "canonical"), sorted(CRS.codes("milestone_code").items()))
def test_every_milestone_code_maps_to_its_event_type(native, canonical):
    out = to_canonical({"milestones": _frame([_milestone(native)])}, CRS)["events"]
    row = out.loc[0]
    assert row["event_type"] == canonical
    assert row["event_id"] == "CRS-INV-0000123"
    assert row["occurred_at"] == "2026-07-02T08:30:00Z"
    assert row["victim_id"] == ""   # crime-level: every victim of the crime
    assert (row["source_system"], row["source_row_id"]) == ("CRS", "123")
    assert row["source_modified_at"] == "2026-07-02T09:00:00Z"


def test_unknown_codes_are_kept_raw_for_validation_to_quarantine():
    events = to_canonical({"milestones": _frame([_milestone("WNT")])}, CRS)["events"]
    crimes = to_canonical({"crimes": _frame([_crime(offence_code="ZZ9", reporting_unit="SOC")])}, CRS)["crimes"]
    assert events.loc[0, "event_type"] == "WNT"
    assert (crimes.loc[0, "offence_category"], crimes.loc[0, "department"]) == ("ZZ9", "SOC")


def test_finalisation_carries_the_home_office_outcome_code():
    rows = _frame([{"finalisation_id": "9", "crime_no": "20/000001/26", "ho_outcome": "18",
                    "finalised_at": "2026-07-03 12:00:00", "created_at": "2026-07-03 12:00:00",
                    "modified_at": "2026-07-03 12:00:00"}])
    row = to_canonical({"finalisations": rows}, CRS)["events"].loc[0]
    assert (row["event_id"], row["event_type"], row["outcome_code"]) == ("CRS-FIN-0000009", "CRIME_FINALISED", "18")


def test_crime_reported_events_are_optional():
    module = CRS.adapter_module()
    crimes = _frame([_crime()])
    assert module.to_canonical({"crimes": crimes}, CRS)["events"].empty
    events = module.to_canonical({"crimes": crimes}, CRS, emit_crime_reported=True)["events"]
    assert list(events["event_type"]) == ["CRIME_REPORTED"]
    assert events.loc[0, "event_id"] == "CRS-CRM-0000001"


def _victim(**overrides: str) -> dict[str, str]:
    row = {"victim_no": "77", "crime_no": "20/000001/26", "forename": "Amelia", "surname": "Khan",
           "date_of_birth": "2010-07-02", "phone": "07123 456789", "address_line": "12 Soho Road",
           "town": "Birmingham", "postcode": "B21 9AB", "markers": "",
           "created_at": "2026-07-01 10:05:00", "modified_at": "2026-07-01 10:05:00"}
    return row | overrides


def test_victim_gets_a_pseudonymous_id_age_at_report_and_markers_but_no_personal_details():
    victims = _frame([_victim(markers="VUL;PTV"), _victim(victim_no="78", markers="INT", date_of_birth="")])
    out = to_canonical({"crimes": _frame([_crime()]), "victims": victims}, CRS)["victims"]
    assert list(out.columns) == list(OUTPUT_COLUMNS["victims"])
    first, second = out.loc[0].to_dict(), out.loc[1].to_dict()
    assert first["victim_id"] == "V0000077"
    assert first["age_at_report"] == "15"   # born 2 July 2010, reported 1 July 2026
    assert (first["vulnerable"], first["intimidated"], first["persistently_targeted"]) == ("true", "false", "true")
    assert (second["age_at_report"], second["intimidated"], second["vulnerable"]) == ("", "true", "false")
    text = out.to_csv()
    for detail in ("Amelia", "Khan", "07123", "Soho", "B21 9AB", "2010-07-02", "Birmingham"):
        assert detail not in text


def test_victim_age_uses_the_joined_report_time_when_the_crime_is_not_in_the_extract():
    victims = _frame([_victim(crime_recorded_at="2026-07-02 00:30:00")])
    out = to_canonical({"victims": victims}, CRS)["victims"]
    assert out.loc[0, "age_at_report"] == "16"


@pytest.mark.parametrize(("born", "on", "age"), [
    ("2000-03-01", "2026-02-28", "25"), ("2000-03-01", "2026-03-01", "26"),
    ("2008-02-29", "2026-02-28", "17"), ("2008-02-29", "2026-03-01", "18"), ("", "2026-03-01", ""),
])
def test_age_at_report_counts_whole_years(born, on, age):
    assert ages_at(pd.Series([born], dtype="string"), pd.Series([on], dtype="string")).iloc[0] == age


def _contact(kind: str, response: str = "", **overrides: str) -> dict[str, str]:
    row = {"contact_id": "5", "crime_number": "20/000001/26", "crs_victim_no": "77", "contact_type": kind,
           "vps_response": response, "channel": "EML", "staff_no": "12345", "update_interval": "",
           "contacted_at": "2026-07-01T15:00:00Z", "created_at": "2026-07-01T15:10:00Z",
           "modified_at": "2026-07-01T15:10:00Z"}
    return row | overrides


@pytest.mark.parametrize(("kind", "response", "expected"), [
    *[(k, "", v) for k, v in EXPECTED_CODES[("victim_contact", "contact_type")].items()],
    *[("VPS", r, v) for r, v in EXPECTED_CODES[("victim_contact", "vps_response")].items()],
    ("CBK", "", "CBK"), ("VPS", "MAYBE", "VPS/MAYBE"),
])
def test_every_contact_type_and_vps_response_maps_to_its_event_type(kind, response, expected):
    row = to_canonical({"contacts": _frame([_contact(kind, response)])}, VCL)["events"].loc[0]
    assert row["event_type"] == expected
    assert (row["event_id"], row["victim_id"], row["occurred_at"]) == (
        "VCL-CON-0000005", "V0000077", "2026-07-01T15:00:00Z")


@pytest.mark.parametrize(("native", "canonical"), sorted(VCL.codes("channel").items()))
def test_every_channel_code_maps(native, canonical):
    row = to_canonical({"contacts": _frame([_contact("ACK", channel=native)])}, VCL)["events"].loc[0]
    assert row["channel"] == canonical


def test_a_contact_agreement_carries_the_agreed_method_and_interval_days_as_typed():
    out = to_canonical({"contacts": _frame([
        _contact("AGREE", channel="TEL", update_interval="14"),
        _contact("AGREE", contact_id="6", channel="FAX", update_interval="2 weeks"),
        _contact("OPTOUT", contact_id="7", channel="LTR"),
        _contact("OPTIN", contact_id="8", channel="EML"),
    ])}, VCL)["events"]
    assert out[["event_type", "channel", "interval_days"]].to_numpy().tolist() == [
        ["CONTACT_AGREED", "phone", "14"],
        ["CONTACT_AGREED", "FAX", "2 weeks"],   # raw: validation quarantines it, never guesses
        ["OPTED_OUT", "letter", ""],
        ["OPTED_IN", "email", ""],
    ]


def test_update_interval_is_read_on_contact_agreements_only():
    out = to_canonical({"contacts": _frame([_contact("UPD", update_interval="28")])}, VCL)["events"]
    assert out.loc[0, "interval_days"] == ""


def test_contact_without_a_crime_number_is_kept_with_an_empty_reference():
    row = to_canonical({"contacts": _frame([_contact("ACK", crime_number="")])}, VCL)["events"].loc[0]
    assert row["crime_ref"] == ""


def _referral(activity: str, need: str = "", **overrides: str) -> dict[str, str]:
    row = {"Referral Ref": "VS00000042", "Police Crime No": "20/000001/26", "Police Victim No": "77",
           "Client Name": "Amelia Khan", "Activity": activity, "In Need": need,
           "Activity Date": "01/07/2026 11:15", "Last Updated": "02/07/2026 08:00",
           "source_file": "referrals_20260702.csv"}
    return row | overrides


@pytest.mark.parametrize(("activity", "need", "event_type", "in_need"), [
    ("Needs assessment", "Yes", "NEEDS_ASSESSMENT", "true"),
    ("Needs assessment", "No", "NEEDS_ASSESSMENT", "false"),
    ("Referred", "", "SUPPORT_REFERRAL", ""),
    ("Declined support", "", "REFERRAL_DECLINED", ""),
    ("Self-referral", "", "Self-referral", ""),
])
def test_every_partner_activity_maps_and_uk_local_dates_become_utc(activity, need, event_type, in_need):
    out = to_canonical({"referrals": _frame([_referral(activity, need)])}, VS)["events"]
    row = out.loc[0]
    assert (row["event_type"], row["in_need"]) == (event_type, in_need)
    assert (row["event_id"], row["source_row_id"]) == ("VS-REF-VS00000042", "VS00000042")
    assert row["occurred_at"] == "2026-07-01T10:15:00Z"
    assert row["source_modified_at"] == "2026-07-02T07:00:00Z"
    assert "Amelia" not in out.to_csv()


def test_impossible_partner_dates_pass_through_raw():
    row = to_canonical({"referrals": _frame([_referral("Referred", **{"Activity Date": "31/02/2026 10:00"})])},
                       VS)["events"].loc[0]
    assert row["occurred_at"] == "31/02/2026 10:00"


def _wcu(update: str, result: str = "", witness: str = "77", method: str = "") -> dict[str, str]:
    return {"WCU ID": "31", "Police Ref": "20/000001/26", "Witness ID": witness,
            "Witness Name": "Amelia Khan" if witness else "", "Update Type": update,
            "Court Result": result, "Contact Method": method, "Event Date": "2026-11-02 10:00:00",
            "Last Modified": "2026-11-02 16:00:00", "source_file": "wcu_20261102.xlsx"}


@pytest.mark.parametrize(("update", "expected"), sorted(WCU.codes("update_type").items()))
def test_every_witness_care_update_type_maps(update, expected):
    row = to_canonical({"WCU Updates": _frame([_wcu(update)])}, WCU)["events"].loc[0]
    assert row["event_type"] == expected
    assert (row["event_id"], row["occurred_at"]) == ("WCU-UPD-0000031", "2026-11-02T10:00:00Z")


@pytest.mark.parametrize(("result", "expected"), sorted(WCU.codes("court_result").items()))
def test_every_court_result_maps_and_case_level_results_concern_every_victim(result, expected):
    row = to_canonical({"WCU Updates": _frame([_wcu("Court result", result, witness="")])}, WCU)["events"].loc[0]
    assert (row["event_type"], row["court_result"], row["victim_id"]) == ("COURT_OUTCOME", expected, "")


@pytest.mark.parametrize(("method", "channel"), sorted(WCU.codes("contact_method").items()))
def test_witness_care_updates_carry_the_method_of_contact(method, channel):
    row = to_canonical({"WCU Updates": _frame([_wcu("Victim updated", method=method)])}, WCU)["events"].loc[0]
    assert (row["event_type"], row["channel"]) == ("VICTIM_UPDATE", channel)


@pytest.mark.parametrize(("area", "team"), [("WLV", "WCU-BLK"), ("BHM", "WCU-BHM"), ("XYZ", ""), ("", "")])
def test_a_crime_gets_the_witness_care_team_of_its_court_area(area, team):
    row = to_canonical({"crimes": _frame([_crime(court_area=area)])}, CRS)["crimes"].loc[0]
    assert row["witness_care_team"] == team


def test_an_extract_without_court_areas_routes_to_the_default_witness_care_lead():
    crime = _crime()
    del crime["court_area"]
    assert to_canonical({"crimes": _frame([crime])}, CRS)["crimes"].loc[0, "witness_care_team"] == ""


def test_one_victim_has_one_id_whichever_system_mentions_them():
    assert list(victim_ids(pd.Series(["77", "0000077", "77.0", "", "abc"], dtype="string"))) == [
        "V0000077", "V0000077", "V0000077", "", "abc"]


def test_combined_output_has_every_canonical_kind_in_contract_column_order():
    parts = [to_canonical({"crimes": _frame([_crime()])}, CRS),
             to_canonical({"contacts": _frame([_contact("ACK")])}, VCL),
             to_canonical({"referrals": _frame([_referral("Referred")])}, VS)]
    combined = combine_canonical(parts)
    for kind, frame in combined.items():
        assert list(frame.columns) == list(OUTPUT_COLUMNS[kind])
        assert all(str(dtype) == "string" for dtype in frame.dtypes)
    assert len(combined["events"]) == 2 and combined["victims"].empty
