"""A small force in a real warehouse (SQLite, and PostgreSQL when configured) for the stored sample:
crimes and victims for 2025Q4 and 2026Q1 in three departments, and their obligations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import start_batch, upsert_crimes, upsert_victims

DEPARTMENT_SIZES = {"IIT": 30, "PPU": 12, "VVA": 40}
QUARTER_STARTS = {"2025Q4": "2025-10-01", "2026Q1": "2026-01-01"}
EXTRACTED = pd.Timestamp("2026-04-02T01:00:00Z")
STATUSES = np.array(["MET", "MET", "MET", "MET_LATE", "BREACHED", "PENDING"])

# The `obligations` table is the rule engine's (another part of the project): the columns its
# brief names, created here only when the warehouse does not have it yet.
OBLIGATIONS = sa.Table(
    "obligations", sa.MetaData(),
    *(sa.Column(name, sa.String(64)) for name in ("crime_ref", "victim_id", "rule", "trigger_event_id")),
    *(sa.Column(name, sa.String(32)) for name in ("trigger_at", "due_at", "met_at")),
    sa.Column("status", sa.String(16)), sa.Column("enhanced", sa.Boolean), sa.Column("rule_set", sa.String(16)),
    sa.Column("department", sa.String(64)),
)


def force_crimes() -> pd.DataFrame:
    crimes = pd.DataFrame([
        {"crime_ref": f"{department}-{quarter}-{number:03d}", "department": department,
         "reported_at": (pd.Timestamp(start, tz="Europe/London")
                         + pd.Timedelta(hours=31 * number + 7)).tz_convert("UTC")}
        for quarter, start in QUARTER_STARTS.items()
        for department, count in DEPARTMENT_SIZES.items()
        for number in range(1, count + 1)
    ])
    return crimes.assign(
        offence_category="burglary", domestic_abuse=False, hate_crime=False,
        source_system="crs", source_row_id=crimes["crime_ref"], extracted_at=EXTRACTED,
    )


def force_victims(crimes: pd.DataFrame) -> pd.DataFrame:
    with_victim = crimes[~crimes["crime_ref"].str.endswith("7")]  # every tenth-ish crime has none
    return pd.DataFrame({
        "crime_ref": with_victim["crime_ref"].to_numpy(), "victim_id": "V1", "age_at_report": 40,
        "vulnerable": False, "intimidated": False, "persistently_targeted": False,
        "source_system": "crs", "source_row_id": with_victim["crime_ref"].to_numpy() + "/V1",
        "extracted_at": EXTRACTED,
    })


def force_obligations(crimes: pd.DataFrame) -> pd.DataFrame:
    """Acknowledgement and referral for every crime; updates, VPS offer and feedback for some."""
    rng = np.random.default_rng(7)
    frames = []
    for rule, share in (("acknowledgement", 1.0), ("needs_referral", 1.0), ("investigation_update", 0.6),
                        ("outcome_notification", 0.4), ("vps_offer", 0.3), ("vps_feedback", 0.1)):
        chosen = crimes[rng.random(len(crimes)) < share]
        trigger = chosen["reported_at"] + pd.Timedelta(hours=2)
        status = STATUSES[rng.integers(0, len(STATUSES), len(chosen))]
        due = trigger + pd.Timedelta(days=5)
        met = np.where(status == "MET", (trigger + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                       np.where(status == "MET_LATE", (due + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                None))
        frames.append(pd.DataFrame({
            "crime_ref": chosen["crime_ref"].to_numpy(), "victim_id": "V1", "rule": rule,
            "trigger_event_id": "", "trigger_at": trigger.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(),
            "due_at": due.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(), "met_at": met, "status": status,
            "enhanced": False, "rule_set": "vcop-2020", "department": chosen["department"].to_numpy(),
        }))
    return pd.concat(frames, ignore_index=True)


def load_force(engine: Engine) -> pd.DataFrame:
    crimes = force_crimes()
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        upsert_crimes(conn, crimes, batch)
        upsert_victims(conn, force_victims(crimes), batch)
        if not sa.inspect(conn).has_table("obligations"):
            OBLIGATIONS.create(conn)
        table = sa.Table("obligations", sa.MetaData(), autoload_with=conn)
        rows = force_obligations(crimes)
        rows = rows[[name for name in rows.columns if name in table.c]]
        # pandas 3 reads missing text as NaN: send NULL (the real table's met_at is an instant).
        rows = rows.astype(object).where(rows.notna(), None)
        conn.execute(table.insert(), rows.to_dict(orient="records"))
    return crimes


@pytest.fixture
def force_engine(migrated_warehouse: str) -> Iterator[Engine]:
    """A migrated warehouse holding the small force (crimes, victims, obligations)."""
    engine = make_engine(migrated_warehouse)
    load_force(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_force_engine(tmp_path) -> Iterator[Engine]:
    """The small force on SQLite only: for behaviour that does not depend on the backend."""
    from vcpipeline.warehouse.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_force(engine)
    yield engine
    engine.dispose()
