"""The stored obligations: incremental nights equal a full evaluation, reruns change nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.canonical import (
    CRIME_COLUMNS,
    EVENT_COLUMNS,
    OPTIONAL_EVENT_COLUMNS,
    VICTIM_COLUMNS,
)
from vcpipeline.rules.engine import evaluate
from vcpipeline.rules.prepare import prepare
from vcpipeline.rules.ruleset import load_rulesets
from vcpipeline.rules.store import full_evaluation, refresh_obligations
from vcpipeline.warehouse.load import table_checksums

from .conftest import (
    Force,
    _with_lineage,
    canonical,
    load_night,
    night_as_of,
    simulate_force,
    stored,
    table_rows,
)


def reference(engine, as_of: pd.Timestamp) -> pd.DataFrame:
    with engine.connect() as conn:
        return canonical(full_evaluation(conn, as_of))


def contract_reference(force: Force, night: int) -> pd.DataFrame:
    """What `vcp sla` computes from the rows arrived by then, written as canonical CSV text."""
    crimes, victims, events = force.latest(night)

    def text(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        out = pd.DataFrame(index=frame.index)
        for column in columns:
            values = frame[column]
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                out[column] = values.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                out[column] = values.astype("string").str.lower() if values.dtype == bool else values.astype("string")
        return out.fillna("").astype("string")

    if "channel" not in events:
        events = events.assign(channel="", interval_days=pd.array([None] * len(events), dtype="Int64"))
    raw = {"crimes": text(crimes, CRIME_COLUMNS), "victims": text(victims, VICTIM_COLUMNS),
           "events": text(events, (*EVENT_COLUMNS, *OPTIONAL_EVENT_COLUMNS))}
    as_of = night_as_of(night)
    prepared = prepare(raw, as_of)
    result = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, load_rulesets())
    return canonical(result.assign(trigger_event_id=result["trigger_event_id"].fillna("")))


@pytest.mark.parametrize("choices", [False, True], ids=["v1-events", "with-choices"])
@pytest.mark.parametrize("seed", [3, 11])
def test_incremental_nights_equal_a_full_evaluation_with_late_and_corrected_rows(engine, seed, choices):
    """With choices: opt-outs turning stored PENDING obligations (and ones about to breach) into
    WAIVED, opt-ins, re-negotiated plans, updates after the investigation ended."""
    force = simulate_force(seed, nights=14, choices=choices)
    modes = []
    for night in range(force.nights):
        load_night(engine, force, night)
        summary = refresh_obligations(engine, night_as_of(night))
        modes.append(summary["mode"])
        assert stored(engine).equals(reference(engine, night_as_of(night))), f"night {night}"
    assert modes == ["full"] + ["incremental"] * (force.nights - 1)
    final = stored(engine)
    assert len(final) > 100
    assert set(final["status"]) == {"MET", "MET_LATE", "BREACHED", "PENDING", *(["WAIVED"] if choices else [])}
    if choices:  # the v2 columns are filled and compared, not left empty
        assert {"WITNESS_CARE"} < set(final["owner"]) and final["channel_as_agreed"].notna().any()
        assert "agreed_update" in set(final["rule"])
    # The warehouse path computes exactly what `vcp sla` does on the same rows.
    pd.testing.assert_frame_equal(final, contract_reference(force, force.nights - 1))


def test_a_night_re_evaluates_only_changed_crimes_and_those_now_due(sqlite_engine):
    force = simulate_force(5, nights=6)
    for night in range(5):
        load_night(sqlite_engine, force, night)
        refresh_obligations(sqlite_engine, night_as_of(night))
    load_night(sqlite_engine, force, 5)
    summary = refresh_obligations(sqlite_engine, night_as_of(5))
    crimes_total = len(force.crimes["crime_ref"].unique())
    assert summary["mode"] == "incremental"
    assert 0 < summary["crimes_reevaluated"] < crimes_total
    assert summary["batches"] == 1
    assert stored(sqlite_engine).equals(reference(sqlite_engine, night_as_of(5)))
    assert summary["obligations_total"] == len(stored(sqlite_engine))


def test_a_night_without_new_rows_only_turns_pending_obligations_now_due_into_breaches(sqlite_engine):
    force = simulate_force(7, nights=4)
    for night in range(4):
        load_night(sqlite_engine, force, night)
        refresh_obligations(sqlite_engine, night_as_of(night))
    before = stored(sqlite_engine)
    later = night_as_of(3) + pd.Timedelta(days=6)
    summary = refresh_obligations(sqlite_engine, later)
    after = stored(sqlite_engine)
    assert summary["batches"] == 0
    assert summary["statuses_advanced"] > 0
    now_due = (before["status"] == "PENDING") & (before["due_at"] <= later)
    assert int(now_due.sum()) >= summary["statuses_advanced"]
    assert after.equals(reference(sqlite_engine, later))
    kept = before.merge(after, on=["crime_ref", "victim_id", "rule", "trigger_event_id"],
                        suffixes=("", "_after"))
    advanced = kept[(kept["status"] == "PENDING") & (kept["status_after"] == "BREACHED")]
    assert len(advanced) >= summary["statuses_advanced"] > 0


def test_rerunning_the_same_as_of_changes_nothing(engine):
    force = simulate_force(13, nights=5)
    for night in range(5):
        batch = load_night(engine, force, night)
        refresh_obligations(engine, night_as_of(night))
    with engine.connect() as conn:
        before = table_checksums(conn)
    again = refresh_obligations(engine, night_as_of(4))
    assert (again["mode"], again["crimes_reevaluated"], again["statuses_advanced"]) == ("incremental", 0, 0)
    with engine.connect() as conn:
        assert table_checksums(conn) == before

    # The whole night again: its batch reloaded (finished anew), then evaluated again.
    assert load_night(engine, force, 4) == batch
    rerun = refresh_obligations(engine, night_as_of(4))
    assert rerun["batches"] == 1 and rerun["crimes_reevaluated"] > 0
    with engine.connect() as conn:
        after = table_checksums(conn)
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= {"obligation_changes"}, changed  # the summaries' to-do list, emptied by them


def test_an_event_corrected_onto_another_crime_leaves_the_old_crime(sqlite_engine):
    force = simulate_force(17, nights=3)
    load_night(sqlite_engine, force, 0)
    refresh_obligations(sqlite_engine, night_as_of(0))
    ours = stored(sqlite_engine)
    moved = ours[ours["trigger_event_id"] != ""].iloc[0]
    event = force.events[force.events["event_id"] == moved["trigger_event_id"]].iloc[[-1]]
    other = next(c for c in force.crimes["crime_ref"] if c != moved["crime_ref"])
    correction = event.assign(crime_ref=other, victim_id=None, night=1,
                              extracted_at=night_as_of(1) - pd.Timedelta(minutes=1))
    force = replace(force, events=pd.concat([force.events[force.events["night"] != 1], correction]),
                    crimes=force.crimes[force.crimes["night"] != 1],
                    victims=force.victims[force.victims["night"] != 1])
    load_night(sqlite_engine, force, 1)
    summary = refresh_obligations(sqlite_engine, night_as_of(1))
    after = stored(sqlite_engine)
    assert summary["crimes_reevaluated"] >= 1
    left = after[(after["crime_ref"] == moved["crime_ref"])
                 & (after["trigger_event_id"] == moved["trigger_event_id"])]
    assert left.empty
    assert after.equals(reference(sqlite_engine, night_as_of(1)))


def test_going_back_in_time_or_changing_the_rules_evaluates_everything(sqlite_engine):
    force = simulate_force(19, nights=6)
    for night in range(6):
        load_night(sqlite_engine, force, night)
        refresh_obligations(sqlite_engine, night_as_of(night))
    back = refresh_obligations(sqlite_engine, night_as_of(2))
    assert (back["mode"], back["full_reason"]) == ("full", "as-of before the last evaluation's")
    assert stored(sqlite_engine).equals(reference(sqlite_engine, night_as_of(2)))
    forward = refresh_obligations(sqlite_engine, night_as_of(5))
    assert forward["mode"] == "incremental"
    assert stored(sqlite_engine).equals(reference(sqlite_engine, night_as_of(5)))

    rulesets = load_rulesets()
    tighter = replace(rulesets, sets=tuple(
        replace(s, rules=tuple(replace(r, deadline=max(r.deadline - 1, 0)) for r in s.rules))
        for s in rulesets.sets))
    changed = refresh_obligations(sqlite_engine, night_as_of(5), tighter)
    assert (changed["mode"], changed["full_reason"]) == ("full", "rule sets changed")
    with sqlite_engine.connect() as conn:
        assert stored(sqlite_engine).equals(canonical(full_evaluation(conn, night_as_of(5), tighter)))


def test_each_evaluation_is_logged_once_per_as_of(sqlite_engine):
    force = simulate_force(23, nights=3)
    for night in range(3):
        load_night(sqlite_engine, force, night)
        refresh_obligations(sqlite_engine, night_as_of(night))
    refresh_obligations(sqlite_engine, night_as_of(2))
    runs = table_rows(sqlite_engine, "obligation_runs")
    assert list(runs["mode"]) == ["full", "incremental", "incremental"]
    assert runs["obligations_total"].iloc[-1] == len(stored(sqlite_engine))
    assert (runs["total_seconds"] >= 0).all()


def test_nightly_task_returns_a_json_summary(migrated_warehouse):
    from vcpipeline.tasks.nightly import evaluate_obligations
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(migrated_warehouse)
    try:
        load_night(engine, simulate_force(29, nights=1), 0)
    finally:
        engine.dispose()
    summary = evaluate_obligations(night_as_of(0).to_pydatetime(), migrated_warehouse)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["mode"] == "full" and summary["obligations_written"] > 0
    assert summary["schema_revision"] == summary["schema_head"]


def test_the_obligations_table_keeps_the_columns_alerts_and_sampling_read(engine):
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("obligations")}
    assert {"crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
            "status", "enhanced", "rule_set", "department"} <= columns


def _victims_choices_force() -> Force:
    """One victim who agrees a plan, opts out (arriving a night later), opts back in and
    re-negotiates, is updated by another method, and hears after the investigation ended."""
    def rows(night_rows: list[dict]) -> pd.DataFrame:
        frame = pd.DataFrame(night_rows)
        for column in [c for c in frame.columns if c.endswith("_at")]:
            frame[column] = pd.to_datetime(frame[column], utc=True)
        return _with_lineage(frame, 0)

    crimes = rows([{"crime_ref": "CRX", "reported_at": "2026-03-23T10:00:00Z", "department": "IIT",
                    "offence_category": "theft", "domestic_abuse": False, "hate_crime": False, "night": 0}])
    victims = rows([{"crime_ref": "CRX", "victim_id": "V1", "age_at_report": 40, "vulnerable": False,
                     "intimidated": False, "persistently_targeted": False, "night": 0}])
    event = {"crime_ref": "CRX", "victim_id": "V1", "in_need": None, "outcome_code": None,
             "court_result": None, "channel": None, "interval_days": None}
    events = rows([
        {**event, "event_id": "E1", "event_type": "CONTACT_AGREED", "occurred_at": "2026-03-23T11:00:00Z",
         "channel": "phone", "interval_days": 3, "night": 0},
        {**event, "event_id": "E2", "event_type": "SUSPECT_ARRESTED", "occurred_at": "2026-03-23T12:00:00Z",
         "night": 0},
        {**event, "event_id": "E3", "event_type": "OPTED_OUT", "occurred_at": "2026-03-24T09:00:00Z", "night": 1},
        {**event, "event_id": "E4", "event_type": "OPTED_IN", "occurred_at": "2026-03-25T10:00:00Z", "night": 2},
        {**event, "event_id": "E5", "event_type": "CONTACT_AGREED", "occurred_at": "2026-03-25T11:00:00Z",
         "channel": "email", "interval_days": 2, "night": 2},
        {**event, "event_id": "E6", "event_type": "VICTIM_UPDATE", "occurred_at": "2026-03-26T09:00:00Z",
         "channel": "phone", "night": 3},
        {**event, "event_id": "E7", "event_type": "CRIME_FINALISED", "occurred_at": "2026-03-26T20:00:00Z",
         "victim_id": None, "outcome_code": 2, "night": 3},
        {**event, "event_id": "E8", "event_type": "VICTIM_UPDATE", "occurred_at": "2026-03-27T09:00:00Z",
         "channel": "email", "night": 4},
    ])
    events["interval_days"] = events["interval_days"].astype("Int64")
    events["outcome_code"] = events["outcome_code"].astype("Int64")
    return Force(crimes, victims, events, nights=5)


def test_a_victims_choices_arriving_on_later_nights_re_evaluate_their_crime(engine):
    """An opt-out loaded a night later turns the stored PENDING update obligations into WAIVED;
    an opt-in and a re-negotiated plan give a new agreed_update; an update after the end of the
    investigation is taken in: each night equals a full evaluation."""
    force = _victims_choices_force()
    by_night = []
    for night in range(force.nights):
        load_night(engine, force, night)
        summary = refresh_obligations(engine, night_as_of(night))
        assert summary["crimes_reevaluated"] == 1
        now = stored(engine)
        assert now.equals(reference(engine, night_as_of(night))), f"night {night}"
        by_night.append(now.set_index(["rule", "trigger_event_id"])["status"])
    assert by_night[0][("investigation_update", "E2")] == "PENDING"
    assert by_night[0][("agreed_update", "E1")] == "PENDING"
    assert by_night[1][("investigation_update", "E2")] == "WAIVED"
    assert by_night[1][("agreed_update", "E1")] == "WAIVED"
    assert ("agreed_update", "E5") in by_night[2].index
    final = stored(engine).set_index(["rule", "trigger_event_id"])
    met = final.loc[("agreed_update", "E5")]
    assert (met["met_channel"], bool(met["channel_as_agreed"])) == ("phone", False)
