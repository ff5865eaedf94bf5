"""Properties of the engine over random small forces (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcpipeline.calendar import local_dates
from vcpipeline.rules.engine import evaluate, obligations_csv_bytes, sort_obligations
from vcpipeline.rules.prepare import prepare
from vcpipeline.rules.ruleset import load_rulesets

BASE = pd.Timestamp("2021-03-24T08:00:00Z")  # a week before the 2020 Code, and BST starting
TYPES = ["WRITTEN_ACKNOWLEDGEMENT", "NEEDS_ASSESSMENT", "SUPPORT_REFERRAL", "REFERRAL_DECLINED",
         "SUSPECT_ARRESTED", "SUSPECT_CHARGED", "SUSPECT_RELEASED_UNDER_INVESTIGATION", "VICTIM_UPDATE",
         "CRIME_FINALISED", "COURT_OUTCOME", "OUTCOME_COMMUNICATED", "VPS_OFFERED", "VPS_USED",
         "VPS_USE_COMMUNICATED", "CONTACT_AGREED", "CONTACT_AGREED", "OPTED_OUT", "OPTED_IN"]
CHOICES = ["CONTACT_AGREED", "OPTED_OUT", "OPTED_IN"]
# Events that meet obligations and never decide need nor end anything (an update also anchors
# an agreed update: that only adds obligations).
MEETING_ONLY = ["WRITTEN_ACKNOWLEDGEMENT", "SUPPORT_REFERRAL", "REFERRAL_DECLINED", "VICTIM_UPDATE",
                "OUTCOME_COMMUNICATED", "VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED", "VPS_USE_COMMUNICATED"]
RULESETS = load_rulesets()
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(hours: int) -> str:
    return (BASE + pd.Timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def event_rows(draw, crimes: list[dict], victims: list[dict], prefix: str = "E",
               types: list[str] = TYPES, size: int = 10, after_hours: int | None = None) -> list[dict]:
    rows = []
    for i in range(draw(st.integers(0, size))):
        crime = draw(st.sampled_from(crimes))
        own = [v["victim_id"] for v in victims if v["crime_ref"] == crime["crime_ref"]]
        rows.append({
            "event_id": f"{prefix}{i}", "crime_ref": crime["crime_ref"],
            "victim_id": draw(st.sampled_from(["", *own])),
            "event_type": draw(st.sampled_from(types)),
            "occurred_at": at(max(crime["_hours"], after_hours if after_hours is not None else -1)
                              + draw(st.integers(0 if after_hours is None else 1, 24 * 16))),
            "in_need": draw(st.sampled_from(["true", "false"])),
            "outcome_code": str(draw(st.integers(0, 22))),
            "court_result": draw(st.sampled_from(["SENTENCED", "ADJOURNED", "ACQUITTED"])),
            "channel": draw(st.sampled_from(["", "phone", "email", " Phone"])),
            "interval_days": draw(st.sampled_from(["", "0", "2", "7"])),
        })
    return rows


@st.composite
def forces(draw) -> tuple[list[dict], list[dict], list[dict]]:
    crimes, victims = [], []
    for ref in ("A", "B")[: draw(st.integers(1, 2))]:
        hours = draw(st.integers(0, 24 * 14))
        crimes.append({"crime_ref": ref, "reported_at": at(hours), "department": "IIT",
                       "offence_category": draw(st.sampled_from(["theft", "kidnap"])),
                       "domestic_abuse": "false", "hate_crime": "false", "_hours": hours})
        victims += [{"crime_ref": ref, "victim_id": vid, "age_at_report": draw(st.sampled_from(["", "12", "40"])),
                     "vulnerable": "false", "intimidated": "false", "persistently_targeted": "false"}
                    for vid in ("V1", "V2")[: draw(st.integers(1, 2))]]
    return crimes, victims, draw(event_rows(crimes, victims))


def frames(crimes: list[dict], victims: list[dict], events: list[dict]) -> dict[str, pd.DataFrame]:
    from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS

    def frame(rows, columns):
        return pd.DataFrame([{c: r[c] for c in columns} for r in rows], columns=list(columns), dtype="string")

    return {"crimes": frame(crimes, CRIME_COLUMNS), "victims": frame(victims, VICTIM_COLUMNS),
            "events": frame(events, (*EVENT_COLUMNS, "interval_days"))}


def typed(crimes: list[dict], victims: list[dict], events: list[dict]):
    """The frames `prepare` would return for these (always valid) rows, built directly: cheaper."""
    instants = lambda rows, col: pd.to_datetime(pd.Series([r[col] for r in rows], dtype="string"),  # noqa: E731
                                               utc=True).astype("datetime64[us, UTC]")
    crime_frame = pd.DataFrame({c: pd.Series([r[c] for r in crimes], dtype="string") for c in
                                ("crime_ref", "department", "offence_category")})
    crime_frame["reported_at"] = instants(crimes, "reported_at")
    crime_frame["domestic_abuse"] = crime_frame["hate_crime"] = False
    victim_frame = pd.DataFrame({
        "crime_ref": pd.Series([r["crime_ref"] for r in victims], dtype="string"),
        "victim_id": pd.Series([r["victim_id"] for r in victims], dtype="string"),
        "age_at_report": pd.array([int(r["age_at_report"]) if r["age_at_report"] else None
                                   for r in victims], dtype="Int64"),
        "vulnerable": False, "intimidated": False, "persistently_targeted": False,
    })
    event_frame = pd.DataFrame({c: pd.Series([r[c] or None for r in events], dtype="string") for c in
                                ("event_id", "crime_ref", "victim_id", "event_type", "court_result")})
    event_frame["occurred_at"] = instants(events, "occurred_at") if events else pd.Series(
        [], dtype="datetime64[us, UTC]")
    event_frame["in_need"] = pd.array([r["in_need"] == "true" for r in events], dtype="boolean")
    event_frame["outcome_code"] = pd.array([int(r["outcome_code"]) for r in events], dtype="Int64")
    event_frame["channel"] = pd.Series([r["channel"].strip().lower() for r in events], dtype="string")
    event_frame["interval_days"] = pd.array([int(r["interval_days"]) if r["interval_days"] else None
                                             for r in events], dtype="Int64")
    return crime_frame, victim_frame, event_frame


def run(crimes, victims, events, as_of: pd.Timestamp) -> pd.DataFrame:
    return sort_obligations(evaluate(*typed(crimes, victims, events), as_of, RULESETS))


as_of_hours = st.integers(0, 24 * 40)


@SETTINGS
@given(forces(), as_of_hours)
def test_a_due_date_is_never_before_its_triggers_local_date(force, hours) -> None:
    found = run(*force, BASE + pd.Timedelta(hours=hours))
    due_date = local_dates(pd.DatetimeIndex(found["due_at"])) - np.timedelta64(1, "D")
    assert (due_date >= local_dates(pd.DatetimeIndex(found["trigger_at"]))).all()


@SETTINGS
@given(st.data(), forces(), as_of_hours)
def test_adding_an_event_only_ever_turns_unmet_obligations_met(data, force, hours) -> None:
    crimes, victims, events = force
    extra = data.draw(event_rows(crimes, victims, prefix="X", types=MEETING_ONLY, size=2))
    as_of = BASE + pd.Timedelta(hours=hours)
    key = ["crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at"]
    before = run(crimes, victims, events, as_of).set_index(key)
    after = run(crimes, victims, events + extra, as_of).set_index(key)
    assert before.index.isin(after.index).all()
    after = after.loc[before.index]
    was_met = before["status"].isin(["MET", "MET_LATE"]).to_numpy()
    now_met = after["status"].isin(["MET", "MET_LATE"]).to_numpy()
    assert (now_met[was_met]).all()
    assert (after["met_at"].to_numpy()[was_met] <= before["met_at"].to_numpy()[was_met]).all()
    unchanged_unmet = ~was_met & ~now_met
    assert (after["status"].to_numpy()[unchanged_unmet] == before["status"].to_numpy()[unchanged_unmet]).all()


@SETTINGS
@given(forces(), as_of_hours)
def test_evaluating_as_of_a_equals_evaluating_without_the_events_after_a(force, hours) -> None:
    crimes, victims, events = force
    as_of = BASE + pd.Timedelta(hours=hours)
    kept = [e for e in events if pd.Timestamp(e["occurred_at"]) <= as_of]
    pd.testing.assert_frame_equal(run(crimes, victims, events, as_of).reset_index(drop=True),
                                  run(crimes, victims, kept, as_of).reset_index(drop=True))


@settings(SETTINGS, max_examples=15)
@given(forces(), as_of_hours, st.randoms(use_true_random=False))
def test_input_row_order_does_not_matter(force, hours, random) -> None:
    crimes, victims, events = force
    as_of = BASE + pd.Timedelta(hours=hours)
    shuffled = [random.sample(rows, len(rows)) for rows in (crimes, victims, events)]
    ready = prepare(frames(crimes, victims, events), as_of)
    ready_shuffled = prepare(frames(*shuffled), as_of)
    original = evaluate(ready.crimes, ready.victims, ready.events, as_of, RULESETS)
    reordered = evaluate(ready_shuffled.crimes, ready_shuffled.victims, ready_shuffled.events, as_of, RULESETS)
    assert obligations_csv_bytes(original) == obligations_csv_bytes(reordered)


KEY = ["crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at"]


@st.composite
def opt_out(draw, crimes: list[dict], victims: list[dict]) -> dict:
    """One OPTED_OUT for a victim (or, blank, every victim of a crime) at some hour."""
    row = draw(event_rows(crimes, victims, prefix="O", types=["OPTED_OUT"], size=1).filter(len))[0]
    return row


@SETTINGS
@given(st.data(), forces(), as_of_hours)
def test_a_waived_obligation_never_becomes_breached_by_adding_events_after_the_opt_out(data, force, hours) -> None:
    crimes, victims, events = force
    out = data.draw(opt_out(crimes, victims))
    out_hours = int((pd.Timestamp(out["occurred_at"]) - BASE) / pd.Timedelta(hours=1))
    later = data.draw(event_rows(crimes, victims, prefix="X", size=4, after_hours=out_hours))
    as_of = BASE + pd.Timedelta(hours=hours)
    before = run(crimes, victims, [*events, out], as_of).set_index(KEY)
    after = run(crimes, victims, [*events, out, *later], as_of).set_index(KEY)
    waived = before.index[before["status"] == "WAIVED"]
    still = waived[waived.isin(after.index)]
    assert not (after.loc[still, "status"] == "BREACHED").any()


@SETTINGS
@given(st.data(), forces(), as_of_hours)
def test_adding_an_opt_out_can_only_turn_obligations_into_waived(data, force, hours) -> None:
    crimes, victims, events = force
    out = data.draw(opt_out(crimes, victims))
    as_of = BASE + pd.Timedelta(hours=hours)
    before = run(crimes, victims, events, as_of).set_index(KEY)
    after = run(crimes, victims, [*events, out], as_of).set_index(KEY)
    assert before.index.sort_values().equals(after.index.sort_values())
    after = after.loc[before.index]
    changed = (after["status"] != before["status"]).to_numpy()
    assert (after["status"].to_numpy()[changed] == "WAIVED").all()
    pd.testing.assert_series_equal(after["met_at"], before["met_at"])
