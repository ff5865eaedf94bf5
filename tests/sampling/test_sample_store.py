"""The dip sample in the warehouse: round trip, idempotent re-draws, conflicts, exclusion of earlier samples."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.sampling.selection import draw_sample, sample_csv
from vcpipeline.sampling.store import (
    CREATED,
    REPLACED,
    UNCHANGED,
    SampleConflictError,
    draw_and_store_sample,
    read_sample,
)
from vcpipeline.sampling.survey import YES
from vcpipeline.warehouse.schema import crimes, sample_reviews, samples

from .conftest import force_crimes, force_victims

DRAWN_AT = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def test_stored_sample_reads_back_with_seed_hash_allocation_crimes_and_ordered_reserves(force_engine):
    stored = draw_and_store_sample(force_engine, "2026q1", size=30, minimum=5, reserve_size=3,
                                   drawn_at=DRAWN_AT)
    assert (stored.sample_id, stored.status) == ("2026Q1", CREATED)
    with force_engine.connect() as conn:
        record = read_sample(conn, "2026Q1")
    header = record.header
    assert header["seed"] == "2026Q1" and header["population_hash"] == stored.sample.population_hash
    assert (header["sample_size"], header["size_requested"], header["minimum_per_stratum"]) == (30, 30, 5)
    assert header["drawn_at"] == DRAWN_AT
    assert list(record.crimes["crime_ref"]) == list(stored.sample.selected["crime_ref"])
    assert list(record.crimes["stratum"]) == list(stored.sample.selected["stratum"])
    pd.testing.assert_frame_equal(
        record.strata.astype({"stratum": "str"}).reset_index(drop=True),
        stored.sample.allocation[list(record.strata.columns)].astype({"stratum": "str"}).reset_index(drop=True),
        check_dtype=False,
    )
    assert record.stratum_sizes().to_dict() == {"IIT": 27, "PPU": 11, "VVA": 36}
    for _, part in record.reserve.groupby("stratum"):
        assert list(part["rank"]) == [1, 2, 3]
        assert part["permanent_random_number"].is_monotonic_increasing
    # every reserve ranks after every selected crime of its stratum
    worst_selected = record.crimes.groupby("stratum")["permanent_random_number"].max()
    best_reserve = record.reserve.groupby("stratum")["permanent_random_number"].min()
    assert (best_reserve > worst_selected.reindex(best_reserve.index)).all()


def test_stored_sample_is_the_same_draw_as_vcp_sample_on_the_same_crimes(force_engine):
    stored = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5)
    frame = force_crimes()
    direct = draw_sample(frame, force_victims(frame)["crime_ref"], "2026Q1", size=30, minimum=5)
    assert sample_csv(stored.sample.selected) == sample_csv(direct.selected)
    assert stored.sample.population_hash == direct.population_hash


def test_drawing_the_same_quarter_again_is_idempotent(force_engine):
    first = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5, drawn_at=DRAWN_AT)
    again = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5,
                                  drawn_at=datetime(2026, 5, 1, tzinfo=UTC))
    assert (first.status, again.status) == (CREATED, UNCHANGED)
    with force_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(samples)).scalar() == 1
        assert read_sample(conn, "2026Q1").header["drawn_at"] == DRAWN_AT  # untouched


def _move_crime(engine, crime_ref: str, reported_at: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(crimes).where(crimes.c.crime_ref == crime_ref)
                     .values(reported_at=pd.Timestamp(reported_at).to_pydatetime()))


def test_a_changed_population_is_a_clear_error_unless_forced(force_engine):
    draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5)
    _move_crime(force_engine, "IIT-2026Q1-001", "2026-04-15T10:00:00Z")  # corrected into Q2
    with pytest.raises(SampleConflictError, match=r"2026Q1 is already drawn.*population_hash.*force"):
        draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5)
    with pytest.raises(SampleConflictError, match="size_requested 30 → 40"):
        draw_and_store_sample(force_engine, "2026Q1", size=40, minimum=5, force=False)
    replaced = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5, force=True)
    assert replaced.status == REPLACED
    with force_engine.connect() as conn:
        assert read_sample(conn, "2026Q1").header["population_hash"] == replaced.sample.population_hash


def test_forced_redraw_keeps_answers_of_crimes_still_sampled_and_drops_the_others(force_engine):
    first = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5)
    refs = list(first.sample.selected["crime_ref"])
    with force_engine.begin() as conn:
        conn.execute(sample_reviews.insert(), [
            {"sample_id": "2026Q1", "crime_ref": ref, "question": "Q1", "answer": YES,
             "source_file": "x.xlsx", "ingested_at": DRAWN_AT} for ref in refs])
    second = draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5, seed="another seed", force=True)
    kept = set(refs) & set(second.sample.selected["crime_ref"])
    with force_engine.connect() as conn:
        answered = {row.crime_ref for row in conn.execute(sa.select(sample_reviews.c.crime_ref))}
    assert answered == kept and 0 < len(kept) < len(refs)


def test_crimes_sampled_in_an_earlier_quarter_are_excluded_automatically(force_engine):
    earlier = draw_and_store_sample(force_engine, "2025Q4", size=30, minimum=5)
    moved = earlier.sample.selected["crime_ref"].iloc[0]
    # A corrected report date moves a crime sampled in 2025Q4 into 2026Q1: it is not sampled twice.
    _move_crime(force_engine, moved, "2026-02-10T10:00:00Z")
    later = draw_and_store_sample(force_engine, "2026Q1", size=82, minimum=5)
    assert later.sample.excluded == 1
    assert moved not in set(later.sample.selected["crime_ref"])
    assert later.sample.population_size == 74  # everything else in the quarter is sampled


def test_reading_a_sample_that_was_never_drawn_names_it(force_engine):
    with force_engine.connect() as conn, pytest.raises(LookupError, match="no dip sample 2024Q2 "):
        read_sample(conn, "2024Q2")
