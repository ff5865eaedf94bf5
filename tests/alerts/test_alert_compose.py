"""Composing the morning e-mails (pure): who gets what, what is new, and how it reads."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.messages import AT_RISK, BREACH
from vcpipeline.alerts.selection import allowed_columns, route_to_leads, routing_counts
from vcpipeline.alerts.wording import rule_descriptions, rule_wording, team_display_name
from vcpipeline.rules.ruleset import load_rulesets

from .conftest import AS_OF, NEXT_NIGHT, TEAMS, night_one, no_log, obligation


def _by_team(alerts):
    return {alert.message_key.split("/")[0]: alert for alert in alerts}


def _items(alerts) -> pd.DataFrame:
    """What the alert log would hold after these alerts were sent."""
    return pd.concat([no_log(), *(alert.items for alert in alerts)], ignore_index=True)


def _night_two() -> pd.DataFrame:
    """Friday 3 April: what was due on Thursday and still not done is now breached."""
    frame = night_one()
    overdue = (frame["status"] == "PENDING") & (frame["due_at"] <= NEXT_NIGHT)
    frame.loc[overdue, "status"] = "BREACHED"
    return frame


def test_subject_carries_new_breach_and_due_soon_counts_with_the_next_working_day():
    alerts = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))
    # Thursday 2 April 2026: Good Friday and Easter Monday make Tuesday 7 April the next working day.
    assert alerts["RESP-B3"].subject == "Victims Code: Force Response Team B3 — 3 new breaches, 1 met late, 7 due by Tue 7 Apr"
    assert alerts["RESP-A1"].subject == "Victims Code: Force Response Team A1 — 1 new breach, 1 due by Tue 7 Apr"


def test_one_message_per_team_with_news_addressed_to_its_lead_and_none_for_a_quiet_team():
    alerts = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF)
    assert [(a.message_key, a.recipient) for a in alerts] == [
        ("FORCE_RESPONSE:no-team/2026-04-02", "hugh.pickles@force.example"),
        ("RESP-A1/2026-04-02", "alison.kershaw@force.example"),
        ("RESP-B3/2026-04-02", "gwen.lomax@force.example"),
    ]  # PPU-C2 met everything on time: no e-mail


def test_every_line_names_crime_rule_in_plain_english_local_due_date_under_its_officer():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    line = next(line for line in alert.text.splitlines() if line.startswith("- CR-1001"))
    assert line == ("- CR-1001, victim V1: Update the victim within 5 working days of an arrest. "
                    "Due Wed 1 Apr 2026 (not yet done).")
    assert ("CR-1004, victim V1 [ENHANCED SERVICE]: Tell the victim the outcome of the case within "
            "1 working day") in alert.text
    assert "Officer 7781 (1):" in alert.text
    assert "met late" in alert.text  # CR-1003 was met, but after its due date


def test_at_risk_means_pending_and_due_today_or_by_the_next_working_day():
    items = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"].items
    at_risk = items[items["kind"] == AT_RISK]
    assert sorted(at_risk["crime_ref"]) == [f"CR-20{i:02d}" for i in range(7)]
    assert set(at_risk["risk_due_date"]) == {"2026-04-02", "2026-04-07"}
    assert "CR-3002" not in set(items["crime_ref"])  # due Wed 8 Apr: not yet


def test_breaches_older_than_the_lookback_are_not_news():
    items = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"].items
    assert sorted(items.loc[items["kind"] == BREACH, "crime_ref"]) == ["CR-1001", "CR-1002", "CR-1003", "CR-1004"]


def test_a_breach_is_alerted_once_across_nights():
    first = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF)
    second = compose_team_alerts(_night_two(), TEAMS, _items(first), NEXT_NIGHT)
    # Only what was at risk on Thursday and breached since is news on Friday.
    new = _items(second)
    assert sorted(new["crime_ref"]) == ["CR-2000", "CR-2001", "CR-2002", "CR-2003", "CR-5002"]
    assert set(new["kind"]) == {BREACH}
    third = compose_team_alerts(_night_two(), TEAMS, _items([*first, *second]), NEXT_NIGHT + pd.Timedelta(days=1))
    assert third == []


def test_an_at_risk_obligation_is_alerted_once_per_due_date():
    first = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF)
    # Friday: CR-2004 is still pending and due Tuesday, already alerted for that date.
    again = compose_team_alerts(_night_two(), TEAMS, _items(first), NEXT_NIGHT)
    assert "CR-2004" not in set(_items(again)["crime_ref"])
    # Its due date moves (say the victim turns out to be enhanced): a new date, a new alert.
    moved = night_one()
    moved.loc[moved["crime_ref"] == "CR-2004", "due_at"] = obligation(
        "CR-2004", "vps_offer", "PENDING", "2026-04-06")["due_at"]
    later = compose_team_alerts(moved, TEAMS, _items(first), NEXT_NIGHT)
    items = _items(later)
    assert items.loc[items["crime_ref"] == "CR-2004", "risk_due_date"].tolist() == ["2026-04-06"]


def test_the_same_night_composed_again_after_sending_has_nothing_to_say():
    first = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF)
    assert compose_team_alerts(night_one(), TEAMS, _items(first), AS_OF) == []


def test_a_crime_whose_team_is_unknown_goes_to_the_department_default_lead_and_is_counted():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["FORCE_RESPONSE:no-team"]
    assert alert.team == "" and alert.recipient == "hugh.pickles@force.example"
    assert sorted(alert.items["crime_ref"]) == ["CR-5001", "CR-5002"]  # blank team; RESP-Z9 not listed
    assert alert.unknown_team_crimes == 2
    assert "no team in the crime recording system" in alert.text
    routed = route_to_leads(allowed_columns(night_one()), TEAMS)
    assert routing_counts(routed) == {"team": 17, "default": 2, "none": 0}


def test_a_department_without_a_default_lead_is_counted_as_unrouted_not_mailed():
    frame = pd.DataFrame([obligation("CR-7001", "acknowledgement", "BREACHED", "2026-03-31",
                                     team="", department="VVA")])
    assert compose_team_alerts(frame, TEAMS, no_log(), AS_OF) == []
    assert routing_counts(route_to_leads(allowed_columns(frame), TEAMS))["none"] == 1


def test_all_clear_mails_every_listed_team_even_with_nothing_new():
    alerts = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF, all_clear=True))
    assert set(alerts) == {"RESP-A1", "RESP-B3", "FORCE_RESPONSE:no-team", "PPU-C2"}
    assert alerts["PPU-C2"].subject == "Victims Code: Public Protection Team C2 — all clear, nothing new due by Tue 7 Apr"
    assert alerts["PPU-C2"].items.empty


def test_compliance_rate_this_month_so_far_against_last_month():
    frame = pd.DataFrame([
        obligation("CR-1", "acknowledgement", "MET", "2026-03-10", met_at="2026-03-09T10:00:00Z"),
        obligation("CR-2", "acknowledgement", "MET", "2026-03-11", met_at="2026-03-09T10:00:00Z"),
        obligation("CR-3", "acknowledgement", "MET_LATE", "2026-03-12", met_at="2026-03-14T10:00:00Z"),
        obligation("CR-4", "acknowledgement", "BREACHED", "2026-03-31"),
        obligation("CR-5", "acknowledgement", "MET", "2026-04-01", met_at="2026-03-30T10:00:00Z"),
        obligation("CR-6", "acknowledgement", "PENDING", "2026-04-02"),  # not due yet: not counted
        obligation("CR-7", "acknowledgement", "MET", "2026-04-20", met_at="2026-03-30T10:00:00Z"),
    ])
    alert = compose_team_alerts(frame, TEAMS, no_log(), AS_OF)[0]
    assert "- April 2026 (so far): 100.0% (1 of 1 met on time)" in alert.text
    assert "- March 2026: 50.0% (2 of 4 met on time)" in alert.text


def test_counts_by_rule_cover_breaches_and_due_soon():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    assert "- Acknowledge the crime report in writing: 1 new breach, 4 due soon" in alert.text
    assert "- Update the victim: 1 new breach, 1 due soon" in alert.text


@pytest.mark.parametrize(("rule_set", "rule", "enhanced", "expected"), [
    ("vcop-2020", "needs_referral", False,
     "Assess the victim's needs and refer them to support if in need within 2 working days of the crime report"),
    ("vcop-2015", "needs_referral", False,
     "Assess the victim's needs and refer them to support if in need within 2 calendar days of the crime report"),
    ("vcop-2020", "investigation_update", True,
     "Update the victim within 1 working day of a development in the investigation"),
    ("vcop-2020", "vps_offer", True,
     "Offer the victim a Victim Personal Statement within 5 working days of the first charge"),
])
def test_rule_in_plain_english_takes_its_deadline_from_the_rule_set(rule_set, rule, enhanced, expected):
    items = pd.DataFrame({"rule": [rule], "rule_set": [rule_set], "enhanced": [enhanced]})
    assert rule_descriptions(items, rule_wording(load_rulesets())).tolist() == [expected]


def test_team_names_read_as_the_force_says_them():
    assert team_display_name("FORCE_RESPONSE", "RESP-B3") == "Force Response Team B3"
    assert team_display_name("PPU", "") == "Public Protection (crimes without a known team)"
    assert team_display_name("ROADS_POLICING", "RPU-1") == "Roads Policing Team 1"


def test_html_part_escapes_values_and_text_part_does_not():
    frame = night_one()
    frame.loc[0, "crime_ref"] = "CR-<b>&1"
    alert = _by_team(compose_team_alerts(frame, TEAMS, no_log(), AS_OF))["RESP-B3"]
    assert "CR-&lt;b&gt;&amp;1" in alert.html and "CR-<b>" not in alert.html
    assert "CR-<b>&1" in alert.text


def test_email_has_plain_text_and_html_parts_and_a_stable_message_id():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    message = alert.email()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Message-ID"] == alert.email()["Message-ID"] == "<RESP-B3.2026-04-02@victims-code.vcp>"


def test_columns_outside_the_allow_list_never_reach_a_message():
    planted = {
        "victim_name": "Priya Hussain", "victim_phone": "07123 456789",
        "address_line": "42 Soho Road", "postcode": "B21 9QT", "date_of_birth": "1987-06-05",
        "email": "priya.hussain@example.com", "notes": "Call Priya Hussain on 07123 456789",
    }
    frame = night_one().assign(**planted)
    alerts = compose_team_alerts(frame, TEAMS, no_log(), AS_OF, all_clear=True)
    assert alerts
    for alert in alerts:
        whole = alert.email().as_string() + alert.text + alert.html
        for value in planted.values():
            for fragment in (value, *value.split()):
                if len(fragment) > 3:
                    assert fragment not in whole, (alert.message_key, fragment)
    assert set(allowed_columns(frame).columns).isdisjoint(planted)


def test_missing_obligation_columns_are_a_clear_error():
    with pytest.raises(ValueError, match="officer_collar"):
        compose_team_alerts(night_one().drop(columns=["officer_collar"]), TEAMS, no_log(), AS_OF)


def test_team_rates_are_the_compliance_rate_of_obligations_whose_due_date_has_passed():
    """Met late and breached count as decided, pending never does; a month with nothing decided
    reads 'no obligations due'."""
    from vcpipeline.alerts.selection import compliance_rates

    night = pd.DataFrame([
        obligation("CR-1", "acknowledgement", "MET", "2026-04-01", met_at="2026-03-31T09:00:00Z"),
        obligation("CR-2", "acknowledgement", "MET_LATE", "2026-04-01", met_at="2026-04-01T23:30:00Z"),
        obligation("CR-3", "acknowledgement", "BREACHED", "2026-04-01"),
        obligation("CR-4", "acknowledgement", "PENDING", "2026-04-02"),
        obligation("CR-5", "acknowledgement", "MET", "2026-04-06", met_at="2026-04-01T09:00:00Z"),
    ])
    rates = compliance_rates(route_to_leads(allowed_columns(night), TEAMS), AS_OF)[("FORCE_RESPONSE", "RESP-B3")]
    assert (rates["this_met"], rates["this_due"]) == (1, 3)
    assert rates["this_rate"] == pytest.approx(1 / 3)
    assert (rates["last_due"], rates["last_met"]) == (0, 0) and rates["last_rate"] != rates["last_rate"]
    alert = compose_team_alerts(night, TEAMS, no_log(), AS_OF)[0]
    assert "April 2026 (so far): 33.3% (1 of 3 met on time)" in alert.text
    assert "March 2026: no obligations due" in alert.text


def test_a_rate_on_a_half_is_rounded_once_from_the_counts():
    """23 of 80 is exactly 28.75 %: printed as 28.8 %, as it always was (100 × 0.2875 as a float
    would print 28.7 %)."""
    from vcpipeline.alerts.wording import percent
    from vcpipeline.rules.summaries import compliance_rate

    assert percent(float(compliance_rate(23, 57, 0)), 23, 80) == "28.8% (23 of 80 met on time)"
    assert percent(float(compliance_rate(0, 0, 0)), 0, 0) == "no obligations due"
