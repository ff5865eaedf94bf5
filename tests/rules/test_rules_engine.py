"""Each Victims Code rule of RULES.md, with the edge cases that are easy to get wrong."""

from __future__ import annotations

import pandas as pd

from vcpipeline.rules.engine import RESULT_COLUMNS, at_risk, evaluate
from vcpipeline.rules.ruleset import load_rulesets

# Monday 2 March 2026, 09:30 GMT: the default crime's report.


def test_obligation_frame_has_contract_columns_typed(vc) -> None:
    found = vc.obligations()
    assert tuple(found.columns) == RESULT_COLUMNS
    for column in ("trigger_at", "due_at", "met_at"):
        assert str(found[column].dtype) == "datetime64[us, UTC]"
    assert found["enhanced"].dtype == bool
    assert set(found["department"]) == {"IIT"}


def test_crime_report_triggers_acknowledgement_and_needs_referral_without_event_id(vc) -> None:
    found = vc.obligations()
    assert list(found["rule"]) == ["acknowledgement", "needs_referral"]
    assert found["trigger_event_id"].isna().all()
    assert vc.utc(found["trigger_at"]) == ["2026-03-02T09:30:00Z"] * 2


def test_acknowledgement_is_five_working_days_even_for_enhanced_victims(vc) -> None:
    found = vc.obligations(victims=[vc.victim(age_at_report="12")])
    ack = vc.one(found, rule="acknowledgement")
    assert ack["enhanced"]
    assert vc.utc([ack["due_at"]]) == ["2026-03-10T00:00:00Z"]  # Mon 2 + 5 = Mon 9 March


def test_crime_level_event_applies_to_every_victim_and_victim_event_only_to_its_victim(vc) -> None:
    found = vc.obligations(
        victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
        events=[
            vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z"),
            vc.event("U1", "VICTIM_UPDATE", "2026-03-05T10:00:00Z", victim_id="V1"),
            vc.event("I2", "SUSPECT_INTERVIEWED", "2026-03-06T10:00:00Z", victim_id="V2"),
        ])
    updates = found[found["rule"] == "investigation_update"]
    assert [(r.victim_id, r.trigger_event_id, r.status) for r in updates.itertuples()] == [
        ("V1", "A", "MET"), ("V2", "A", "BREACHED"), ("V2", "I2", "BREACHED")]


def test_crime_level_update_meets_the_obligations_of_every_victim(vc) -> None:
    found = vc.obligations(
        victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
        events=[vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z"),
                vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z")])
    updates = found[found["rule"] == "investigation_update"]
    assert list(updates["status"]) == ["MET", "MET"]


def test_one_update_meets_every_open_update_obligation_triggered_at_or_before_it(vc) -> None:
    found = vc.obligations(events=[
        vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z", victim_id="V1"),
        vc.event("B", "SUSPECT_BAILED", "2026-03-05T10:00:00Z", victim_id="V1"),
        vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z", victim_id="V1"),  # same instant as B
        vc.event("I", "SUSPECT_INTERVIEWED", "2026-03-06T10:00:00Z", victim_id="V1"),
    ])
    updates = found[found["rule"] == "investigation_update"].set_index("trigger_event_id")
    assert updates.loc["A", "status"] == "MET"
    assert updates.loc["B", "status"] == "MET"
    assert vc.utc(updates["met_at"]) == ["2026-03-05T10:00:00Z", "2026-03-05T10:00:00Z", None]
    assert updates.loc["I", "status"] == "BREACHED"


def test_update_before_the_trigger_does_not_meet_it(vc) -> None:
    found = vc.obligations(events=[
        vc.event("U", "VICTIM_UPDATE", "2026-03-04T09:59:59Z", victim_id="V1"),
        vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z", victim_id="V1")])
    assert vc.one(found, rule="investigation_update")["status"] == "BREACHED"


def test_rui_triggers_an_update_under_the_2020_code_only(vc) -> None:
    rui = "SUSPECT_RELEASED_UNDER_INVESTIGATION"
    found_2020 = vc.obligations(
        crimes=[vc.crime(reported_at="2021-03-31T23:30:00Z")],  # 00:30 BST on 1 April: 2020 Code
        events=[vc.event("R", rui, "2021-04-06T10:00:00Z")], as_of="2021-05-01T00:00:00Z")
    found_2015 = vc.obligations(
        crimes=[vc.crime(reported_at="2021-03-31T22:30:00Z")],  # 23:30 BST on 31 March: 2015 Code
        events=[vc.event("R", rui, "2021-04-06T10:00:00Z")], as_of="2021-05-01T00:00:00Z")
    assert set(found_2020["rule_set"]) == {"vcop-2020"}
    assert set(found_2015["rule_set"]) == {"vcop-2015"}
    assert "investigation_update" in set(found_2020["rule"])
    assert "investigation_update" not in set(found_2015["rule"])


def test_needs_referral_is_two_calendar_days_in_2015_and_two_working_days_in_2020(vc) -> None:
    friday_2020 = vc.one(vc.obligations(crimes=[vc.crime(reported_at="2020-03-06T16:00:00Z")],
                                        as_of="2020-04-01T00:00:00Z"), rule="needs_referral")
    friday_2026 = vc.one(vc.obligations(crimes=[vc.crime(reported_at="2026-03-06T16:00:00Z")]),
                         rule="needs_referral")
    assert vc.utc([friday_2020["due_at"]]) == ["2020-03-09T00:00:00Z"]  # Sunday 8 March ends
    assert vc.utc([friday_2026["due_at"]]) == ["2026-03-11T00:00:00Z"]  # Tuesday 10 March ends


def test_needs_referral_not_in_need_is_met_by_the_assessment(vc) -> None:
    found = vc.obligations(events=[
        vc.event("N", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="false")])
    row = vc.one(found, rule="needs_referral")
    assert (row["status"], vc.utc([row["met_at"]])) == ("MET", ["2026-03-03T10:00:00Z"])


def test_needs_referral_in_need_is_met_by_the_later_referral(vc) -> None:
    found = vc.obligations(events=[
        vc.event("N", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="true"),
        vc.event("R", "REFERRAL_DECLINED", "2026-03-04T10:00:00Z", victim_id="V1")])
    row = vc.one(found, rule="needs_referral")
    assert (row["status"], vc.utc([row["met_at"]])) == ("MET", ["2026-03-04T10:00:00Z"])


def test_needs_referral_in_need_with_referral_before_assessment_is_met_at_the_assessment(vc) -> None:
    found = vc.obligations(events=[
        vc.event("R", "SUPPORT_REFERRAL", "2026-03-02T12:00:00Z", victim_id="V1"),
        vc.event("N", "NEEDS_ASSESSMENT", "2026-03-04T10:00:00Z", victim_id="V1", in_need="true")])
    row = vc.one(found, rule="needs_referral")
    assert (row["status"], vc.utc([row["met_at"]])) == ("MET", ["2026-03-04T10:00:00Z"])


def test_needs_referral_in_need_without_referral_is_not_met(vc) -> None:
    found = vc.obligations(events=[
        vc.event("N", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="true")],
        as_of="2026-03-04T12:00:00Z")
    row = vc.one(found, rule="needs_referral")
    assert row["status"] == "PENDING" and pd.isna(row["met_at"])


def test_needs_referral_uses_the_first_assessment_only(vc) -> None:
    found = vc.obligations(events=[
        vc.event("N1", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="true"),
        vc.event("N2", "NEEDS_ASSESSMENT", "2026-03-03T11:00:00Z", victim_id="V1", in_need="false")])
    assert vc.one(found, rule="needs_referral")["status"] == "BREACHED"


def test_vps_offer_is_triggered_by_the_first_charge_only(vc) -> None:
    found = vc.obligations(events=[
        vc.event("C2", "SUSPECT_CHARGED", "2026-03-10T10:00:00Z"),
        vc.event("C1", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z")])
    row = vc.one(found, rule="vps_offer")
    assert row["trigger_event_id"] == "C1"
    assert vc.utc([row["due_at"]]) == ["2026-03-17T00:00:00Z"]


def test_vps_offer_first_charge_applies_per_victim(vc) -> None:
    found = vc.obligations(
        victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
        events=[vc.event("C1", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z", victim_id="V2"),
                vc.event("C2", "SUSPECT_CHARGED", "2026-03-10T10:00:00Z")])
    offers = found[found["rule"] == "vps_offer"]
    assert [(r.victim_id, r.trigger_event_id) for r in offers.itertuples()] == [("V1", "C2"), ("V2", "C1")]


def test_simultaneous_first_charges_keep_the_smaller_event_id(vc) -> None:
    found = vc.obligations(events=[
        vc.event("C9", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z"),
        vc.event("C10", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z")])
    assert vc.one(found, rule="vps_offer")["trigger_event_id"] == "C10"  # byte order: "C1" < "C9"


def test_vps_offer_is_met_by_an_offer_before_the_charge(vc) -> None:
    found = vc.obligations(events=[
        vc.event("O", "VPS_TAKEN", "2026-03-03T10:00:00Z", victim_id="V1"),
        vc.event("C", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z")])
    row = vc.one(found, rule="vps_offer")
    assert (row["status"], vc.utc([row["met_at"]])) == ("MET", ["2026-03-03T10:00:00Z"])


def test_vps_offer_after_the_deadline_is_met_late(vc) -> None:
    found = vc.obligations(events=[
        vc.event("C", "SUSPECT_CHARGED", "2026-03-09T10:00:00Z"),
        vc.event("O", "VPS_DECLINED", "2026-03-20T10:00:00Z", victim_id="V1")])
    assert vc.one(found, rule="vps_offer")["status"] == "MET_LATE"


def test_outcome_codes_1_20_and_0_do_not_trigger_outcome_notification(vc) -> None:
    found = vc.obligations(events=[
        vc.event(f"F{code}", "CRIME_FINALISED", "2026-03-09T10:00:00Z", outcome_code=str(code))
        for code in (0, 1, 2, 19, 20, 21, 22)])
    notified = found[found["rule"] == "outcome_notification"]
    assert sorted(notified["trigger_event_id"]) == ["F19", "F2", "F21", "F22"]


def test_court_outcomes_that_end_the_case_trigger_outcome_notification(vc) -> None:
    found = vc.obligations(events=[
        vc.event(result, "COURT_OUTCOME", "2026-03-09T10:00:00Z", court_result=result)
        for result in ("SENTENCED", "ACQUITTED", "DISCONTINUED", "ADJOURNED", "REMANDED")])
    notified = found[found["rule"] == "outcome_notification"]
    assert sorted(notified["trigger_event_id"]) == ["ACQUITTED", "DISCONTINUED", "SENTENCED"]


def test_outcome_notification_is_one_working_day_when_enhanced(vc) -> None:
    found = vc.obligations(
        crimes=[vc.crime(hate_crime="true")],
        events=[vc.event("F", "CRIME_FINALISED", "2026-03-06T10:00:00Z", outcome_code="16"),
                vc.event("O", "OUTCOME_COMMUNICATED", "2026-03-09T18:00:00Z", victim_id="V1")])
    row = vc.one(found, rule="outcome_notification")
    assert vc.utc([row["due_at"]]) == ["2026-03-10T00:00:00Z"]  # Friday + 1 = Monday
    assert row["status"] == "MET"


def test_vps_feedback_is_triggered_by_vps_used_and_met_by_communication(vc) -> None:
    found = vc.obligations(events=[
        vc.event("U", "VPS_USED", "2026-03-09T10:00:00Z"),
        vc.event("C", "VPS_USE_COMMUNICATED", "2026-03-19T10:00:00Z", victim_id="V1")])
    row = vc.one(found, rule="vps_feedback")
    assert (row["status"], vc.utc([row["due_at"]])) == ("MET_LATE", ["2026-03-17T00:00:00Z"])


def test_enhanced_victims_by_age_flags_offence_and_crime_flags(vc) -> None:
    cases = {
        "child": ({}, {"age_at_report": "17"}),
        "adult": ({}, {"age_at_report": "18"}),
        "unknown age": ({}, {"age_at_report": ""}),
        "vulnerable": ({}, {"vulnerable": "true"}),
        "intimidated": ({}, {"intimidated": "yes"}),
        "persistently targeted": ({}, {"persistently_targeted": "1"}),
        "sexual offence": ({"offence_category": "sexual_offence"}, {}),
        "domestic abuse": ({"domestic_abuse": "true"}, {}),
    }
    enhanced = {
        name: bool(vc.obligations(crimes=[vc.crime(**c)], victims=[vc.victim(**v)])["enhanced"].all())
        for name, (c, v) in cases.items()
    }
    assert enhanced == {"child": True, "adult": False, "unknown age": False, "vulnerable": True,
                        "intimidated": True, "persistently targeted": True, "sexual offence": True,
                        "domestic abuse": True}


def test_due_at_is_local_midnight_in_bst_and_gmt(vc) -> None:
    found = vc.obligations(events=[
        vc.event("W", "SUSPECT_ARRESTED", "2026-02-02T10:00:00Z"),   # GMT
        vc.event("S", "SUSPECT_ARRESTED", "2026-03-27T10:00:00Z"),   # due across Easter, in BST
    ], crimes=[vc.crime(reported_at="2026-02-01T10:00:00Z")], as_of="2026-04-30T00:00:00Z")
    updates = found[found["rule"] == "investigation_update"].set_index("trigger_event_id")
    assert vc.utc(updates.loc[["W", "S"], "due_at"]) == ["2026-02-10T00:00:00Z", "2026-04-07T23:00:00Z"]


def test_event_late_in_the_evening_utc_counts_on_the_next_local_day(vc) -> None:
    found = vc.obligations(events=[vc.event("A", "SUSPECT_ARRESTED", "2026-06-04T23:30:00Z")],
                           as_of="2026-07-01T00:00:00Z")  # Friday 5 June locally
    row = vc.one(found, rule="investigation_update")
    assert vc.utc([row["due_at"]]) == ["2026-06-12T23:00:00Z"]  # Friday 12 June ends


def test_met_exactly_at_due_at_is_met_late(vc) -> None:
    found = vc.obligations(events=[
        vc.event("W", "WRITTEN_ACKNOWLEDGEMENT", "2026-03-10T00:00:00Z", victim_id="V1")])
    assert vc.one(found, rule="acknowledgement")["status"] == "MET_LATE"


def test_pending_until_due_at_then_breached(vc) -> None:
    before = vc.obligations(as_of="2026-03-09T23:59:59Z")
    at = vc.obligations(as_of="2026-03-10T00:00:00Z")
    assert vc.one(before, rule="acknowledgement")["status"] == "PENDING"
    assert vc.one(at, rule="acknowledgement")["status"] == "BREACHED"


def test_events_after_as_of_do_not_exist(vc) -> None:
    ready = vc.prepared(events=[
        vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z"),
        vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z", victim_id="V1")],
        as_of="2026-03-31T00:00:00Z")
    early = vc.instant("2026-03-05T09:59:59Z")
    found = evaluate(ready.crimes, ready.victims, ready.events, early, load_rulesets())
    row = vc.one(found, rule="investigation_update")
    assert row["status"] == "PENDING" and pd.isna(row["met_at"])
    exactly = evaluate(ready.crimes, ready.victims, ready.events, vc.instant("2026-03-05T10:00:00Z"),
                       load_rulesets())
    assert vc.one(exactly, rule="investigation_update")["status"] == "MET"


def test_obligations_triggered_after_as_of_do_not_exist(vc) -> None:
    ready = vc.prepared(events=[vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00Z")])
    found = evaluate(ready.crimes, ready.victims, ready.events, vc.instant("2026-03-04T09:00:00Z"),
                     load_rulesets())
    assert list(found["rule"]) == ["acknowledgement", "needs_referral"]
    none_yet = evaluate(ready.crimes, ready.victims, ready.events, vc.instant("2026-03-01T00:00:00Z"),
                        load_rulesets())
    assert none_yet.empty


def test_evaluating_a_subset_of_crimes_gives_their_rows_of_the_full_evaluation(vc) -> None:
    crimes = [vc.crime(crime_ref=r, reported_at=f"2026-03-0{i}T10:00:00Z") for i, r in enumerate("ABC", 2)]
    victims = [vc.victim(crime_ref=r, victim_id=v) for r in "ABC" for v in ("V1", "V2")]
    events = [vc.event(f"{r}{i}", t, f"2026-03-1{i}T10:00:00Z", crime_ref=r)
              for r in "ABC" for i, t in enumerate(["SUSPECT_CHARGED", "VICTIM_UPDATE", "VPS_USED"])]
    ready = vc.prepared(crimes, victims, events)
    rulesets, as_of = load_rulesets(), vc.instant("2026-03-31T12:00:00Z")
    full = evaluate(ready.crimes, ready.victims, ready.events, as_of, rulesets)
    only_b = evaluate(ready.crimes[ready.crimes["crime_ref"] == "B"], ready.victims, ready.events,
                      as_of, rulesets)
    expected = full[full["crime_ref"] == "B"]
    key = ["victim_id", "rule", "trigger_at"]
    pd.testing.assert_frame_equal(only_b.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))


def test_at_risk_is_pending_and_due_today_or_by_the_next_working_day(vc) -> None:
    # As of Friday 6 March: acknowledgement due Monday 9 (next working day), needs_referral
    # (2 working days) was due Wednesday 4: BREACHED, so not at risk.
    found = vc.obligations(as_of="2026-03-06T12:00:00Z")
    flags = dict(zip(found["rule"], at_risk(found, vc.instant("2026-03-06T12:00:00Z")), strict=True))
    assert flags == {"acknowledgement": True, "needs_referral": False}
    earlier = vc.obligations(as_of="2026-03-05T12:00:00Z")  # Thursday: due Monday is two days on
    assert not at_risk(earlier, vc.instant("2026-03-05T12:00:00Z")).any()


def test_a_force_can_tighten_a_deadline_in_its_rule_set_file(vc, tmp_path) -> None:
    from vcpipeline.rules.ruleset import DEFAULT_RULESETS

    text = DEFAULT_RULESETS.read_text()
    tightened = text.replace(
        '[rulesets."vcop-2020".rules.acknowledgement]\nkind = "first_event"\ntrigger = "crime_report"\n'
        'met_by = ["WRITTEN_ACKNOWLEDGEMENT"]\ndeadline = 5\nenhanced_deadline = 5',
        '[rulesets."vcop-2020".rules.acknowledgement]\nkind = "first_event"\ntrigger = "crime_report"\n'
        'met_by = ["WRITTEN_ACKNOWLEDGEMENT"]\ndeadline = 1\nenhanced_deadline = 1')
    assert tightened != text
    path = tmp_path / "force.toml"
    path.write_text(tightened)
    row = vc.one(vc.obligations(rulesets=path), rule="acknowledgement")
    assert vc.utc([row["due_at"]]) == ["2026-03-04T00:00:00Z"]


def test_sub_second_times_are_ordered_exactly(vc) -> None:
    found = vc.obligations(events=[
        vc.event("A", "SUSPECT_ARRESTED", "2026-03-04T10:00:00.500Z", victim_id="V1"),
        vc.event("U1", "VICTIM_UPDATE", "2026-03-04T10:00:00.250Z", victim_id="V1"),
        vc.event("B", "SUSPECT_BAILED", "2026-03-05T10:00:00.250Z", victim_id="V1"),
        vc.event("U2", "VICTIM_UPDATE", "2026-03-05T10:00:00.750Z", victim_id="V1"),
    ])
    updates = found[found["rule"] == "investigation_update"].set_index("trigger_event_id")
    assert updates.loc["A", "met_at"] == vc.instant("2026-03-05T10:00:00.750Z")
    assert updates.loc["B", "met_at"] == vc.instant("2026-03-05T10:00:00.750Z")


def test_simultaneous_assessments_count_the_first_by_event_id(vc) -> None:
    # v2: of simultaneous events the first is the smaller event_id (byte order), whatever they say.
    rows = [vc.event("N1", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="false"),
            vc.event("N2", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="true")]
    for events in (rows, rows[::-1]):
        assert vc.one(vc.obligations(events=events), rule="needs_referral")["status"] == "MET"
    renamed = [{**rows[0], "event_id": "N3"}, rows[1]]  # now the one finding need is first
    for events in (renamed, renamed[::-1]):
        assert vc.one(vc.obligations(events=events), rule="needs_referral")["status"] == "BREACHED"
