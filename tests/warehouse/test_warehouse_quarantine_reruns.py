"""A rerun re-quarantines its rows without reopening entries that were closed in the meantime."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import sqlalchemy as sa

from vcpipeline.warehouse.load import quarantine_rows, start_batch
from vcpipeline.warehouse.schema import quarantine

from .conftest import NIGHT_END, NIGHT_START


def _bad_row(reason: str) -> pd.DataFrame:
    return pd.DataFrame({"source_row_id": ["e9"], "reasons": [reason]})


def test_rerunning_a_night_keeps_closed_an_entry_a_newer_extract_superseded(engine):
    superseded_at = NIGHT_END + timedelta(days=1)  # the next night's extract loaded the row
    with engine.begin() as conn:
        night = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        quarantine_rows(conn, night, "cms", "events", _bad_row("event_type_known"))
        conn.execute(sa.update(quarantine).values(replayed_at=superseded_at))
    with engine.begin() as conn:
        again = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        assert quarantine_rows(conn, again, "cms", "events", _bad_row("crime_ref_known")) == 1
        entries = conn.execute(sa.select(quarantine.c.reasons, quarantine.c.replayed_at)).all()
    assert [(reasons, closed) for reasons, closed in entries] == [("crime_ref_known", superseded_at)]


def test_rerunning_a_night_still_replaces_its_open_entries(engine):
    with engine.begin() as conn:
        night = start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        quarantine_rows(conn, night, "cms", "events", _bad_row("event_type_known"))
        start_batch(conn, "cms", NIGHT_START, NIGHT_END)
        quarantine_rows(conn, night, "cms", "events", _bad_row("crime_ref_known"))
        entries = conn.execute(sa.select(quarantine.c.reasons, quarantine.c.replayed_at)).all()
    assert [tuple(entry) for entry in entries] == [("crime_ref_known", None)]
