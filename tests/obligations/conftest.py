"""A seeded simulated force, loaded into a real warehouse night by night the way the nightly
run loads it: rows arrive late, some before their crime, some before they happen (relative to
that night's as-of), and some are corrected later (occurred_at, event type, crime, flags).
With `choices`, victims also make the choices of RULES.md v2: contact agreements (some
re-negotiated), opt-outs and opt-ins, and updates after the investigation ended, every event
with a channel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.rules.store import TABLE_COLUMNS, read_obligations
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import (
    finish_batch,
    start_batch,
    upsert_crimes,
    upsert_events,
    upsert_victims,
)

FIRST_NIGHT = "2026-03-24"  # nights run over the clock change (29 March) and Easter (3-6 April)
SOURCE = "sim"
DEPARTMENTS = ("IIT", "PPU", "VVA")
OFFENCES = ("theft", "burglary", "sexual_offence", "assault")
EVENT_TYPES = (
    "WRITTEN_ACKNOWLEDGEMENT", "NEEDS_ASSESSMENT", "SUPPORT_REFERRAL", "REFERRAL_DECLINED",
    "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_RELEASED_UNDER_INVESTIGATION",
    "SUSPECT_CHARGED", "VICTIM_UPDATE", "VICTIM_UPDATE", "VICTIM_UPDATE", "CRIME_FINALISED",
    "COURT_OUTCOME", "OUTCOME_COMMUNICATED", "VPS_OFFERED", "VPS_USED", "VPS_USE_COMMUNICATED",
)
CRIME_LEVEL = {"SUSPECT_ARRESTED", "SUSPECT_CHARGED", "CRIME_FINALISED", "COURT_OUTCOME"}
COURT_RESULTS = ("SENTENCED", "ACQUITTED", "ADJOURNED", "DISCONTINUED")
CHANNELS = ("phone", "email", "letter", "sms", "visit", None)
KEY = ["crime_ref", "victim_id", "rule", "trigger_event_id"]


def night_as_of(night: int) -> pd.Timestamp:
    """02:00 Europe/London on the morning of night `night` (0 = FIRST_NIGHT), in UTC."""
    day = pd.Timestamp(FIRST_NIGHT) + pd.Timedelta(days=night)
    return pd.Timestamp(f"{day.date()} 02:00", tz="Europe/London").tz_convert("UTC")


@dataclass
class Force:
    """Every version of every row, each with the night it arrives on (`night`)."""

    crimes: pd.DataFrame
    victims: pd.DataFrame
    events: pd.DataFrame
    nights: int

    def arriving(self, night: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return tuple(frame[frame["night"] == night] for frame in (self.crimes, self.victims, self.events))

    def latest(self, through: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The newest version of each row that has arrived by night `through`."""
        keys = (["crime_ref"], ["crime_ref", "victim_id"], ["event_id"])
        return tuple(
            frame[frame["night"] <= through].sort_values("extracted_at", kind="stable")
            .drop_duplicates(key, keep="last").reset_index(drop=True)
            for frame, key in zip((self.crimes, self.victims, self.events), keys, strict=True)
        )


def _arrival(rng: np.random.Generator, instants: pd.Series, nights: int) -> np.ndarray:
    """The night a row happening at `instants` reaches the warehouse: usually the next night,
    sometimes days late, sometimes the night *before* it happens (an extract after as-of)."""
    as_ofs = np.array([night_as_of(n).value for n in range(nights + 8)])
    first = np.searchsorted(as_ofs, pd.DatetimeIndex(instants).as_unit("ns").asi8, side="left")
    draw = rng.random(len(instants))
    lag = np.where(draw < 0.15, rng.integers(1, 5, len(instants)), 0)
    lag = np.where(draw > 0.95, -1, lag)
    return np.maximum(first + lag, 0)


def _choices(rng: np.random.Generator, victims: pd.DataFrame, report: pd.DatetimeIndex) -> pd.DataFrame:
    """The victims' v2 events: a plan agreed at first contact (70 %), re-negotiated (20 % of
    those), opt-outs (15 %) and opt-ins after them (half), opt-ins without an opt-out (3 %),
    updates by some channel, and a finalisation followed by a late update (15 %)."""
    n = len(victims)
    days = pd.Timedelta(days=1)

    def some(share: float, event_type: str, lo: float, hi: float, base: pd.DatetimeIndex = report,
             among: np.ndarray | None = None) -> tuple[np.ndarray, pd.DataFrame]:
        chosen = (rng.random(n) < share) & (True if among is None else among)
        at = base[chosen] + pd.to_timedelta(rng.uniform(lo, hi, chosen.sum()) * days.total_seconds(), unit="s")
        return chosen, pd.DataFrame({"victim": np.flatnonzero(chosen), "event_type": event_type,
                                     "occurred_at": at})

    agreed, first = some(0.7, "CONTACT_AGREED", 0, 2)
    _, again = some(0.2, "CONTACT_AGREED", 2, 10, among=agreed)
    out, opted_out = some(0.15, "OPTED_OUT", 0, 8)
    out_at = pd.DatetimeIndex(pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
                              .where(~out, pd.Series(opted_out["occurred_at"].to_numpy(), index=np.flatnonzero(out))))
    _, opted_in = some(0.5, "OPTED_IN", 1, 5, base=out_at, among=out)
    _, stray_in = some(0.03, "OPTED_IN", 0, 10)
    _, updates = some(0.6, "VICTIM_UPDATE", 0, 12)
    ended, finalised = some(0.15, "CRIME_FINALISED", 1, 6)
    end_at = pd.DatetimeIndex(pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
                              .where(~ended, pd.Series(finalised["occurred_at"].to_numpy(), index=np.flatnonzero(ended))))
    _, late = some(1.0, "VICTIM_UPDATE", 0, 3, base=end_at, among=ended)
    frames = [first, again, opted_out, opted_in, stray_in, updates, finalised, late]
    choices = pd.concat(frames, ignore_index=True)
    k = len(choices)
    agreement = (choices["event_type"] == "CONTACT_AGREED").to_numpy()
    crime_level = rng.random(k) < 0.1
    return pd.DataFrame({
        "event_id": [f"C{i:05d}" for i in range(k)],
        "crime_ref": victims["crime_ref"].to_numpy()[choices["victim"]],
        "victim_id": np.where(crime_level, None, victims["victim_id"].to_numpy()[choices["victim"]]),
        "event_type": choices["event_type"].to_numpy(),
        "occurred_at": pd.DatetimeIndex(choices["occurred_at"]).floor("s").as_unit("us"),
        "in_need": pd.array([None] * k, dtype="boolean"),
        "outcome_code": pd.array(np.where(choices["event_type"] == "CRIME_FINALISED",
                                          rng.integers(2, 20, k), None), dtype="Int64"),
        "court_result": None,
        "channel": rng.choice(np.array(CHANNELS, dtype=object), k),
        "interval_days": pd.array(np.where(agreement, rng.choice([0, 2, 3, 7, 14], k), None), dtype="Int64"),
    })


def simulate_force(seed: int, nights: int = 14, n_crimes: int = 40, *, choices: bool = False) -> Force:
    rng = np.random.default_rng(seed)
    start = night_as_of(0) - pd.Timedelta(days=8)
    span_s = int((night_as_of(nights - 1) - start).total_seconds())
    reported = start + pd.to_timedelta(rng.integers(0, span_s, n_crimes), unit="s")
    crimes = pd.DataFrame({
        "crime_ref": [f"CR{i:03d}" for i in range(n_crimes)],
        "reported_at": reported,
        "department": rng.choice(DEPARTMENTS, n_crimes),
        "offence_category": rng.choice(OFFENCES, n_crimes, p=[0.4, 0.3, 0.1, 0.2]),
        "domestic_abuse": rng.random(n_crimes) < 0.1,
        "hate_crime": rng.random(n_crimes) < 0.05,
    })
    crimes["night"] = _arrival(rng, crimes["reported_at"], nights)

    victims = crimes.loc[crimes.index.repeat(rng.integers(1, 4, n_crimes)), ["crime_ref", "night"]]
    victims = victims.reset_index(drop=True)
    victims["victim_id"] = "V" + (victims.groupby("crime_ref").cumcount() + 1).astype(str)
    n_victims = len(victims)
    victims["age_at_report"] = pd.array(np.where(rng.random(n_victims) < 0.15, 15, 40), dtype="Int64")
    victims["vulnerable"] = rng.random(n_victims) < 0.1
    victims["intimidated"] = False
    victims["persistently_targeted"] = False
    victims["night"] = np.maximum(victims["night"] - (rng.random(n_victims) < 0.1), 0)  # before its crime

    per_victim = rng.integers(0, 9, n_victims)
    owner = np.repeat(np.arange(n_victims), per_victim)
    n_events = owner.size
    types = rng.choice(EVENT_TYPES, n_events)
    report = pd.DatetimeIndex(crimes.set_index("crime_ref")["reported_at"].reindex(victims["crime_ref"]))[owner]
    delay = pd.to_timedelta((rng.exponential(4.0, n_events) * 86_400).astype(np.int64), unit="s")
    before_report = rng.random(n_events) < 0.03
    occurred = (report + delay).where(~before_report, report - pd.Timedelta(hours=1))
    crime_level = np.isin(types, list(CRIME_LEVEL)) & (rng.random(n_events) < 0.6)
    events = pd.DataFrame({
        "event_id": [f"E{i:05d}" for i in range(n_events)],
        "crime_ref": victims["crime_ref"].to_numpy()[owner],
        "victim_id": np.where(crime_level, None, victims["victim_id"].to_numpy()[owner]),
        "event_type": types,
        "occurred_at": occurred,
        "in_need": pd.array(np.where(types == "NEEDS_ASSESSMENT", rng.random(n_events) < 0.5, None),
                            dtype="boolean"),
        "outcome_code": pd.array(np.where(types == "CRIME_FINALISED", rng.integers(0, 23, n_events), None),
                                 dtype="Int64"),
        "court_result": np.where(types == "COURT_OUTCOME", rng.choice(COURT_RESULTS, n_events), None),
    })
    events["night"] = _arrival(rng, events["occurred_at"], nights)
    if choices:  # a generator of their own: the force without choices stays as it was
        more = np.random.default_rng([seed, 2])
        chosen = _choices(more, victims, pd.DatetimeIndex(
            crimes.set_index("crime_ref")["reported_at"].reindex(victims["crime_ref"])))
        chosen["night"] = _arrival(more, chosen["occurred_at"], nights)
        events["channel"] = more.choice(np.array(CHANNELS, dtype=object), len(events))
        events["interval_days"] = pd.array([None] * len(events), dtype="Int64")
        events = pd.concat([events, chosen], ignore_index=True)
        n_events = len(events)

    crimes, victims, events = (_with_lineage(f, 0) for f in (crimes, victims, events))
    corrections = [crimes, victims, events]
    # Corrections, each arriving 1-4 nights after the version it corrects.
    later = rng.integers(1, 5, n_events)
    moved = events[rng.random(n_events) < 0.10].copy()
    moved_time = moved.assign(occurred_at=moved["occurred_at"] + pd.to_timedelta(
        rng.integers(-3 * 86_400, 3 * 86_400, len(moved)), unit="s"))
    retyped = events[rng.random(n_events) < 0.06].copy()
    retyped["event_type"] = rng.choice(["VICTIM_UPDATE", "SUSPECT_ARRESTED", "VPS_OFFERED"], len(retyped))
    rehomed = events[rng.random(n_events) < 0.03].copy()
    rehomed["crime_ref"] = rng.choice(crimes["crime_ref"], len(rehomed))
    rehomed["victim_id"] = None
    for frame in (moved_time, retyped, rehomed):
        frame["night"] = frame["night"] + later[: len(frame)]
        corrections.append(_with_lineage(frame.drop(columns=["extracted_at"]), 1))
    flagged = victims[rng.random(n_victims) < 0.08].copy()
    flagged["vulnerable"] = ~flagged["vulnerable"]
    flagged["night"] = flagged["night"] + 2
    recoded = crimes[rng.random(n_crimes) < 0.08].copy()
    recoded["offence_category"] = "sexual_offence"
    recoded["reported_at"] = recoded["reported_at"] + pd.Timedelta(hours=5)
    recoded["night"] = recoded["night"] + 3
    corrections[1] = pd.concat([victims, _with_lineage(flagged.drop(columns=["extracted_at"]), 1)])
    corrections[0] = pd.concat([crimes, _with_lineage(recoded.drop(columns=["extracted_at"]), 1)])
    events = pd.concat([c for c in corrections[2:]], ignore_index=True)
    return Force(corrections[0].reset_index(drop=True), corrections[1].reset_index(drop=True),
                 events, nights)


def _with_lineage(frame: pd.DataFrame, version: int) -> pd.DataFrame:
    """Lineage columns; a later version is extracted later (so the latest extract wins)."""
    extracted = [night_as_of(int(n)) - pd.Timedelta(minutes=30 - version) for n in frame["night"]]
    return frame.assign(source_system=SOURCE, source_row_id=[f"r{i}" for i in range(len(frame))],
                        extracted_at=pd.DatetimeIndex(extracted))


def load_night(engine: Engine, force: Force, night: int) -> str:
    """One night's batch: every row version arriving that night, in one transaction."""
    interval_start = night_as_of(night - 1).to_pydatetime()
    interval_end = night_as_of(night).to_pydatetime()
    crimes, victims, events = (f.drop(columns=["night"]) for f in force.arriving(night))
    with engine.begin() as conn:
        batch = start_batch(conn, SOURCE, interval_start, interval_end)
        loaded = (upsert_crimes(conn, crimes, batch) + upsert_victims(conn, victims, batch)
                  + upsert_events(conn, events, batch))
        finish_batch(conn, batch, status="succeeded", rows_extracted=loaded, rows_loaded=loaded,
                     rows_quarantined=0)
    return batch


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Obligation rows in one comparable shape and order."""
    frame = frame.loc[:, list(TABLE_COLUMNS)].copy()
    for column in ("crime_ref", "victim_id", "rule", "trigger_event_id", "status", "rule_set",
                   "department", "owner", "met_channel"):
        frame[column] = frame[column].astype("string").fillna("").astype(str)
    frame["channel_as_agreed"] = frame["channel_as_agreed"].astype("boolean")
    for column in ("trigger_at", "due_at", "met_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("us")
    frame["enhanced"] = frame["enhanced"].astype(bool)
    return frame.sort_values(KEY).reset_index(drop=True)


def stored(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return canonical(read_obligations(conn))


def table_rows(engine: Engine, name: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.text(f"SELECT * FROM {name}")).mappings().all())


@pytest.fixture
def engine(migrated_warehouse: str) -> Iterator[Engine]:
    engine = make_engine(migrated_warehouse)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path) -> Iterator[Engine]:
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def utc(text: str) -> datetime:
    return pd.Timestamp(text).tz_convert(UTC).to_pydatetime()
