"""The periodic rule `agreed_update` (RULES.md v2), one test per clause.

The default crime is reported on Monday 2 March 2026 at 09:30 GMT; as of 31 March, noon.
"""

from __future__ import annotations

import pandas as pd


def agreed(vc, event_id: str, at: str, days: str = "7", channel: str = "phone", **fields: str) -> dict:
    return vc.event(event_id, "CONTACT_AGREED", at, victim_id="V1", channel=channel, interval_days=days, **fields)


def update(vc, event_id: str, at: str, channel: str = "phone", **fields: str) -> dict:
    return vc.event(event_id, "VICTIM_UPDATE", at, victim_id="V1", channel=channel, **fields)


def agreed_updates(vc, events, as_of: str = "2026-03-31T12:00:00Z") -> pd.DataFrame:
    found = vc.obligations(events=events, as_of=as_of)
    return found[found["rule"] == "agreed_update"].reset_index(drop=True)


def rows(found: pd.DataFrame) -> list[tuple]:
    return [(r.trigger_event_id, r.status) for r in found.itertuples()]


def test_an_agreement_with_an_interval_is_due_that_many_calendar_days_after_its_local_date(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z", days="14"),
                                update(vc, "U", "2026-03-10T10:00:00Z")])
    first = vc.one(found, trigger_event_id="A")
    assert vc.utc([first["trigger_at"], first["due_at"], first["met_at"]]) == [
        "2026-03-03T10:00:00Z", "2026-03-18T00:00:00Z", "2026-03-10T10:00:00Z"]  # 3 + 14 = 17 March
    assert first["status"] == "MET"


def test_an_agreement_without_an_interval_or_with_zero_owes_no_periodic_update(vc) -> None:
    for days in ("", "0"):
        assert agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z", days=days),
                                   update(vc, "U", "2026-03-10T10:00:00Z")]).empty


def test_each_update_under_the_agreement_is_an_anchor_until_the_next_one(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                update(vc, "U1", "2026-03-06T10:00:00Z"),
                                update(vc, "U2", "2026-03-20T10:00:00Z")])
    assert rows(found) == [("A", "MET"), ("U1", "MET_LATE"), ("U2", "BREACHED")]
    assert vc.utc(found["due_at"]) == ["2026-03-11T00:00:00Z", "2026-03-14T00:00:00Z", "2026-03-28T00:00:00Z"]


def test_an_update_at_the_instant_of_the_agreement_neither_anchors_nor_meets_it(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                update(vc, "U0", "2026-03-03T10:00:00Z"),
                                update(vc, "U1", "2026-03-05T10:00:00Z")])
    assert rows(found) == [("A", "MET"), ("U1", "BREACHED")]
    assert vc.utc(found["met_at"])[0] == "2026-03-05T10:00:00Z"


def test_updates_before_any_agreement_or_under_a_zero_interval_are_not_anchors(vc) -> None:
    found = agreed_updates(vc, [update(vc, "U0", "2026-03-02T12:00:00Z"),
                                agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                update(vc, "U1", "2026-03-04T10:00:00Z"),
                                agreed(vc, "B", "2026-03-05T10:00:00Z", days="0"),
                                update(vc, "U2", "2026-03-06T10:00:00Z")])
    assert rows(found) == [("A", "MET"), ("U1", "WAIVED")]


def test_of_several_anchors_at_one_instant_only_the_first_by_event_id_counts(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                update(vc, "U-b", "2026-03-05T10:00:00Z"),
                                update(vc, "U-a", "2026-03-05T10:00:00Z")])
    assert rows(found) == [("A", "MET"), ("U-a", "BREACHED")]


def test_the_interval_is_that_of_the_agreement_in_force_at_the_anchor(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z", days="7"),
                                update(vc, "U1", "2026-03-04T10:00:00Z"),
                                agreed(vc, "B", "2026-03-20T10:00:00Z", days="3"),
                                update(vc, "U2", "2026-03-21T10:00:00Z")])
    due = dict(zip(found["trigger_event_id"], vc.utc(found["due_at"]), strict=True))
    assert due["U1"] == "2026-03-12T00:00:00Z"  # 4 + 7 = 11 March
    assert due["B"] == "2026-03-24T00:00:00Z"
    assert due["U2"] == "2026-03-25T00:00:00Z"  # 21 + 3 = 24 March


def test_of_several_agreements_at_one_instant_only_the_last_by_event_id_counts(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A2", "2026-03-03T10:00:00Z", days="0"),
                                agreed(vc, "A1", "2026-03-03T10:00:00Z", days="10")])
    assert found.empty  # A2 (interval 0) is the agreement; A1 is ignored
    found = agreed_updates(vc, [agreed(vc, "A1", "2026-03-03T10:00:00Z", days="0"),
                                agreed(vc, "A2", "2026-03-03T10:00:00Z", days="10")])
    assert rows(found) == [("A2", "BREACHED")]


def test_a_new_agreement_before_the_due_instant_supersedes_the_obligation_as_waived(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                agreed(vc, "B", "2026-03-09T10:00:00Z", days="0"),
                                update(vc, "U", "2026-03-09T11:00:00Z")])
    assert rows(found) == [("A", "WAIVED")]
    assert found["met_at"].isna().all()


def test_a_new_agreement_after_the_due_instant_leaves_it_unmet_for_good(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                agreed(vc, "B", "2026-03-12T10:00:00Z", days="0"),
                                update(vc, "U", "2026-03-12T11:00:00Z")])
    assert rows(found) == [("A", "BREACHED")]
    assert found["met_at"].isna().all()


def test_an_unmet_obligation_is_pending_until_its_due_instant(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z")], as_of="2026-03-10T23:59:59Z")
    assert rows(found) == [("A", "PENDING")]
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z")], as_of="2026-03-11T00:00:00Z")
    assert rows(found) == [("A", "BREACHED")]


def end(vc, at: str) -> dict:
    return vc.event("END", "CRIME_FINALISED", at, outcome_code="15")


def test_an_anchor_at_or_after_the_end_of_the_investigation_gives_nothing(vc) -> None:
    found = agreed_updates(vc, [end(vc, "2026-03-03T10:00:00Z"), agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                agreed(vc, "B", "2026-03-04T10:00:00Z")])
    assert found.empty


def test_an_obligation_open_at_the_end_and_due_after_it_is_left_out(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"), end(vc, "2026-03-05T10:00:00Z"),
                                update(vc, "U", "2026-03-20T10:00:00Z")])
    assert found.empty


def test_an_obligation_open_at_the_end_but_due_before_it_is_owed_and_a_later_update_meets_it_late(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"), end(vc, "2026-03-12T10:00:00Z"),
                                update(vc, "U", "2026-03-20T10:00:00Z")])
    assert rows(found) == [("A", "MET_LATE")]


def test_an_update_at_the_instant_of_the_end_meets_the_open_obligation_and_anchors_nothing(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"), end(vc, "2026-03-05T10:00:00Z"),
                                update(vc, "U", "2026-03-05T10:00:00Z")])
    assert rows(found) == [("A", "MET")]


def test_the_end_is_the_first_outcome_notification_trigger_only(vc) -> None:
    not_an_end = vc.event("F1", "CRIME_FINALISED", "2026-03-04T10:00:00Z", outcome_code="1")
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"), not_an_end,
                                update(vc, "U", "2026-03-08T10:00:00Z")])
    assert rows(found) == [("A", "MET"), ("U", "BREACHED")]


def test_an_opt_out_waives_agreed_updates_and_an_opt_in_is_not_an_anchor(vc) -> None:
    found = agreed_updates(vc, [agreed(vc, "A", "2026-03-03T10:00:00Z"),
                                vc.event("O", "OPTED_OUT", "2026-03-05T10:00:00Z", victim_id="V1"),
                                vc.event("I", "OPTED_IN", "2026-03-06T10:00:00Z", victim_id="V1")])
    assert rows(found) == [("A", "WAIVED")]


def test_a_crime_level_agreement_applies_to_every_victim(vc) -> None:
    found = vc.obligations(
        victims=[vc.victim(victim_id="V1"), vc.victim(victim_id="V2")],
        events=[vc.event("A", "CONTACT_AGREED", "2026-03-03T10:00:00Z", interval_days="7"),
                update(vc, "U", "2026-03-05T10:00:00Z")])
    found = found[found["rule"] == "agreed_update"]
    assert [(r.victim_id, r.trigger_event_id, r.status) for r in found.itertuples()] == [
        ("V1", "A", "MET"), ("V1", "U", "BREACHED"), ("V2", "A", "BREACHED")]
