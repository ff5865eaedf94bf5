"""Time in the synthetic force: instants as int64 seconds since the epoch, whole columns at once.

Deadlines come from the project's one calendar (`calendar.due_instants`), so the generator and
the rule engine agree on every due date; the text helpers write the sources' own time formats.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON, due_instants

HOUR, DAY = 3600, 86400


def seconds(stamp: pd.Timestamp) -> int:
    return int(stamp.timestamp())


def instants(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True))


def due(trigger: np.ndarray, n: np.ndarray | int, unit: str | np.ndarray = "working_days") -> np.ndarray:
    """`due_at` (seconds) of obligations triggered at `trigger` seconds: calendar.due_instants."""
    if len(trigger) == 0:
        return trigger.astype(np.int64)
    return due_instants(instants(trigger), n, unit).as_unit("s").asi8


def respond(rng: np.random.Generator, trigger: np.ndarray, due: np.ndarray, on_time: np.ndarray,
            missing_share: float = 0.3, late_mean_days: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """When the satisfying contact happened, and whether it happened at all.

    On time: somewhere between the trigger and the deadline. Otherwise late (after the
    deadline) or, for `missing_share` of those, never.
    """
    n = len(trigger)
    span = np.maximum(due - trigger, HOUR)
    early = trigger + (rng.uniform(0.03, 0.9, n) * span).astype(np.int64)
    late = due + HOUR + rng.exponential(late_mean_days * DAY, n).astype(np.int64)
    present = on_time | (rng.random(n) >= missing_share)
    return np.where(on_time, early, late), present


def uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """`n` whole seconds drawn uniformly in [low, high)."""
    return rng.uniform(low, high, n).astype(np.int64)


def local_naive(seconds: np.ndarray) -> np.ndarray:
    """Europe/London wall time, as naive datetime64[s]."""
    return instants(seconds).tz_convert(LONDON).tz_localize(None).to_numpy().astype("datetime64[s]")


def local_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DD HH:MM:SS` Europe/London wall time."""
    return pd.Series(np.datetime_as_string(local_naive(seconds), unit="s"), dtype="string").str.replace("T", " ")


def utc_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DDTHH:MM:SSZ`."""
    return pd.Series(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), dtype="string") + "Z"


def uk_text(seconds: np.ndarray) -> pd.Series:
    """`dd/mm/yyyy HH:MM` Europe/London wall time (the partner's format)."""
    iso = pd.Series(np.datetime_as_string(local_naive(seconds), unit="m"), dtype="string")
    return (iso.str.slice(8, 10) + "/" + iso.str.slice(5, 7) + "/" + iso.str.slice(0, 4)
            + " " + iso.str.slice(11, 16))
