"""The stored obligations: incremental nights equal a full evaluation, reruns change nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.rules.engine import evaluate
from vcpipeline.rules.prepare import prepare
from vcpipeline.rules.ruleset import load_rulesets
from vcpipeline.rules.store import full_evaluation, refresh_obligations
from vcpipeline.warehouse.load import table_checksums

from .conftest import (
    Force,
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

    raw = {"crimes": text(crimes, CRIME_COLUMNS), "victims": text(victims, VICTIM_COLUMNS),
           "events": text(events.assign(channel=""), EVENT_COLUMNS)}
    as_of = night_as_of(night)
    prepared = prepare(raw, as_of)
    result = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, load_rulesets())
    return canonical(result.assign(trigger_event_id=result["trigger_event_id"].fillna("")))


@pytest.mark.parametrize("seed", [3, 11])
def test_incremental_nights_equal_a_full_evaluation_with_late_and_corrected_rows(engine, seed):
    force = simulate_force(seed, nights=14)
    modes = []
    for night in range(force.nights):
        load_night(engine, force, night)
        summary = refresh_obligations(engine, night_as_of(night))
        modes.append(summary["mode"])
        assert stored(engine).equals(reference(engine, night_as_of(night))), f"night {night}"
    assert modes == ["full"] + ["incremental"] * (force.nights - 1)
    final = stored(engine)
    assert len(final) > 100
    assert set(final["status"]) == {"MET", "MET_LATE", "BREACHED", "PENDING"}
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
