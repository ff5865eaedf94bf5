"""Instants: the force's clock zone, and the one conversion of an instant where it enters.

The pipeline works on one type of instant, an aware `datetime` in UTC (`tzinfo` is
`datetime.UTC`), as its stage functions are typed; a `pd.Timestamp` in UTC is one too. An
instant is converted once where it enters (a CLI argument, a task's data interval, a file
read) by `utc_instant`, and the code below takes it as given. Standard library only, so a DAG
file or plugin can read `LONDON` while it is parsed without paying for pandas.
"""

from __future__ import annotations

from datetime import UTC, datetime

LONDON = "Europe/London"  # RULES.md "Units and clocks": local dates and wall times are London's


def utc_instant(value: datetime | None, what: str = "instant") -> datetime:
    """The instant as a plain aware `datetime` in UTC; a naive or missing one is refused.

    A naive value names no instant (which 02:00?), so guessing its zone would shift the night.
    A pendulum DateTime (what Airflow hands a task) or a `pd.Timestamp` becomes a plain
    `datetime`: pendulum drops its zone in arithmetic after `astimezone`, and later comparisons
    with aware instants would fail.
    """
    if value is None:
        raise ValueError(f"no {what}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} is a naive datetime {value!r}: pass a timezone-aware instant")
    utc = value.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second,
                    utc.microsecond, tzinfo=UTC)
