"""Nightly batches of a generated force into a real warehouse (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.ingest.conftest import FIRST_NIGHT, SPEC
from vcpipeline.ingest.replay import open_quarantine, quarantine_summary, replay_quarantined
from vcpipeline.ingest.run import BatchResult, run_source_batch
from vcpipeline.ingest.windows import EPOCH, nightly_intervals
from vcpipeline.sources.config import SourceConfig
from vcpipeline.warehouse import load
from vcpipeline.warehouse.frames import read_frame

UNTIL = SPEC.extracted_at.to_pydatetime() + timedelta(days=2)  # every file is complete
# What a rerun cannot reproduce exactly: the counts of batches whose rows waited for a crime
# that arrived later (see vcpipeline/ingest/run.py, "Reruns"); every other table is identical.
BOOKKEEPING = {"load_batches"}


def run_all(configs: Sequence[SourceConfig], engine: Engine, start, end) -> list[BatchResult]:
    return [run_source_batch(config, start, end, engine, configs=configs) for config in configs]


def run_nights(configs, engine, nights: int, first=FIRST_NIGHT) -> list[BatchResult]:
    results = []
    for start, end in nightly_intervals(first - timedelta(days=1), first + timedelta(days=nights - 1)):
        results += run_all(configs, engine, start, end)
    return results


def checksums(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return load.table_checksums(conn)


def batches(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(conn, "SELECT * FROM load_batches ORDER BY batch_id")


def assert_every_batch_reconciles(engine: Engine) -> None:
    """Extracted = loaded + quarantined for every batch; quarantine holds at least each batch's
    quarantined rows still open (entries a later extract superseded are closed, not deleted)."""
    frame = batches(engine)
    assert not frame.empty
    failed = frame[frame["status"] != "succeeded"]
    assert failed.empty, failed[["batch_id", "message"]].to_dict("records")
    assert (frame["rows_extracted"] == frame["rows_loaded"] + frame["rows_quarantined"]).all()
    with engine.connect() as conn:
        entries = read_frame(conn, "SELECT batch_id, replayed_at FROM quarantine")
    recorded = entries.groupby("batch_id").size()
    still_open = entries[entries["replayed_at"].isna()].groupby("batch_id").size()
    quarantined = frame.set_index("batch_id")["rows_quarantined"]
    for batch_id, count in quarantined.items():
        assert still_open.get(batch_id, 0) <= count <= recorded.get(batch_id, 0), batch_id


def native_rows(force, source: str) -> int:
    return sum(len(frame) for frame in force.native[source].values())


def pii_values(force) -> set[str]:
    victims = force.native["crime_recording"]["victims"]
    values = set()
    for column in ("forename", "surname", "phone", "address_line", "postcode", "date_of_birth"):
        values |= set(victims[column].dropna().astype(str))
    values |= {f"{a} {b}" for a, b in zip(victims["forename"], victims["surname"], strict=True)}
    values |= set(force.native["victim_support"]["referrals"]["Client Name"].dropna().astype(str))
    values |= set(force.native["witness_care"]["WCU Updates"]["Witness Name"].dropna().astype(str))
    return {value for value in values if len(value) >= 4}


def test_whole_force_loads_reconciled_with_bad_rows_quarantined_and_no_personal_data(
    engine, configs, generated
):
    force = generated[1]
    results = run_all(configs, engine, EPOCH, UNTIL)

    for result in results:
        assert result.status == "succeeded" and result.full
        assert result.rows_extracted == native_rows(force, result.source)
        assert result.rows_extracted == result.rows_loaded + result.rows_quarantined
    assert_every_batch_reconciles(engine)
    with engine.connect() as conn:
        quarantined = read_frame(conn, "SELECT * FROM quarantine")
        counts = {name: conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
                  for name in ("crimes", "victims", "case_events")}
    assert counts["crimes"] > 1_900 and counts["victims"] > 2_000 and counts["case_events"] > 10_000
    assert len(quarantined) == sum(r.rows_quarantined for r in results) > 0
    assert (quarantined["reasons"].str.len() > 0).all()
    unknown = quarantined[quarantined["raw_row"].str.contains('"milestone_code": "WNT"')]
    assert len(unknown) and unknown["reasons"].str.contains(
        r"expect_column_values_to_be_in_set\(event_type\)").all()
    raw = [json.loads(text) for text in quarantined["raw_row"]]
    assert {"table", "row", "derived"} <= set(raw[0])

    # No name, date of birth, phone or address anywhere: every text column of every table.
    pii = pii_values(force)
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            frame = read_frame(conn, f"SELECT * FROM {table}")
            for column in frame.columns:
                values = frame[column].dropna()
                if values.empty or not isinstance(values.iloc[0], str):
                    continue
                assert not (set(values) & pii), f"{table}.{column} holds personal data"
                if column == "raw_row":
                    for text in values:
                        assert not any(v in text for v in json.loads(text)["row"].values() if v in pii)
                        assert not any(name in text for name in ("forename", "date_of_birth",
                                                                  "Client Name", "Witness Name"))


def test_running_the_same_night_twice_leaves_the_warehouse_identical(engine, configs):
    run_nights(configs, engine, 2)
    once = checksums(engine)
    second_night = nightly_intervals(FIRST_NIGHT, FIRST_NIGHT + timedelta(days=1))[0]
    run_all(configs, engine, *second_night)
    assert checksums(engine) == once
    assert_every_batch_reconciles(engine)


@pytest.mark.slow
def test_replaying_a_week_of_nights_twice_leaves_identical_contents(engine, configs):
    run_nights(configs, engine, 7)
    once = checksums(engine)
    run_nights(configs, engine, 7)
    again = checksums(engine)
    assert {k: v for k, v in again.items() if k not in BOOKKEEPING} == {
        k: v for k, v in once.items() if k not in BOOKKEEPING}
    assert_every_batch_reconciles(engine)


def test_a_load_killed_midway_leaves_nothing_and_the_next_run_completes_it(
    engine, configs, monkeypatch
):
    crs = configs[0]
    written = []

    def crash(conn, frame, batch_id):
        written.append(batch_id)
        raise RuntimeError("disk full")

    monkeypatch.setattr(load, "upsert_events", crash)
    start, end = nightly_intervals(FIRST_NIGHT - timedelta(days=1), FIRST_NIGHT)[0]
    with pytest.raises(RuntimeError, match="disk full"):
        run_source_batch(crs, start, end, engine)
    assert written, "the crash came after crimes and victims were written"
    with engine.connect() as conn:
        for table in ("crimes", "victims", "case_events", "quarantine", "source_watermarks"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    (failed,) = batches(engine).itertuples()
    assert failed.status == "failed" and "disk full" in failed.message

    monkeypatch.undo()
    result = run_source_batch(crs, start, end, engine)
    assert result.status == "succeeded" and result.full
    assert_every_batch_reconciles(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM crimes")).scalar_one() > 0


def _vs_event(engine: Engine, ref: str) -> pd.Series:
    with engine.connect() as conn:
        frame = read_frame(conn, sa.text("SELECT * FROM case_events WHERE event_id = :e"),
                           {"e": f"VS-REF-{ref}"})
    assert len(frame) == 1
    return frame.iloc[0]


def test_a_redelivered_changed_drop_file_is_processed_again_and_an_unchanged_one_is_not(
    engine, configs
):
    crs, vs = configs[0], configs[2]
    night = nightly_intervals(FIRST_NIGHT - timedelta(days=1), FIRST_NIGHT)[0]
    run_source_batch(crs, *night, engine)
    first = run_source_batch(vs, *night, engine)
    assert first.status == "succeeded" and first.files

    next_night = nightly_intervals(FIRST_NIGHT, FIRST_NIGHT + timedelta(days=1))[0]
    unchanged = run_source_batch(vs, *next_night, engine)
    assert not set(unchanged.files) & set(first.files), "a processed file is never loaded twice"

    # The partner re-delivers yesterday's file with one activity re-dated (a correction).
    path = vs.connection + "/" + first.files[-1]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    loaded = frame[frame["Police Crime No"] != ""]
    ref = loaded["Referral Ref"].iloc[-1]
    before = _vs_event(engine, ref)
    corrected = before["occurred_at"] + pd.Timedelta(minutes=45)
    frame.loc[frame["Referral Ref"] == ref, "Activity Date"] = (
        corrected.tz_convert("Europe/London").strftime("%d/%m/%Y %H:%M"))
    frame.to_csv(path, index=False, lineterminator="\n")

    third = nightly_intervals(FIRST_NIGHT + timedelta(days=1), FIRST_NIGHT + timedelta(days=2))[0]
    redone = run_source_batch(vs, *third, engine)
    assert first.files[-1] in redone.files
    assert not set(redone.files) & (set(first.files[:-1]) | set(unchanged.files))
    after = _vs_event(engine, ref)
    assert after["occurred_at"] == corrected
    assert after["load_batch_id"] == redone.batch_id
    with engine.connect() as conn:
        owner = conn.execute(sa.text("SELECT batch_id FROM processed_files WHERE file_name = :f"),
                             {"f": first.files[-1]}).scalar_one()
    assert owner == redone.batch_id
    assert_every_batch_reconciles(engine)


def test_replay_after_a_mapping_fix_loads_the_rows_once_and_leaves_the_rest_with_new_reasons(
    engine, configs
):
    crs = configs[0]
    run_source_batch(crs, EPOCH, UNTIL, engine, configs=configs)
    with engine.connect() as conn:
        waiting = open_quarantine(conn, source_system="CRS")
    wnt = waiting[waiting["raw_row"].str.contains('"milestone_code": "WNT"')]
    assert len(wnt) >= 3

    mapping = {**crs.mapping, "milestone_code": {**crs.mapping["milestone_code"],
                                                 "WNT": "SUSPECT_INTERVIEWED"}}
    fixed = [dataclasses.replace(crs, mapping=mapping), *configs[1:]]
    with engine.begin() as conn:
        result = replay_quarantined(conn, fixed, source="crime_recording", replayed_at=UNTIL)
    assert result.considered == len(waiting)
    assert result.replayed >= len(wnt) - 1  # one may also fail for another reason
    assert result.replayed + result.still_quarantined == result.considered
    with engine.connect() as conn:
        events = read_frame(conn, "SELECT event_id, event_type FROM case_events "
                                  "WHERE source_system = 'CRS'")
        still = open_quarantine(conn, source_system="CRS")
        summary = quarantine_summary(conn, source_system="CRS")
    assert events["event_id"].is_unique
    replayed_ids = {f"CRS-INV-{int(json.loads(t)['row']['milestone_id']):07d}" for t in wnt["raw_row"]}
    assert (events.set_index("event_id").loc[list(replayed_ids & set(events["event_id"])),
                                             "event_type"] == "SUSPECT_INTERVIEWED").all()
    assert len(still) == result.still_quarantined
    assert not still["raw_row"].str.contains('"milestone_code": "WNT"').all() or still.empty
    assert summary["rows"].sum() >= len(still)
    assert_every_batch_reconciles(engine)

    with engine.begin() as conn:  # nothing left to load: a second replay changes nothing
        again = replay_quarantined(conn, fixed, source="crime_recording", replayed_at=UNTIL)
    assert again.replayed == 0


def test_a_drop_file_missing_a_column_fails_its_batch_saying_which_and_loads_nothing(
    engine, configs
):
    vs = configs[2]
    path = sorted(Path(vs.connection).glob("referrals_*.csv"))[2]
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=["Activity"]).to_csv(path, index=False, lineterminator="\n")
    result = run_source_batch(vs, EPOCH, UNTIL, engine)
    assert result.status == "failed"
    assert f"{path.name}: expect_table_columns_to_match_set: missing column(s): Activity" in result.message
    (row,) = batches(engine).itertuples()
    assert row.status == "failed" and "missing column(s): Activity" in row.message
    with engine.connect() as conn:
        for table in ("case_events", "quarantine", "processed_files"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0


def _open_entries(engine: Engine, system: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(conn, sa.text("SELECT batch_id, entity, source_row_id FROM quarantine "
                                        "WHERE source_system = :s AND replayed_at IS NULL"), {"s": system})


def test_rerunning_an_older_night_keeps_closed_the_quarantine_a_later_night_superseded(engine, configs):
    from vcpipeline.ingest.windows import file_ready_at
    from vcpipeline.sources.readers import read_drop_files

    crs, vs = configs[0], configs[2]
    night1, night2 = nightly_intervals(FIRST_NIGHT - timedelta(days=1), FIRST_NIGHT + timedelta(days=1))
    for night in (night1, night2):
        run_source_batch(crs, *night, engine)
    drops = read_drop_files(vs.connection, vs.file_pattern)
    first = [drop for drop in drops if file_ready_at(drop) <= night1[1]][-1]
    second = next(drop for drop in drops if night1[1] < file_ready_at(drop) <= night2[1])
    # Night 1's drop has an activity the mapping does not know; night 2's carries the correction.
    frame = pd.read_csv(first.path, dtype=str, keep_default_na=False)
    row = frame.index[frame["Police Crime No"] != ""][-1]
    corrected = frame.loc[[row]].copy()
    ref = str(frame.loc[row, "Referral Ref"])
    frame.loc[row, "Activity"] = "Tea and biscuits"
    frame.to_csv(first.path, index=False, lineterminator="\n")
    later = pd.read_csv(second.path, dtype=str, keep_default_na=False)
    corrected["Last Updated"] = later["Last Updated"].iloc[-1]
    pd.concat([later, corrected]).to_csv(second.path, index=False, lineterminator="\n")

    bad = run_source_batch(vs, *night1, engine)
    assert bad.status == "succeeded" and ref in set(_open_entries(engine, "VS")["source_row_id"])
    good = run_source_batch(vs, *night2, engine)
    assert good.status == "succeeded" and ref not in set(_open_entries(engine, "VS")["source_row_id"])
    open_before, warehouse_before = _open_entries(engine, "VS"), checksums(engine)

    again = run_source_batch(vs, *night1, engine)
    assert again.status == "succeeded" and again.quarantined == bad.quarantined
    assert len(_open_entries(engine, "VS")) == len(open_before)
    assert ref not in set(_open_entries(engine, "VS")["source_row_id"])
    assert checksums(engine) == warehouse_before
    assert _vs_event(engine, ref)["load_batch_id"] == good.batch_id
    assert_every_batch_reconciles(engine)


def test_an_older_night_run_after_a_newer_one_leaves_only_the_newer_quarantine_entry_open(engine):
    from vcpipeline.ingest.batches import close_superseded

    older = (FIRST_NIGHT - timedelta(days=1), FIRST_NIGHT)
    newer = (FIRST_NIGHT, FIRST_NIGHT + timedelta(days=1))
    row = pd.DataFrame({"source_row_id": ["R1"], "reasons": ["expect_column_values_to_be_in_set(event_type)"]})
    read = pd.DataFrame({"_native_table": ["referrals"], "source_row_id": ["R1"]})
    with engine.begin() as conn:  # the newer night ran first and quarantined the row
        newer_id = load.start_batch(conn, "VS", *newer)
        load.quarantine_rows(conn, newer_id, "VS", "referrals", row)
        assert close_superseded(conn, "VS", newer_id, newer[1], read) == 0
    with engine.begin() as conn:  # then the older night (a backfill) reads its older extract
        older_id = load.start_batch(conn, "VS", *older)
        load.quarantine_rows(conn, older_id, "VS", "referrals", row)
        assert close_superseded(conn, "VS", older_id, older[1], read) == 1
        entries = read_frame(conn, sa.select(sa.text("batch_id, replayed_at FROM quarantine")))
    closed = dict(zip(entries["batch_id"], entries["replayed_at"], strict=True))
    assert pd.isna(closed[newer_id])
    assert closed[older_id] == pd.Timestamp(newer[1]).tz_convert("UTC")
