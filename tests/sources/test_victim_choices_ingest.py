"""The victim's choices through the real nightly ingest: the contact log's agreements, opt-outs and
opt-ins in its native codes reach the warehouse as CONTACT_AGREED / OPTED_OUT / OPTED_IN with their
method and interval; a bad agreement, or a choice for someone who is not a victim of its crime, is
quarantined with its reason and counted, and the batch goes on (RULES.md v2 "Data rules")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.ingest.run import BatchResult, run_source_batch
from vcpipeline.ingest.windows import EPOCH
from vcpipeline.sources.config import SourceConfig, load_source_config
from vcpipeline.synth.write import write_sql_source
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.frames import read_frame

UNTIL = datetime(2026, 7, 10, tzinfo=UTC)
CRIME, OTHER_CRIME = "20/000001/26", "20/000002/26"
INTERVAL = "expect_column_values_to_match_regex(agreed_interval_days)"
CHANNEL = "expect_column_values_to_match_regex(agreed_channel)"
NOT_A_VICTIM = "expect_column_values_to_be_in_set(victim_known)"
STAMP = "2026-07-01 12:00:00"


def _crime_recording(victims: list[tuple[str, str]]) -> dict[str, pd.DataFrame]:
    """Two crimes and the given (victim_no, crime_no) victims, in the crime system's native shape."""
    crimes = pd.DataFrame([{
        "crime_id": str(i), "crime_no": ref, "recorded_at": "2026-07-01 10:00:00",
        "reporting_unit": "IIT", "owning_team": "IIT-A1", "oic_collar": "4521", "court_area": "COV",
        "offence_code": "THF", "da_marker": "N", "hate_marker": "N", "created_at": STAMP,
        "modified_at": STAMP} for i, ref in enumerate((CRIME, OTHER_CRIME), start=1)], dtype="string")
    people = pd.DataFrame([{
        "victim_no": number, "crime_no": ref, "forename": "Amelia", "surname": "Khan",
        "date_of_birth": "1980-01-01", "markers": "", "created_at": STAMP, "modified_at": STAMP,
    } for number, ref in victims], dtype="string")
    milestones = pd.DataFrame(columns=["milestone_id", "crime_no", "victim_no", "milestone_code",
                                       "milestone_at", "created_at", "modified_at"], dtype="string")
    finalisations = pd.DataFrame(columns=["finalisation_id", "crime_no", "ho_outcome", "finalised_at",
                                          "created_at", "modified_at"], dtype="string")
    return {"crimes": crimes, "victims": people, "milestones": milestones,
            "finalisations": finalisations}


def _contacts(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    """Contact log rows (crime_number, crs_victim_no, contact_type, channel, update_interval),
    contact ids 1, 2, ... a day apart."""
    return pd.DataFrame([{
        "contact_id": str(i), "crime_number": ref, "crs_victim_no": victim, "contact_type": kind,
        "vps_response": "", "channel": channel, "staff_no": "12345", "update_interval": interval,
        "contacted_at": f"2026-07-0{1 + i}T10:00:00Z", "created_at": f"2026-07-0{1 + i}T11:00:00Z",
        "modified_at": f"2026-07-0{1 + i}T11:00:00Z",
    } for i, (ref, victim, kind, channel, interval) in enumerate(rows, start=1)], dtype="string")


@pytest.fixture
def configs(tmp_path: Path) -> list[SourceConfig]:
    return load_source_config(var=tmp_path)


@pytest.fixture
def engine(migrated_warehouse: str) -> Iterator[Engine]:
    engine = make_engine(migrated_warehouse)
    yield engine
    engine.dispose()


def ingest(configs: list[SourceConfig], engine: Engine, victims: list[tuple[str, str]],
           contacts: pd.DataFrame) -> BatchResult:
    by_name = {config.name: config for config in configs}
    write_sql_source(by_name["crime_recording"].connection, _crime_recording(victims))
    write_sql_source(by_name["victim_contact"].connection, {"contacts": contacts})
    crs = run_source_batch(by_name["crime_recording"], EPOCH, UNTIL, engine, configs=configs)
    assert crs.status == "succeeded", crs.message
    return run_source_batch(by_name["victim_contact"], EPOCH, UNTIL, engine, configs=configs)


def _events(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return read_frame(conn, sa.text("SELECT * FROM case_events ORDER BY event_id"))


def _quarantine(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = read_frame(conn, sa.text("SELECT source_row_id, reasons, raw_row FROM quarantine "
                                        "WHERE source_system = 'VCL'"))
    assert not rows["raw_row"].astype("string").str.contains("Amelia|Khan|1980-01-01").any()
    return dict(zip(rows["source_row_id"], rows["reasons"], strict=True))


def test_agreements_opt_outs_and_opt_ins_load_as_the_victims_choices(configs, engine):
    result = ingest(configs, engine, [("1", CRIME)], _contacts(
        (CRIME, "1", "AGREE", "TEL", "14"),
        (CRIME, "1", "UPD", "EML", ""),
        (CRIME, "1", "OPTOUT", "LTR", ""),
        (CRIME, "1", "OPTIN", "TEL", ""),
        (CRIME, "1", "AGREE", "EML", "028"),
    ))
    assert result.status == "succeeded" and result.rows_quarantined == 0
    events = _events(engine)
    assert events[["event_id", "event_type", "channel"]].to_numpy().tolist() == [
        ["VCL-CON-0000001", "CONTACT_AGREED", "phone"],
        ["VCL-CON-0000002", "VICTIM_UPDATE", "email"],
        ["VCL-CON-0000003", "OPTED_OUT", "letter"],
        ["VCL-CON-0000004", "OPTED_IN", "phone"],
        ["VCL-CON-0000005", "CONTACT_AGREED", "email"],
    ]
    if "interval_days" in events.columns:  # the warehouse column arrives with its migration
        assert events["interval_days"].astype("Int64").tolist() == [14, pd.NA, pd.NA, pd.NA, 28]


@pytest.mark.parametrize(("interval", "channel", "reason"), [
    ("2 weeks", "TEL", INTERVAL),
    ("+7", "TEL", INTERVAL),
    ("7.0", "TEL", INTERVAL),
    ("367", "TEL", INTERVAL),
    ("14", "FAX", CHANNEL),
])
def test_a_bad_contact_agreement_is_quarantined_with_its_reason_and_counted(configs, engine, interval,
                                                                            channel, reason):
    result = ingest(configs, engine, [("1", CRIME)], _contacts(
        (CRIME, "1", "AGREE", "TEL", "14"),
        (CRIME, "1", "AGREE", channel, interval),
        (CRIME, "1", "UPD", "TEL", ""),
    ))
    assert result.status == "succeeded"
    assert (result.rows_extracted, result.rows_loaded, result.rows_quarantined) == (3, 2, 1)
    assert result.reasons == {reason: 1}
    assert _quarantine(engine) == {"2": reason}
    assert list(_events(engine)["event_id"]) == ["VCL-CON-0000001", "VCL-CON-0000003"]


def test_choices_for_someone_not_a_victim_of_the_crime_are_quarantined_and_counted(configs, engine):
    result = ingest(configs, engine, [("1", CRIME), ("2", OTHER_CRIME)], _contacts(
        (CRIME, "2", "OPTOUT", "LTR", ""),        # victim 2 is the other crime's
        (CRIME, "9", "AGREE", "TEL", "7"),        # nobody's victim
        (CRIME, "1", "OPTOUT", "LTR", ""),
        (OTHER_CRIME, "2", "AGREE", "SMS", "7"),
    ))
    assert result.status == "succeeded"
    assert result.reasons == {NOT_A_VICTIM: 2}
    assert _quarantine(engine) == {"1": NOT_A_VICTIM, "2": NOT_A_VICTIM}
    assert list(_events(engine)["event_id"]) == ["VCL-CON-0000003", "VCL-CON-0000004"]


def test_an_opt_in_without_an_opt_out_loads(configs, engine):
    result = ingest(configs, engine, [("1", CRIME)], _contacts((CRIME, "1", "OPTIN", "TEL", "")))
    assert result.rows_quarantined == 0
    assert list(_events(engine)["event_type"]) == ["OPTED_IN"]


def test_a_choice_waiting_for_its_victim_loads_once_the_victim_arrives(configs, engine):
    by_name = {config.name: config for config in configs}
    ingest(configs, engine, [("1", CRIME)], _contacts((CRIME, "3", "OPTOUT", "LTR", "")))
    assert _quarantine(engine) == {"1": NOT_A_VICTIM}
    # The next night the crime system has the second victim (added to the crime later).
    late = _crime_recording([("1", CRIME), ("3", CRIME)])
    late["victims"].loc[1, ["created_at", "modified_at"]] = ["2026-07-11 09:00:00"] * 2
    write_sql_source(by_name["crime_recording"].connection, late)
    night = datetime(2026, 7, 12, tzinfo=UTC)
    crs = run_source_batch(by_name["crime_recording"], UNTIL, night, engine, configs=configs)
    assert crs.status == "succeeded" and crs.healed == 1
    assert list(_events(engine)["event_type"]) == ["OPTED_OUT"]


def test_crimes_keep_the_witness_care_team_of_their_court_area_for_the_team_reference(configs, engine):
    from vcpipeline.alerts.reference import synthetic_team_reference, warehouse_teams

    ingest(configs, engine, [("1", CRIME)], _contacts((CRIME, "1", "ACK", "LTR", "")))
    with engine.connect() as conn:
        stored = read_frame(conn, sa.text("SELECT crime_ref, witness_care_team FROM crimes ORDER BY 1"))
        teams = warehouse_teams(conn)
    assert stored["witness_care_team"].tolist() == ["WCU-COV", "WCU-COV"]
    assert teams.to_numpy().tolist() == [["IIT", "IIT-A1"], ["WITNESS_CARE", "WCU-COV"]]
    reference = synthetic_team_reference(teams, seed=1)
    assert "" in set(reference.loc[reference["department"] == "WITNESS_CARE", "team"])  # default lead


def test_a_choice_waiting_for_a_victim_whose_crime_came_late_loads_when_the_crime_arrives(configs, engine):
    by_name = {config.name: config for config in configs}
    crs = by_name["crime_recording"]

    def night(tables: dict[str, pd.DataFrame], start: datetime, end: datetime) -> BatchResult:
        write_sql_source(crs.connection, tables)
        result = run_source_batch(crs, start, end, engine, configs=configs)
        assert result.status == "succeeded", result.message
        return result

    def tables(victims: list[tuple[str, str]], crimes: list[int], **stamps: str) -> dict[str, pd.DataFrame]:
        out = _crime_recording(victims)
        out["crimes"] = out["crimes"].iloc[crimes].reset_index(drop=True)
        for key, stamp in stamps.items():   # crime1 / crime2 / victim2: when last modified
            frame, row = ("victims", 1) if key == "victim2" else ("crimes", int(key[-1]) - 1)
            out[frame].loc[row, ["created_at", "modified_at"]] = [stamp, stamp]
        return out

    n2, n3, n4 = (datetime(2026, 7, day, tzinfo=UTC) for day in (14, 17, 20))
    keyed = "2026-07-12 09:00:00"
    # Night 1: an opt-out for victim 2 of a crime the crime system does not have yet.
    night(tables([("1", CRIME)], [0]), EPOCH, UNTIL)
    write_sql_source(by_name["victim_contact"].connection,
                     {"contacts": _contacts((OTHER_CRIME, "2", "OPTOUT", "LTR", ""))})
    run_source_batch(by_name["victim_contact"], EPOCH, UNTIL, engine, configs=configs)
    assert _quarantine(engine) == {"1": "expect_column_values_to_be_in_set(crime_ref_known);" + NOT_A_VICTIM}
    # Night 2: victim 2 is keyed, still without the crime: the victim waits too.
    night(tables([("1", CRIME), ("2", OTHER_CRIME)], [0], victim2=keyed), UNTIL, n2)
    # Night 3: an edit elsewhere moves the watermark on, so victim 2 is not read again.
    night(tables([("1", CRIME), ("2", OTHER_CRIME)], [0], victim2=keyed, crime1="2026-07-16 09:00:00"), n2, n3)
    # Night 4: the crime arrives; its waiting victim is replayed, and then the opt-out.
    result = night(tables([("1", CRIME), ("2", OTHER_CRIME)], [0, 1], victim2=keyed,
                          crime1="2026-07-16 09:00:00", crime2="2026-07-19 09:00:00"), n3, n4)
    assert result.healed == 2
    assert list(_events(engine)["event_type"]) == ["OPTED_OUT"]
