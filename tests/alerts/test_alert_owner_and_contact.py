"""Version 2 alerts: each item goes to the team that owns it (witness care after charge), waived
obligations are never alerted, each item shows how the victim agreed to be contacted, and what a
team lead reads about a rule is the rule set's data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pandas as pd
import pytest

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.contact import agreed_contacts, opt_out_history
from vcpipeline.alerts.selection import route_to_leads
from vcpipeline.alerts.store import read_agreed_contacts
from vcpipeline.alerts.wording import rule_descriptions, rule_wording
from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.warehouse.schema import crimes as crimes_table
from vcpipeline.warehouse.schema import obligations as obligations_table

from .conftest import AS_OF, TEAMS, no_log, obligation, store_night

WITNESS_CARE_TEAMS = pd.concat([TEAMS, pd.DataFrame({
    "department": ["WITNESS_CARE", "WITNESS_CARE"],
    "team": ["WCU-BHM", ""],
    "lead_name": ["Morag Holroyd", "Niall Yeadon"],
    "lead_email": ["morag.holroyd@force.example", "niall.yeadon@force.example"],
})], ignore_index=True)


def _owned(crime_ref: str, owner: str, witness_care_team: str = "", **kwargs) -> dict:
    return {**obligation(crime_ref, kwargs.pop("rule", "investigation_update"), kwargs.pop("status", "BREACHED"),
                         "2026-04-01", trigger=f"EV-{crime_ref}", **kwargs),
            "owner": owner, "witness_care_team": witness_care_team}


def _recipients(alerts) -> dict[str, list[str]]:
    return {alert.recipient: sorted(alert.items["crime_ref"]) for alert in alerts}


def test_items_witness_care_owns_go_to_the_witness_care_team_of_the_crimes_court_area():
    frame = pd.DataFrame([_owned("CR-7001", "FORCE_RESPONSE", "WCU-BHM"),
                          _owned("CR-7002", "WITNESS_CARE", "WCU-BHM")])
    assert _recipients(compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF)) == {
        "gwen.lomax@force.example": ["CR-7001"],        # before charge: the crime's team, as ever
        "morag.holroyd@force.example": ["CR-7002"],     # after charge: Birmingham's witness care team
    }


def test_items_witness_care_owns_without_a_listed_team_go_to_witness_cares_default_lead():
    frame = pd.DataFrame([_owned("CR-7003", "WITNESS_CARE", ""), _owned("CR-7004", "WITNESS_CARE", "WCU-XXX")])
    alerts = compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF)
    assert _recipients(alerts) == {"niall.yeadon@force.example": ["CR-7003", "CR-7004"]}
    assert alerts[0].team_name == "Witness Care (crimes without a known team)"
    # The crime's own department's default lead is not the owner: never routed there.
    routed = route_to_leads(frame, WITNESS_CARE_TEAMS)
    assert routed["lead_department"].tolist() == ["WITNESS_CARE", "WITNESS_CARE"]


def test_without_an_owner_column_items_go_to_the_crimes_team_as_in_version_1():
    frame = pd.DataFrame([obligation("CR-7005", "acknowledgement", "BREACHED", "2026-04-01")])
    assert route_to_leads(frame, WITNESS_CARE_TEAMS)["recipient"].tolist() == ["gwen.lomax@force.example"]


def test_waived_obligations_are_never_alerted_whether_overdue_or_due_today():
    frame = pd.DataFrame([
        _owned("CR-7101", "FORCE_RESPONSE", status="WAIVED"),  # due yesterday, victim opted out
        {**obligation("CR-7102", "vps_offer", "WAIVED", "2026-04-02"), "owner": "FORCE_RESPONSE"},
        _owned("CR-7103", "FORCE_RESPONSE", status="BREACHED"),
    ])
    alerts = compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF)
    assert _recipients(alerts) == {"gwen.lomax@force.example": ["CR-7103"]}
    assert "CR-7101" not in alerts[0].text and "CR-7102" not in alerts[0].html


def test_each_item_shows_the_victims_agreed_contact_method_beside_it():
    frame = pd.DataFrame([_owned("CR-7201", "FORCE_RESPONSE"), _owned("CR-7202", "FORCE_RESPONSE")])
    contacts = pd.DataFrame({"crime_ref": ["CR-7201"], "victim_id": ["V1"], "agreed_channel": ["phone"]})
    alert = compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF, contacts=contacts)[0]
    lines = [line for line in alert.text.splitlines() if line.startswith("- CR-72")]
    assert lines[0].startswith("- CR-7201, victim V1 (agreed: phone): Update the victim within")
    assert lines[1].startswith("- CR-7202, victim V1 (no method agreed): Update the victim within")
    # The cell says "agreed: phone": its header is "Contact", not "Agreed contact" (read as "Agreed contact: agreed: phone" at 390 px).
    assert "<th>Contact</th>" in alert.html and '<td data-label="Contact">agreed: phone</td>' in alert.html
    # Without contacts (not read), the lines claim nothing about contact.
    plain = compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF)[0]
    assert "agreed" not in plain.text and "<th>Contact</th>" not in plain.html


def _events(*rows: tuple[str, str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "crime_ref", "victim_id", "event_type", "occurred_at", "channel"])


def test_agreed_method_is_the_latest_agreement_at_or_before_the_instant_last_by_event_id_at_a_tie():
    victims = pd.DataFrame({"crime_ref": ["C1", "C1", "C2", "C3"], "victim_id": ["V1", "V2", "V1", "V1"]})
    events = _events(
        ("E1", "C1", "", "CONTACT_AGREED", "2026-03-01T10:00:00Z", "letter"),   # every victim of C1
        ("E3", "C1", "V1", "CONTACT_AGREED", "2026-03-05T10:00:00Z", "sms"),
        ("E2", "C1", "V1", "CONTACT_AGREED", "2026-03-05T10:00:00Z", "email"),  # same instant: E3 counts
        ("E4", "C1", "V2", "CONTACT_AGREED", "2026-04-02T01:00:01Z", "phone"),  # after the as-of
        ("E5", "C2", "V1", "CONTACT_AGREED", "2026-03-01T10:00:00Z", " Phone "),
        ("E6", "C2", "V1", "CONTACT_AGREED", "2026-03-09T10:00:00Z", ""),       # a new plan, no method
        ("E7", "C3", "V9", "CONTACT_AGREED", "2026-03-01T10:00:00Z", "visit"),  # another victim
    )
    found = agreed_contacts(events, victims, AS_OF)
    assert found.to_dict("list") == {
        "crime_ref": ["C1", "C1", "C2", "C3"], "victim_id": ["V1", "V2", "V1", "V1"],
        "agreed": [True, True, True, False], "agreed_channel": ["sms", "letter", "", ""],
    }


def test_opt_out_history_keeps_opt_outs_and_the_opt_ins_after_them():
    victims = pd.DataFrame({"crime_ref": ["C1", "C2"], "victim_id": ["V1", "V1"]})
    events = _events(
        ("E1", "C1", "V1", "OPTED_IN", "2026-03-01T10:00:00Z", ""),   # no effect: never opted out
        ("E2", "C1", "", "OPTED_OUT", "2026-03-02T10:00:00Z", ""),
        ("E3", "C1", "V1", "OPTED_IN", "2026-03-09T10:00:00Z", ""),
        ("E4", "C2", "V1", "OPTED_OUT", "2026-04-03T10:00:00Z", ""),  # after the as-of
    )
    history = opt_out_history(events, victims, AS_OF)
    assert history[["victim_id", "event_type"]].to_dict("list") == {
        "victim_id": ["V1", "V1"], "event_type": ["OPTED_OUT", "OPTED_IN"]}


def test_what_a_team_lead_reads_about_a_rule_is_the_rule_sets_data():
    rulesets = load_rulesets()
    changed = RuleSets(tuple(dataclasses.replace(s, rules=tuple(
        dataclasses.replace(r, alert_sentence="Ring the victim back", alert_trigger="the arrest")
        if r.name == "investigation_update" else r for r in s.rules)) for s in rulesets.sets),
        rulesets.enhanced_offence_categories, rulesets.source)
    frame = pd.DataFrame([_owned("CR-7301", "FORCE_RESPONSE")])
    alert = compose_team_alerts(frame, WITNESS_CARE_TEAMS, no_log(), AS_OF, wording=rule_wording(changed))[0]
    assert "Ring the victim back within 5 working days of the arrest" in alert.text
    assert "- Ring the victim back: 1 new breach, 0 due soon" in alert.text


def test_the_packaged_wording_is_each_rules_alert_sentence_and_trigger():
    wording = rule_wording(load_rulesets())
    for ruleset in load_rulesets().sets:
        for rule in ruleset.rules:
            row = wording[(wording["rule_set"] == ruleset.name) & (wording["rule"] == rule.name)]
            assert set(row["action"]) == {rule.alert_sentence} and set(row["trigger"]) == {rule.alert_trigger}


def test_an_agreed_update_reads_with_the_interval_agreed_with_the_victim():
    items = pd.DataFrame({
        "rule": ["agreed_update", "agreed_update"], "rule_set": ["vcop-2020"] * 2, "enhanced": [False, True],
        "trigger_at": pd.to_datetime(["2026-03-03T09:00:00Z", "2026-03-20T09:00:00Z"], utc=True),
        # due dates 17 March (14 days after the local 3 March) and 27 March (7 days)
        "due_at": pd.to_datetime(["2026-03-18T00:00:00Z", "2026-03-28T00:00:00Z"], utc=True),
        "trigger_event_type": ["CONTACT_AGREED", "VICTIM_UPDATE"],
    })
    assert rule_descriptions(items, rule_wording(load_rulesets())).tolist() == [
        "Update the victim as often as agreed with them within 14 calendar days of the agreement",
        "Update the victim as often as agreed with them within 7 calendar days of the last update",
    ]


def _store_events(engine, events: pd.DataFrame) -> None:
    from vcpipeline.warehouse.load import start_batch, upsert_events

    with engine.begin() as conn:
        batch = start_batch(conn, "victim_contact", datetime(2026, 4, 1, 1, tzinfo=UTC),
                            datetime(2026, 4, 2, 1, tzinfo=UTC))
        upsert_events(conn, events.assign(
            occurred_at=pd.to_datetime(events["occurred_at"], utc=True),
            victim_id=events["victim_id"].replace("", None),
            source_system="victim_contact", source_row_id=events["event_id"],
            extracted_at=pd.Timestamp("2026-04-02T00:30:00Z")), batch)


def test_the_agreed_method_is_read_from_the_warehouses_events(engine):
    frame = pd.DataFrame([_owned("CR-7401", "FORCE_RESPONSE"), _owned("CR-7402", "FORCE_RESPONSE")])
    frame["trigger_event_type"] = "SUSPECT_ARRESTED"
    store_night(engine, frame.drop(columns=["owner", "witness_care_team"]))
    events = _events(
        ("AG-1", "CR-7401", "", "CONTACT_AGREED", "2026-03-17T10:00:00Z", "phone"),
        ("AG-2", "CR-7401", "", "CONTACT_AGREED", "2026-04-02T09:00:00Z", "email"),  # after the night
        ("AG-3", "CR-7402", "", "CONTACT_AGREED", "2026-03-17T10:00:00Z", "letter"),
    )
    _store_events(engine, events)
    with engine.connect() as conn:
        found = read_agreed_contacts(conn, frame.loc[:, ["crime_ref", "victim_id"]], AS_OF)
    assert found.set_index("crime_ref")["agreed_channel"].to_dict() == {"CR-7401": "phone", "CR-7402": "letter"}


@pytest.mark.skipif("owner" not in obligations_table.c or "witness_care_team" not in crimes_table.c,
                    reason="the warehouse schema has no obligations.owner / crimes.witness_care_team yet")
def test_vcp_alerts_sends_witness_care_items_to_the_court_areas_team_with_the_agreed_method(
        engine, migrated_warehouse, tmp_path):
    from vcpipeline.cli import main
    from vcpipeline.orchestration.mailsink import read_message

    frame = pd.DataFrame([_owned("CR-7501", "FORCE_RESPONSE", "WCU-BHM"),
                          _owned("CR-7502", "WITNESS_CARE", "WCU-BHM"),
                          _owned("CR-7503", "WITNESS_CARE", "")])
    frame["trigger_event_type"] = "SUSPECT_CHARGED"
    store_night(engine, frame)
    _store_events(engine, _events(("AG-1", "CR-7502", "V1", "CONTACT_AGREED", "2026-03-17T10:00:00Z", "phone")))
    teams = tmp_path / "teams.csv"
    WITNESS_CARE_TEAMS.to_csv(teams, index=False)
    out = tmp_path / "mail"
    assert main(["alerts", "--url", migrated_warehouse, "--as-of", "2026-04-02T02:00:00", "--dry-run",
                 "--out", str(out), "--teams", str(teams)]) == 0
    assert sorted(path.name for path in out.glob("*.eml")) == [
        "RESP-B3_2026-04-02.eml", "WCU-BHM_2026-04-02.eml", "WITNESS_CARE_no-team_2026-04-02.eml"]
    body = read_message(out / "WCU-BHM_2026-04-02.eml").get_body(("plain",)).get_content()
    assert "- CR-7502, victim V1 (agreed: phone): Update the victim within 5 working days of a charge." in body
    assert "CR-7501" not in body and "CR-7503" not in body
