"""Who the synthetic victims are: sex, self-defined ethnicity and disability, as the crime
recording system codes them (docs/sources.md §1), with West Midlands-like shares.

Most victims have each recorded; some are not stated (`U`, `NS`, or left empty, as an officer
skipping the field leaves it), so the report's breakdowns have a Not stated row and small groups
that disclosure control must withhold. Drawn from a generator of their own, so adding them
leaves every other synthetic figure as it was.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# (native code, share). Sex: a little over half of victims are women.
SEX: tuple[tuple[str, float], ...] = (("F", 0.51), ("M", 0.45), ("U", 0.02), ("", 0.02))
# The 18+1 self-defined ethnicity codes; shares near the West Midlands' 2021 census (White ~63%,
# Asian ~19%, Black ~6%, Mixed ~4%, Other ~2%), with ~6% not stated.
ETHNICITY: tuple[tuple[str, float], ...] = (
    ("W1", 0.55), ("W2", 0.01), ("W3", 0.003), ("W9", 0.037),
    ("M1", 0.015), ("M2", 0.005), ("M3", 0.01), ("M9", 0.008),
    ("A1", 0.055), ("A2", 0.08), ("A3", 0.02), ("A4", 0.008), ("A9", 0.02),
    ("B1", 0.02), ("B2", 0.03), ("B9", 0.008),
    ("O1", 0.008), ("O9", 0.013),
    ("NS", 0.045),
)
# Disability: about one victim in five disabled.
DISABILITY: tuple[tuple[str, float], ...] = (("Y", 0.19), ("N", 0.71), ("U", 0.06), ("", 0.04))


def _draw(rng: np.random.Generator, n: int, shares: tuple[tuple[str, float], ...]) -> np.ndarray:
    codes = np.array([code for code, _ in shares], dtype=object)
    weights = np.array([share for _, share in shares], dtype=float)
    return codes[rng.choice(len(codes), size=n, p=weights / weights.sum())]


def victim_attribute_codes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """`n` victims' native sex, self_defined_ethnicity and disability codes."""
    return pd.DataFrame({
        "sex": _draw(rng, n, SEX),
        "self_defined_ethnicity": _draw(rng, n, ETHNICITY),
        "disability": _draw(rng, n, DISABILITY),
    }).astype("string")
