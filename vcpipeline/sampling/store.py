"""The dip sample in the warehouse: draw a quarter from the stored crimes, keep it, read it back.

A stored sample is everything an auditor needs to repeat the draw: seed, population hash, the
parameters, the allocation with its working, the selected crimes (with their permanent random
numbers) and each stratum's ordered reserve list. The sample id is the quarter's name (`2026Q1`):
one sample per quarter.

Drawing is idempotent. The draw is recomputed from the warehouse every time; when the quarter
already has a sample with the same seed, parameters and population hash, nothing is written and
the stored sample stands. A different population (late crimes, corrected departments) or
different parameters is a `SampleConflictError` unless forced: then the sample is replaced, and
reviewers' answers, findings and who reviewed them for crimes still in it are kept.

Crimes sampled in earlier quarters are excluded automatically (CONTRACT.md `--exclude`): the
store is the exclusion list.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.alerts.contact import CHOICE_EVENT_COLUMNS, CHOICE_EVENT_TYPES
from vcpipeline.sampling.allocation import SamplingError
from vcpipeline.sampling.selection import (
    DEFAULT_MINIMUM,
    DEFAULT_RESERVE,
    DEFAULT_SIZE,
    Sample,
    draw_sample,
    permanent_random_numbers,
    quarter_bounds,
    quarter_name,
)
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    case_events,
    crimes,
    obligation_runs,
    sample_crimes,
    sample_findings,
    sample_reserve,
    sample_reviewers,
    sample_reviews,
    sample_strata,
    samples,
    victims,
)

CREATED, UNCHANGED, REPLACED = "created", "unchanged", "replaced"
_STRATUM_COLUMNS: tuple[str, ...] = (
    "stratum", "stratum_population", "stratum_minimum", "exact_allocation", "stratum_sample_size",
    "selection_probability", "design_weight",
)


class SampleConflictError(SamplingError):
    """The quarter already has a sample that a new draw would change; pass force to replace it."""


@dataclass(frozen=True)
class StoredSample:
    """The outcome of `draw_and_store_sample`: the draw and what became of it in the store."""

    sample_id: str
    sample: Sample
    status: str  # created | unchanged | replaced


@dataclass(frozen=True)
class SampleRecord:
    """A stored sample read back: its header row, allocation, crimes and reserves."""

    sample_id: str
    header: dict[str, Any]
    strata: pd.DataFrame    # _STRATUM_COLUMNS
    crimes: pd.DataFrame    # crime_ref, stratum, permanent_random_number (sorted by stratum, crime_ref)
    reserve: pd.DataFrame   # stratum, rank, crime_ref, permanent_random_number

    def stratum_sizes(self) -> pd.Series:
        """N_h by stratum, as the survey estimators want it."""
        return self.strata.set_index("stratum")["stratum_population"].astype("int64")


def sample_id_for(quarter: str) -> str:
    """The id of a quarter's sample: its canonical name (`2026q1` → `2026Q1`)."""
    return quarter_name(quarter)


@contextmanager
def transaction(engine_or_conn: Engine | sa.Connection) -> Iterator[sa.Connection]:
    """An Engine gets a transaction of its own; a Connection is used as is (its caller commits)."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            yield conn
    else:
        yield engine_or_conn


def _plain(value: Any) -> Any:
    """A frame value as the driver binds it: NaN/NA → None, numpy scalars → Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _records(frame: pd.DataFrame, **constant: Any) -> list[dict[str, Any]]:
    return [{**constant, **{key: _plain(value) for key, value in row.items()}}
            for row in frame.to_dict(orient="records")]


# --- reads -------------------------------------------------------------------------------------

def quarter_crimes(conn: sa.Connection, quarter: str) -> tuple[pd.DataFrame, pd.Series]:
    """(crimes reported in the quarter: crime_ref, department, reported_at; their victims' crime_refs)."""
    start, end = quarter_bounds(quarter)
    in_quarter = (crimes.c.reported_at >= start.to_pydatetime()) & (crimes.c.reported_at < end.to_pydatetime())
    frame = read_frame(conn, sa.select(crimes.c.crime_ref, crimes.c.department, crimes.c.reported_at)
                       .where(in_quarter))
    with_victim = read_frame(conn, sa.select(victims.c.crime_ref).distinct()
                             .join_from(victims, crimes, victims.c.crime_ref == crimes.c.crime_ref)
                             .where(in_quarter, victims.c.victim_id != ""))
    return frame, with_victim["crime_ref"].astype("str")


def earlier_sampled_crimes(conn: sa.Connection, quarter: str) -> pd.Series:
    """crime_refs in the samples of quarters before this one: the automatic exclusion list."""
    query = (sa.select(sample_crimes.c.crime_ref).distinct()
             .join_from(sample_crimes, samples, sample_crimes.c.sample_id == samples.c.sample_id)
             .where(samples.c.quarter < quarter_name(quarter)))
    return read_frame(conn, query)["crime_ref"].astype("str")


def read_victim_choices(conn: sa.Connection, crime_refs: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(victims: crime_ref, victim_id; their choice events: CONTACT_AGREED, OPTED_OUT, OPTED_IN,
    with CHOICE_EVENT_COLUMNS and interval_days when the warehouse has it) of some crimes."""
    e = case_events.c
    optional = [column for name in ("interval_days",) if (column := e.get(name)) is not None]
    people = read_frame(conn, sa.select(victims.c.crime_ref, victims.c.victim_id)
                        .where(victims.c.crime_ref.in_(crime_refs)))
    events = read_frame(conn, sa.select(*(e[name] for name in CHOICE_EVENT_COLUMNS), *optional)
                        .where(e.crime_ref.in_(crime_refs), e.event_type.in_(CHOICE_EVENT_TYPES)))
    return people, events.reindex(columns=[*CHOICE_EVENT_COLUMNS, *(c.name for c in optional)])


def latest_evaluation(conn: sa.Connection) -> pd.Timestamp | None:
    """The latest instant the rule engine evaluated the obligations at (None: never)."""
    if not sa.inspect(conn).has_table("obligation_runs"):
        return None
    latest = conn.execute(sa.select(sa.func.max(obligation_runs.c.as_of))).scalar()
    return None if latest is None else pd.Timestamp(latest).tz_convert("UTC")  # UtcDateTime: aware


def read_sample(conn: sa.Connection, sample_id: str) -> SampleRecord:
    """A stored sample; LookupError naming the id when there is none."""
    header = conn.execute(sa.select(samples).where(samples.c.sample_id == sample_id)).mappings().first()
    if header is None:
        raise LookupError(f"no dip sample {sample_id} in the warehouse: draw it first")
    strata = read_frame(conn, sa.select(*(sample_strata.c[name] for name in _STRATUM_COLUMNS))
                        .where(sample_strata.c.sample_id == sample_id).order_by(sample_strata.c.stratum))
    chosen = read_frame(conn, sa.select(sample_crimes.c.crime_ref, sample_crimes.c.stratum,
                                        sample_crimes.c.permanent_random_number)
                        .where(sample_crimes.c.sample_id == sample_id)
                        .order_by(sample_crimes.c.stratum, sample_crimes.c.crime_ref))
    reserve = read_frame(conn, sa.select(sample_reserve.c.stratum, sample_reserve.c.rank,
                                         sample_reserve.c.crime_ref, sample_reserve.c.permanent_random_number)
                         .where(sample_reserve.c.sample_id == sample_id)
                         .order_by(sample_reserve.c.stratum, sample_reserve.c.rank))
    for frame, floats in ((strata, ("exact_allocation", "selection_probability", "design_weight")),
                          (chosen, ("permanent_random_number",)), (reserve, ("permanent_random_number",))):
        for name in floats:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
    # Byte order, whatever the database's collation (PostgreSQL's may ignore punctuation).
    strata = strata.sort_values("stratum", kind="stable", ignore_index=True)
    chosen = chosen.sort_values(["stratum", "crime_ref"], kind="stable", ignore_index=True)
    reserve = reserve.sort_values(["stratum", "rank"], kind="stable", ignore_index=True)
    return SampleRecord(sample_id, dict(header), strata, chosen, reserve)


# --- writes ------------------------------------------------------------------------------------

def _parameters(sample: Sample, size: int, minimum: int, reserve_size: int) -> dict[str, Any]:
    return {"seed": sample.seed, "population_hash": sample.population_hash, "size_requested": size,
            "minimum_per_stratum": minimum, "reserve_size": reserve_size}


def _conflict(stored: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """What a new draw would change in the stored sample, in words; None when nothing."""
    changes = [f"{name} {stored[name]!r} → {wanted[name]!r}" for name in wanted if stored[name] != wanted[name]]
    return "; ".join(changes) or None


def _delete_sample_rows(conn: sa.Connection, sample_id: str) -> None:
    for table in (sample_reviewers, sample_reviews, sample_findings, sample_reserve, sample_crimes,
                  sample_strata, samples):
        conn.execute(sa.delete(table).where(table.c.sample_id == sample_id))


def _insert_sample(conn: sa.Connection, sample_id: str, sample: Sample, parameters: dict[str, Any],
                   drawn_at: datetime) -> None:
    conn.execute(samples.insert().values(
        sample_id=sample_id, quarter=sample.quarter, population_size=sample.population_size,
        sample_size=len(sample.selected), excluded=sample.excluded, drawn_at=drawn_at, **parameters,
    ))
    strata = sample.allocation[list(_STRATUM_COLUMNS)]
    if len(strata):
        conn.execute(sample_strata.insert(), _records(strata, sample_id=sample_id))
    chosen = sample.selected[["crime_ref", "stratum"]].assign(
        permanent_random_number=permanent_random_numbers(sample.selected["crime_ref"], sample.seed))
    if len(chosen):
        conn.execute(sample_crimes.insert(), _records(chosen, sample_id=sample_id))
    if len(sample.reserve):
        conn.execute(sample_reserve.insert(), _records(sample.reserve, sample_id=sample_id))


def store_sample(conn: sa.Connection, sample: Sample, *, size: int, minimum: int, reserve_size: int,
                 force: bool = False, drawn_at: datetime | None = None) -> str:
    """Keep a draw as its quarter's sample; return created | unchanged | replaced.

    Raises SampleConflictError when the quarter has a different sample and `force` is false.
    """
    sample_id = sample_id_for(sample.quarter)
    wanted = _parameters(sample, size, minimum, reserve_size)
    stored = conn.execute(sa.select(samples).where(samples.c.sample_id == sample_id)).mappings().first()
    drawn_at = drawn_at or datetime.now(UTC)
    if stored is None:
        _insert_sample(conn, sample_id, sample, wanted, drawn_at)
        return CREATED
    change = _conflict(dict(stored), wanted)
    if change is None:
        return UNCHANGED
    if not force:
        raise SampleConflictError(
            f"sample {sample_id} is already drawn and a new draw would differ ({change}); "
            "re-draw with force (vcp sample-draw --force) to replace it"
        )
    kept = {table: read_frame(conn, sa.select(table).where(
                table.c.sample_id == sample_id,
                table.c.crime_ref.in_(sample.selected["crime_ref"].astype("str").tolist())))
            for table in (sample_findings, sample_reviews, sample_reviewers)}
    _delete_sample_rows(conn, sample_id)
    _insert_sample(conn, sample_id, sample, wanted, drawn_at)
    for table, rows in kept.items():
        if len(rows):
            conn.execute(table.insert(), _records(rows))
    return REPLACED


def draw_and_store_sample(engine_or_conn: Engine | sa.Connection, quarter: str, *,
                          size: int = DEFAULT_SIZE, minimum: int = DEFAULT_MINIMUM, seed: str | None = None,
                          reserve_size: int = DEFAULT_RESERVE, force: bool = False,
                          drawn_at: datetime | None = None) -> StoredSample:
    """Draw the quarter's dip sample from the warehouse's crimes and victims and store it.

    Earlier quarters' sampled crimes are excluded. Idempotent (see the module docstring); raises
    SamplingError for an impossible draw and SampleConflictError for a changed one unless `force`.
    With an Engine the whole draw runs in one transaction.
    """
    name = quarter_name(quarter)
    with transaction(engine_or_conn) as conn:
        population, with_victim = quarter_crimes(conn, name)
        sample = draw_sample(population, with_victim, name, size=size, minimum=minimum, seed=seed,
                             exclude=earlier_sampled_crimes(conn, name), reserve_size=reserve_size)
        status = store_sample(conn, sample, size=size, minimum=minimum, reserve_size=reserve_size,
                              force=force, drawn_at=drawn_at)
    return StoredSample(sample_id_for(name), sample, status)
