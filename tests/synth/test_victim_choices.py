"""The synthetic force's version 2: the victim's choices at realistic shares, post-charge contacts
from witness care, court areas for witness care routing, and deadlines read from the rule-set file."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from vcpipeline.rules.ruleset import load_rulesets
from vcpipeline.synth.summary import canonical_rows, force_figures, measured_rates
from vcpipeline.synth.timing import RuleDeadlines, due


@pytest.fixture(scope="module")
def canonical(small_force, force_configs):
    return canonical_rows(small_force.native, force_configs)


@pytest.fixture(scope="module")
def rates(canonical, small_force):
    return measured_rates(canonical, small_force.spec.extracted_at)


def test_most_victims_agree_a_plan_at_first_contact_weekly_if_enhanced(canonical):
    events, victims = canonical["events"], canonical["victims"]
    agreed = events[events["event_type"] == "CONTACT_AGREED"]
    first = agreed.drop_duplicates(["crime_ref", "victim_id"])
    assert len(first) / len(victims) == pytest.approx(0.85, abs=0.03)
    assert set(agreed["channel"]) <= {"letter", "email", "sms", "phone", "visit"}
    days = agreed["interval_days"][agreed["interval_days"].str.fullmatch(r"\d+")].astype(int)
    assert set(days) <= {0, 7, 14, 28}
    assert (days == 7).mean() > 0.2 and (days == 14).mean() > 0.2 and (days == 28).mean() > 0.1
    assert ((agreed["channel"] == "phone").mean()) == pytest.approx(0.38, abs=0.04)


def test_a_few_per_cent_opt_out_and_some_opt_back_in_with_a_new_plan(canonical):
    events, victims = canonical["events"], canonical["victims"]
    out = events[events["event_type"] == "OPTED_OUT"]
    back = events[events["event_type"] == "OPTED_IN"]
    assert len(out) / len(victims) == pytest.approx(0.04, abs=0.015)
    assert 0.15 < len(back) / len(out) < 0.5
    agreements = events[events["event_type"] == "CONTACT_AGREED"].groupby(["crime_ref", "victim_id"]).size()
    assert (agreements > 1).sum() >= 0.8 * len(back)   # a new plan after opting back in


def test_the_agreed_method_figure_is_visibly_below_100_and_some_obligations_are_waived(rates):
    figures = force_figures(rates)
    assert 80 <= figures["agreed method"] <= 90
    assert 0 < figures["waived"] < 5
    assert rates.loc[rates["rule"] == "acknowledgement", "waived"].sum() == 0   # not waivable


def test_periodic_updates_follow_the_agreed_interval_with_some_lateness(rates):
    periodic = rates[rates["rule"] == "agreed_update"]
    rate = periodic["met_on_time"].sum() / periodic["decided"].sum()
    assert 0.7 < rate < 0.95
    assert periodic["decided"].sum() > 1_000


def test_post_charge_contacts_come_from_witness_care(canonical, small_force):
    events = canonical["events"]
    wcu = events[events["source_system"] == "WCU"]
    assert {"VICTIM_UPDATE", "OUTCOME_COMMUNICATED"} <= set(wcu["event_type"])
    informing = wcu[wcu["event_type"].isin(["VICTIM_UPDATE", "OUTCOME_COMMUNICATED"])]
    assert (informing["channel"] != "").mean() > 0.99
    charged = events.loc[events["event_type"] == "SUSPECT_CHARGED"].groupby("crime_ref")["occurred_at"].min()
    updates = events[events["event_type"] == "VICTIM_UPDATE"].copy()
    updates["charged_at"] = updates["crime_ref"].map(charged)
    after = updates[updates["charged_at"].notna() & (updates["occurred_at"] >= updates["charged_at"])]
    assert (after["source_system"] == "WCU").mean() == pytest.approx(0.9, abs=0.04)
    # (a charge keyed in an unknown code is not a charge to the pipeline: those few look pre-charge)
    assert (updates[updates["charged_at"].isna()]["source_system"] == "VCL").mean() > 0.99


def test_rates_are_measured_by_owner_with_witness_care_owning_post_charge_obligations(rates):
    feedback = rates[rates["rule"] == "vps_feedback"].set_index("department")["obligations"]
    assert feedback["WITNESS_CARE"] / feedback.sum() > 0.95   # bar charges keyed in a bad code


def test_every_crime_has_a_court_area_mapped_to_a_witness_care_team_bar_a_few(small_force, force_configs):
    crimes = small_force.native["crime_recording"]["crimes"]
    areas = next(c for c in force_configs if c.name == "crime_recording").codes("court_area")
    known = crimes["court_area"].isin(list(areas))
    assert (crimes["court_area"].fillna("") == "").mean() == pytest.approx(0.01, abs=0.005)
    assert known.mean() > 0.98
    assert len(set(crimes.loc[known, "court_area"].map(areas))) == len(set(areas.values()))


def test_a_typed_interval_is_a_recorded_bad_row_that_validation_would_quarantine(small_force):
    contacts = small_force.native["victim_contact"]["contacts"]
    typed = contacts[contacts["update_interval"] == "2 weeks"]
    bad = small_force.bad_rows
    assert len(typed) > 0
    assert set(typed["contact_id"].astype(str)) == set(bad.loc[bad["kind"] == "bad_interval", "row_id"])
    assert (typed["contact_type"] == "AGREE").all()


def test_deadlines_and_the_cut_over_are_the_rule_set_files():
    rulesets = load_rulesets()
    deadlines = RuleDeadlines.of(rulesets)
    days = np.array(["2021-03-31", "2021-04-01", "2026-07-01"], dtype="datetime64[D]")
    assert deadlines.rule_set_of(days).tolist() == [0, 1, 1]
    assert [s.name for s in rulesets.sets] == ["vcop-2015", "vcop-2020"]
    trigger = np.array([pd.Timestamp("2026-04-02T10:00:00Z").value // 10**9])   # Thursday before Easter
    assert deadlines.due("investigation_update", trigger, np.array([1]), np.array([True])).tolist() == \
        due(trigger, 1, "working_days").tolist()
    # A force that changes the rule-set data changes the generator's deadlines and cut-over too.
    later = dataclasses.replace(rulesets, sets=(
        dataclasses.replace(rulesets.sets[0], reported_until=pd.Timestamp("2022-01-01").date()),
        dataclasses.replace(rulesets.sets[1], reported_from=pd.Timestamp("2022-01-01").date(), rules=tuple(
            dataclasses.replace(rule, deadline=3) if rule.name == "acknowledgement" else rule
            for rule in rulesets.sets[1].rules)),
    ))
    moved = RuleDeadlines.of(later)
    assert moved.rule_set_of(days).tolist() == [0, 0, 1]
    assert moved.days["acknowledgement"].tolist() == [5, 3]


def test_outcomes_that_oblige_a_notification_are_the_rule_set_files():
    deadlines = RuleDeadlines.of()
    codes = np.array([0, 1, 2, 18, 20, 21])
    assert deadlines.notified("outcome_notification", codes, np.ones(6, dtype=int)).tolist() == [
        False, False, True, True, False, True]
