"""Optional victim attributes (sex, ethnicity, disability): native codes → canonical codes →
Great Expectations → warehouse, aggregated only; an unknown or absent attribute never stops a
victim's obligations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.canonical import VICTIM_ATTRIBUTE_CODES
from vcpipeline.ingest.run import run_source_batch
from vcpipeline.ingest.windows import EPOCH
from vcpipeline.sources.config import SourceConfig, load_source_config
from vcpipeline.sources.crime_recording import map_victims
from vcpipeline.synth.attributes import victim_attribute_codes
from vcpipeline.synth.write import write_sql_source
from vcpipeline.validation.validate import validate_batch
from vcpipeline.warehouse.db import make_engine

STAMP = "2026-07-01 12:00:00"
CRIME = "20/000001/26"
NATIVE = [  # victim_no, sex, self-defined ethnicity, disability
    ("1", "F", "A2", "Y"), ("2", "M", "W1", "N"), ("3", "", "NS", "U"), ("4", "f", "B2", ""),
    ("5", "X", "Z9", "maybe"), ("6", "U", "M3", "N"), ("7", "F", "O1", "Y"),
]


@pytest.fixture
def configs(tmp_path: Path) -> list[SourceConfig]:
    return load_source_config(var=tmp_path)


def crs(configs: list[SourceConfig]) -> SourceConfig:
    return next(config for config in configs if config.name == "crime_recording")


def native_victims(with_attributes: bool = True) -> pd.DataFrame:
    rows = [{"victim_no": number, "crime_no": CRIME, "forename": "Amelia", "surname": "Khan",
             "date_of_birth": "1980-01-01", "markers": "", "created_at": STAMP, "modified_at": STAMP,
             **({"sex": sex, "self_defined_ethnicity": ethnicity, "disability": disability}
                if with_attributes else {})}
            for number, sex, ethnicity, disability in NATIVE]
    return pd.DataFrame(rows, dtype="string").assign(crime_recorded_at="2026-07-01 10:00:00")


def test_native_codes_map_to_the_ons_broad_groups_and_unknown_or_empty_reads_not_stated(configs):
    mapped = map_victims(native_victims(), crs(configs))
    assert list(mapped["sex"]) == ["FEMALE", "MALE", "NOT_STATED", "FEMALE", "NOT_STATED", "NOT_STATED", "FEMALE"]
    assert list(mapped["ethnicity"]) == ["ASIAN", "WHITE", "NOT_STATED", "BLACK", "NOT_STATED", "MIXED", "OTHER"]
    assert list(mapped["disability"]) == ["YES", "NO", "NOT_STATED", "NOT_STATED", "NOT_STATED", "NO", "YES"]
    for name, codes in VICTIM_ATTRIBUTE_CODES.items():
        assert set(mapped[name]) <= set(codes)


def test_an_extract_without_the_attribute_columns_leaves_them_unrecorded(configs):
    mapped = map_victims(native_victims(with_attributes=False), crs(configs))
    assert (mapped[["sex", "ethnicity", "disability"]] == "").all().all()


def canonical_victims(**attributes: list[str]) -> pd.DataFrame:
    n = len(next(iter(attributes.values()))) if attributes else 2
    return pd.DataFrame({
        "crime_ref": ["EX1"] * n, "victim_id": [f"V{i}" for i in range(n)], "age_at_report": ["40"] * n,
        "vulnerable": ["false"] * n, "intimidated": ["false"] * n, "persistently_targeted": ["false"] * n,
        **attributes, "source_system": ["TEST"] * n, "source_row_id": [f"row-{i}" for i in range(n)],
    }, dtype="string")


def validate(frame: pd.DataFrame, suite: str = "canonical_victims", row_id: str = "source_row_id"):
    return validate_batch(frame, suite, row_id=row_id, now="2026-08-01T00:00:00Z", known_crime_refs=["EX1", CRIME])


def test_an_attribute_outside_its_code_list_is_a_warning_and_the_victim_still_loads():
    frame = canonical_victims(sex=["FEMALE", "Woman"], ethnicity=["ASIAN", ""], disability=["", "NOT_STATED"])
    validation = validate(frame)
    assert validation.row_failures.empty
    assert list(validation.row_warnings["source_row_id"]) == ["row-1"]
    assert "sex" in validation.row_warnings["reasons"].iloc[0]


def test_canonical_victims_without_the_optional_columns_still_validate():
    validation = validate(canonical_victims())
    assert validation.row_failures.empty and validation.row_warnings.empty


def test_the_native_suite_warns_about_an_unknown_ethnicity_code_and_accepts_an_extract_without_it():
    warned = validate(native_victims().drop(columns="crime_recorded_at"), "crime_recording.victims", "victim_no")
    assert set(warned.row_warnings["victim_no"]) == {"4", "5"}  # lower-case f; X, Z9 and maybe
    assert warned.row_failures.empty
    plain = validate(native_victims(False).drop(columns="crime_recorded_at"), "crime_recording.victims", "victim_no")
    assert plain.row_warnings.empty and plain.row_failures.empty


@pytest.fixture
def engine(migrated_warehouse: str) -> Iterator[Engine]:
    engine = make_engine(migrated_warehouse)
    yield engine
    engine.dispose()


def test_the_nightly_ingest_stores_the_attributes_and_a_quarantined_row_keeps_their_codes_for_replay(configs, engine):
    config = crs(configs)
    crimes = pd.DataFrame([{
        "crime_id": "1", "crime_no": CRIME, "recorded_at": "2026-07-01 10:00:00", "reporting_unit": "IIT",
        "owning_team": "IIT-A1", "oic_collar": "4521", "court_area": "COV", "offence_code": "THF",
        "da_marker": "N", "hate_marker": "N", "created_at": STAMP, "modified_at": STAMP}], dtype="string")
    victims = native_victims().drop(columns="crime_recorded_at")
    victims.loc[victims["victim_no"] == "7", "crime_no"] = "bad"  # quarantined: its raw row is kept
    empty = {"milestones": ["milestone_id", "crime_no", "victim_no", "milestone_code", "milestone_at",
                            "created_at", "modified_at"],
             "finalisations": ["finalisation_id", "crime_no", "ho_outcome", "finalised_at", "created_at",
                               "modified_at"]}
    write_sql_source(config.connection, {"crimes": crimes, "victims": victims,
                                         **{k: pd.DataFrame(columns=v, dtype="string") for k, v in empty.items()}})
    result = run_source_batch(config, EPOCH, datetime(2026, 7, 10, tzinfo=UTC), engine, configs=configs)
    assert result.status == "succeeded", result.message
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT victim_id, ethnicity FROM victims")).all())
        raw = [row for (row,) in conn.execute(sa.text("SELECT raw_row FROM quarantine WHERE entity = 'victims'"))]
    assert stored["V0000001"] == "ASIAN" and stored["V0000005"] == "NOT_STATED" and len(stored) == 6
    (kept,) = (json.loads(text)["row"] for text in raw)
    assert (kept["sex"], kept["self_defined_ethnicity"], kept["disability"]) == ("F", "O1", "Y")
    assert "Khan" not in raw[0] and "1980-01-01" not in raw[0]


def test_the_synthetic_force_records_most_victims_attributes_with_realistic_shares():
    codes = victim_attribute_codes(np.random.default_rng(5), 20_000)
    share = codes["self_defined_ethnicity"].str[0].value_counts(normalize=True)
    assert 0.55 < share["W"] < 0.7 and 0.15 < share["A"] < 0.23 and 0.04 < share["B"] < 0.08
    assert 0.02 < share["M"] < 0.06 and 0.01 < share["O"] < 0.04 and 0.03 < share["N"] < 0.07  # NS
    assert 0.03 < codes["sex"].isin(["U", ""]).mean() < 0.06
    assert 0.15 < (codes["disability"] == "Y").mean() < 0.23
