"""How the force's rows reach its source systems: written late, corrected, dropped in daily files,
and now and then bad (docs/sources.md "Bad rows"), with every bad row recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.calendar import local_dates, start_of_local_day
from vcpipeline.sources.config import SourceConfig
from vcpipeline.synth.calibration import (
    CORRECTED_ROW_SHARE,
    DUPLICATE_SHARE,
    LATE_ROW_SHARE,
    REDELIVERED_FILES,
)
from vcpipeline.synth.timing import DAY, HOUR, instants, local_naive, uniform


def native_codes(config: SourceConfig, mapping: str) -> dict[str, str]:
    """canonical value → native code, from the declared code list (first code wins)."""
    inverse: dict[str, str] = {}
    for native, canonical in config.codes(mapping).items():
        inverse.setdefault(canonical, native)
    return inverse



def audit(rng: np.random.Generator, at: np.ndarray, horizon: int, *, min_lag: int, max_lag: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """created / modified times and which rows exist by the extract (late rows may not yet)."""
    n = len(at)
    lag = uniform(rng, n, min_lag, max_lag)
    late = rng.random(n) < LATE_ROW_SHARE
    lag[late] = uniform(rng, int(late.sum()), 2 * DAY, 10 * DAY)
    created = at + lag
    corrected = rng.random(n) < CORRECTED_ROW_SHARE
    modified = np.where(corrected, created + uniform(rng, n, DAY, 15 * DAY), created)
    return created, np.minimum(modified, horizon), created <= horizon


def pick_rows(rng: np.random.Generator, candidates: np.ndarray, share: float) -> np.ndarray:
    """Row positions among `candidates` (bool mask) chosen at `share` of all rows."""
    pool = np.flatnonzero(candidates)
    k = min(len(pool), round(share * len(candidates)))
    return np.sort(rng.choice(pool, k, replace=False)) if k else np.array([], dtype=np.int64)


def record_bad(bad: list[pd.DataFrame], source: str, table: str, ids: pd.Series, kind: str) -> None:
    bad.append(pd.DataFrame({"source": source, "table": table,
                             "row_id": ids.astype("string").to_numpy(), "kind": kind}))



def with_audit(rng, rows: pd.DataFrame, horizon: int, *, min_lag: int, max_lag: int) -> pd.DataFrame:
    """The rows that exist by the extract, with created/modified, in the order they were written."""
    created, modified, exists = audit(rng, rows["at"].to_numpy(), horizon, min_lag=min_lag, max_lag=max_lag)
    out = rows.assign(created=created, modified=modified)[exists]
    return out.sort_values(["created", "at", "crime", "victim"], kind="stable").reset_index(drop=True)


def partner_drop(rng, events: pd.DataFrame, system: str, horizon: int) -> pd.DataFrame:
    """A partner's rows, each in the file of the local day it was last updated.

    A corrected row appears twice: the original delivery (its time keyed wrongly, minutes to
    two hours late) and, in a later day's file, the correction with a later last-updated time.
    A few whole days' files are re-delivered as `_v2`: there, a tenth of the rows put right a
    time the original file had keyed as midnight.
    """
    rows = with_audit(rng, events[events["system"] == system], horizon, min_lag=HOUR, max_lag=20 * HOUR)
    rows["row"] = np.arange(1, len(rows) + 1)
    corrected = rows[rows["modified"] > rows["created"]]
    original = corrected.assign(at=corrected["at"] + uniform(rng, len(corrected), 10 * 60, 2 * HOUR),
                                last_updated=corrected["created"])
    latest = rows.assign(last_updated=rows["modified"])
    out = pd.concat([original, latest], ignore_index=True)
    local_day = local_naive(out["last_updated"].to_numpy()).astype("datetime64[D]")
    out["file_day"] = pd.Series(np.datetime_as_string(local_day, unit="D"), dtype="string").str.replace("-", "")
    out["redelivery"] = ""

    days = np.sort(out["file_day"].unique())[:-3]
    if len(days):
        chosen = rng.choice(days, min(REDELIVERED_FILES, len(days)), replace=False)
        in_chosen = out["file_day"].isin(chosen).to_numpy()
        again = out[in_chosen].assign(redelivery="_v2",
                                      last_updated=np.minimum(out.loc[in_chosen, "last_updated"] + DAY, horizon))
        wrong = in_chosen & (rng.random(len(out)) < 0.1)
        midnight = start_of_local_day(local_dates(instants(out.loc[wrong, "at"].to_numpy())))
        out.loc[wrong, "at"] = midnight.as_unit("s").asi8
        out = pd.concat([out, again], ignore_index=True)
    out = out.sort_values(["file_day", "redelivery", "last_updated", "row"], kind="stable")
    return out.reset_index(drop=True)


def duplicate_rows(rng, frame: pd.DataFrame, bad: list, source: str, table: str, id_column: str) -> pd.DataFrame:
    """Repeat a few rows verbatim in the same file (a partner's export glitch)."""
    rows = pick_rows(rng, np.ones(len(frame), dtype=bool), DUPLICATE_SHARE)
    record_bad(bad, source, table, frame.loc[rows, id_column], "duplicate")
    out = pd.concat([frame, frame.iloc[rows]])
    return out.sort_index(kind="stable").reset_index(drop=True)


