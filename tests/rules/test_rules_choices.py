"""The victim's choices (RULES.md v2): WAIVED by an opt-out, the owner after charge, and how an
obligation was met (met_channel, channel_as_agreed).

The default crime is reported on Monday 2 March 2026 at 09:30 GMT (department IIT).
"""

from __future__ import annotations

import pandas as pd


def arrest(vc, at: str = "2026-03-04T10:00:00Z", **fields: str) -> dict:
    return vc.event("A", "SUSPECT_ARRESTED", at, **fields)  # update due by Wed 11 March


def choice(vc, event_id: str, kind: str, at: str, victim_id: str = "V1") -> dict:
    return vc.event(event_id, kind, at, victim_id=victim_id)


def update_row(vc, events, **where: str):
    return vc.one(vc.obligations(events=events), rule="investigation_update", **where)


# ------------------------------------------------------------------------------------ WAIVED

def test_opted_out_between_trigger_and_due_waives_even_if_opted_back_in(vc) -> None:
    row = update_row(vc, [arrest(vc), choice(vc, "O", "OPTED_OUT", "2026-03-05T10:00:00Z"),
                          choice(vc, "I", "OPTED_IN", "2026-03-06T10:00:00Z")])
    assert row["status"] == "WAIVED"


def test_opted_out_at_the_trigger_itself_waives(vc) -> None:
    row = update_row(vc, [choice(vc, "O", "OPTED_OUT", "2026-03-03T10:00:00Z"), arrest(vc)])
    assert row["status"] == "WAIVED"
    row = update_row(vc, [choice(vc, "O", "OPTED_OUT", "2026-03-04T10:00:00Z"), arrest(vc)])
    assert row["status"] == "WAIVED"


def test_met_before_the_opt_out_is_not_waived_but_met_after_it_is_and_keeps_met_at(vc) -> None:
    met_first = [arrest(vc), vc.event("U", "VICTIM_UPDATE", "2026-03-05T09:00:00Z", victim_id="V1"),
                 choice(vc, "O", "OPTED_OUT", "2026-03-05T10:00:00Z")]
    assert update_row(vc, met_first)["status"] == "MET"
    opted_first = [arrest(vc), choice(vc, "O", "OPTED_OUT", "2026-03-05T10:00:00Z"),
                   vc.event("U", "VICTIM_UPDATE", "2026-03-06T09:00:00Z", victim_id="V1")]
    row = update_row(vc, opted_first)
    assert row["status"] == "WAIVED"
    assert vc.utc([row["met_at"]]) == ["2026-03-06T09:00:00Z"]


def test_met_at_the_instant_of_the_opt_out_is_waived(vc) -> None:
    row = update_row(vc, [arrest(vc), choice(vc, "O", "OPTED_OUT", "2026-03-05T10:00:00Z"),
                          vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z", victim_id="V1")])
    assert row["status"] == "WAIVED"  # met_at < w fails at the same instant


def test_an_opt_out_on_or_after_the_due_instant_or_opted_back_in_before_the_trigger_waives_nothing(vc) -> None:
    assert update_row(vc, [arrest(vc), choice(vc, "O", "OPTED_OUT", "2026-03-12T00:00:00Z")])["status"] == "BREACHED"
    assert update_row(vc, [choice(vc, "O", "OPTED_OUT", "2026-03-03T10:00:00Z"),
                           choice(vc, "I", "OPTED_IN", "2026-03-03T11:00:00Z"), arrest(vc)])["status"] == "BREACHED"


def test_an_opt_out_and_an_opt_in_at_one_instant_are_settled_by_event_id(vc) -> None:
    out_last = [arrest(vc), choice(vc, "C1", "OPTED_IN", "2026-03-05T10:00:00Z"),
                choice(vc, "C2", "OPTED_OUT", "2026-03-05T10:00:00Z")]
    assert update_row(vc, out_last)["status"] == "WAIVED"
    in_last = [arrest(vc), choice(vc, "C2", "OPTED_IN", "2026-03-05T10:00:00Z"),
               choice(vc, "C1", "OPTED_OUT", "2026-03-05T10:00:00Z")]
    assert update_row(vc, in_last)["status"] == "BREACHED"


def test_an_opt_out_waives_nothing_after_the_as_of_instant_nor_for_another_victim(vc) -> None:
    found = vc.obligations(victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
                           events=[arrest(vc), choice(vc, "O", "OPTED_OUT", "2026-03-05T10:00:00Z", "V2")],
                           as_of="2026-03-20T12:00:00Z")
    updates = found[found["rule"] == "investigation_update"]
    assert list(zip(updates["victim_id"], updates["status"], strict=True)) == [("V1", "BREACHED"), ("V2", "WAIVED")]


def test_acknowledgement_and_needs_referral_are_never_waived(vc) -> None:
    found = vc.obligations(events=[choice(vc, "O", "OPTED_OUT", "2026-03-02T09:30:00Z")])
    assert set(found["status"]) == {"BREACHED"}


def test_an_opt_in_without_an_opt_out_has_no_effect(vc) -> None:
    assert update_row(vc, [choice(vc, "I", "OPTED_IN", "2026-03-03T10:00:00Z"), arrest(vc)])["status"] == "BREACHED"


# ------------------------------------------------------------------------------------- owner

def test_obligations_triggered_at_or_after_the_victims_first_charge_belong_to_witness_care(vc) -> None:
    found = vc.obligations(events=[
        arrest(vc),
        vc.event("C", "SUSPECT_CHARGED", "2026-03-06T10:00:00Z"),
        vc.event("B", "SUSPECT_BAILED", "2026-03-09T10:00:00Z"),
    ])
    owners = {(r.rule, r.trigger_event_id if isinstance(r.trigger_event_id, str) else ""): r.owner
              for r in found.itertuples()}
    assert owners == {
        ("acknowledgement", ""): "IIT", ("needs_referral", ""): "IIT",
        ("investigation_update", "A"): "IIT",
        ("investigation_update", "C"): "WITNESS_CARE",  # at the charge itself
        ("investigation_update", "B"): "WITNESS_CARE",
        ("vps_offer", "C"): "WITNESS_CARE",
    }
    assert set(found["department"]) == {"IIT"}  # the dip sample's stratum stays the crime's


def test_a_charge_naming_only_another_victim_neither_hands_over_nor_triggers_a_vps_offer(vc) -> None:
    found = vc.obligations(victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
                           events=[vc.event("C", "SUSPECT_CHARGED", "2026-03-04T10:00:00Z", victim_id="V2"),
                                   vc.event("B", "SUSPECT_BAILED", "2026-03-05T10:00:00Z")])
    bail = found[found["trigger_event_id"] == "B"].set_index("victim_id")["owner"]
    assert bail.to_dict() == {"V1": "IIT", "V2": "WITNESS_CARE"}
    offers = found[found["rule"] == "vps_offer"]
    assert list(offers["victim_id"]) == ["V2"]


# -------------------------------------------------------------------------------- channels

def test_met_channel_is_the_meeting_events_channel_trimmed_and_lower_cased(vc) -> None:
    row = update_row(vc, [arrest(vc), vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z",
                                               victim_id="V1", channel="  Phone ")])
    assert row["met_channel"] == "phone"
    assert row["channel_as_agreed"] is pd.NA  # no agreement in force


def test_channel_as_agreed_compares_with_the_agreement_in_force_at_met_at(vc) -> None:
    def as_agreed(update_channel: str, agreed_channel: str = "phone", agreed_at: str = "2026-03-03T10:00:00Z"):
        row = update_row(vc, [
            vc.event("K", "CONTACT_AGREED", agreed_at, victim_id="V1", channel=agreed_channel),
            arrest(vc), vc.event("U", "VICTIM_UPDATE", "2026-03-05T10:00:00Z", victim_id="V1",
                                 channel=update_channel)])
        value = row["channel_as_agreed"]
        return None if value is pd.NA else bool(value)

    assert as_agreed("PHONE") is True
    assert as_agreed("email") is False
    assert as_agreed("") is False          # an empty met_channel is not the agreed one
    assert as_agreed("email", agreed_channel="") is None  # agreed, but no method
    assert as_agreed("email", agreed_at="2026-03-05T10:00:00Z") is False  # in force at the same instant
    assert as_agreed("email", agreed_at="2026-03-05T10:00:01Z") is None   # agreed after met_at


def test_channel_as_agreed_is_empty_for_rules_that_do_not_inform_and_for_unmet_obligations(vc) -> None:
    found = vc.obligations(events=[
        vc.event("K", "CONTACT_AGREED", "2026-03-02T10:00:00Z", victim_id="V1", channel="phone"),
        vc.event("W", "WRITTEN_ACKNOWLEDGEMENT", "2026-03-03T10:00:00Z", channel="letter"),
        arrest(vc)])
    ack = vc.one(found, rule="acknowledgement")
    assert ack["met_channel"] == "letter"
    assert ack["channel_as_agreed"] is pd.NA
    unmet = vc.one(found, rule="investigation_update")
    assert pd.isna(unmet["met_channel"])
    assert unmet["channel_as_agreed"] is pd.NA


def test_needs_referral_in_need_takes_the_referrals_channel_at_the_same_instant(vc) -> None:
    row = vc.one(vc.obligations(events=[
        vc.event("N", "NEEDS_ASSESSMENT", "2026-03-03T10:00:00Z", victim_id="V1", in_need="true", channel="visit"),
        vc.event("R", "SUPPORT_REFERRAL", "2026-03-03T10:00:00Z", victim_id="V1", channel="phone")]),
        rule="needs_referral")
    assert row["met_channel"] == "phone"
