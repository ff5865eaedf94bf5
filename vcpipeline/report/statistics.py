"""Small statistics the report's sections share: an interval for a rate and a correction for
testing many groups at once. Pure functions over counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import binomtest


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (scipy's), valid at 0% and 100%; NaN when there are no trials."""
    if trials <= 0:
        return math.nan, math.nan
    found = binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return float(found.low), float(found.high)


def holm(p_values: pd.Series) -> pd.Series:
    """Holm's step-down adjustment (NaN p-values are left out and stay NaN): with many offence
    categories one would otherwise look significant by chance."""
    tested = p_values.dropna().sort_values(kind="stable")
    m = len(tested)
    if m == 0:
        return p_values.astype(float)
    stepped = np.maximum.accumulate(np.minimum(1.0, tested.to_numpy() * (m - np.arange(m))))
    return pd.Series(stepped, index=tested.index).reindex(p_values.index)
