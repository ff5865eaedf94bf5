"""Instants are converted once where they enter, into one type; the clock zone is spelled once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pendulum
import pytest

from vcpipeline.instants import LONDON, utc_instant

ROOT = Path(__file__).resolve().parents[1]

# Modules still spelling the zone themselves (issue 12): other engineers were editing them when
# the constant arrived. The list may only shrink.
KNOWN_SPELLINGS = {
    "vcpipeline/instants.py",  # the one home
}


@pytest.mark.parametrize("value", [
    pendulum.datetime(2026, 7, 1, 2, tz="Europe/London"),
    pd.Timestamp("2026-07-01T02:00:00+01:00"),
    datetime(2026, 7, 1, 3, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 7, 1, 1, tzinfo=UTC),
], ids=["pendulum", "pandas", "offset", "utc"])
def test_an_instant_from_any_zone_becomes_one_plain_utc_datetime(value):
    instant = utc_instant(value, "as_of")

    assert type(instant) is datetime and instant.tzinfo is UTC
    assert instant == datetime(2026, 7, 1, 1, tzinfo=UTC)


def test_a_naive_or_missing_instant_is_refused_naming_what_it_was():
    with pytest.raises(ValueError, match="interval_end is a naive datetime"):
        utc_instant(datetime(2026, 7, 1, 2), "interval_end")
    with pytest.raises(ValueError, match="no as_of"):
        utc_instant(None, "as_of")


def test_the_ingest_command_reads_a_local_wall_time_as_a_utc_instant():
    from vcpipeline.ingest.commands import parse_instant

    assert parse_instant("2026-07-01T02:00", "--start") == datetime(2026, 7, 1, 1, tzinfo=UTC)
    assert parse_instant("2026-01-01T02:00:00Z", "--end").tzinfo is UTC


def test_the_clock_zone_is_spelled_once():
    spelled = {
        path.relative_to(ROOT).as_posix()
        for folder in ("vcpipeline", "dags", "plugins") for path in (ROOT / folder).rglob("*.py")
        if re.search(r"[\"']Europe/London[\"']", path.read_text(encoding="utf-8"))
    }
    assert spelled <= KNOWN_SPELLINGS, f"use vcpipeline.instants.LONDON in {sorted(spelled - KNOWN_SPELLINGS)}"
    assert not KNOWN_SPELLINGS - spelled - {"vcpipeline/instants.py"}, \
        f"now spelled once: remove from KNOWN_SPELLINGS {sorted(KNOWN_SPELLINGS - spelled)}"
    assert LONDON == "Europe/London"
