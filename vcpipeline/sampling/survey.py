"""Survey estimates from the reviewed dip sample: what share of crimes got it right, and how sure we are.

Each sampled crime gets an answer per board-paper question: `Yes`, `No`, `N/A` or `No data`.
The quantity of interest is the share of **Yes among applicable crimes** (Yes + No) in the
quarter's population; N/A and No data are not applicable. The applicable crimes are a domain
whose size is itself estimated, so the estimator is a ratio (Lohr, *Sampling: Design and
Analysis*, §4.3 and §9.1; Cochran, *Sampling Techniques*, §6.11):

    w_hi = N_h / n_h                      design weight (n_h = crimes sampled in stratum h)
    y_hi = 1 if Yes else 0,  z_hi = 1 if Yes or No else 0
    R    = Σ w·y / Σ w·z                  the estimated proportion
    d_hi = y_hi − R·z_hi                  linearised residual
    v(R) = Σ_h N_h² (1 − n_h/N_h) s²_d,h / n_h  /  (Σ w·z)²

with s²_d,h the sample variance (n_h − 1 divisor) of d in stratum h and (1 − n_h/N_h) the
finite population correction. A stratum with a single sampled crime has no variance estimate
and contributes 0 (reported as `singleton_strata`). When every answer is applicable this is
the textbook stratified proportion, v = Σ W_h² (1 − f_h) p_h q_h / (n_h − 1).

A domain (e.g. one department) uses the same formulas with y and z set to 0 outside it,
keeping every stratum's n_h: the standard domain estimator.

Confidence interval: Korn & Graubard (1998, *Survey Methodology* 24:193), i.e. a
Clopper–Pearson interval on the effective sample size, which stays inside [0, 1] and keeps
its coverage at small n and near 0% or 100% where a Wald interval fails:

    n* = min(n_applicable, R(1 − R)/v)    (n_applicable when v = 0, e.g. R = 0 or 1)
    x* = R·n*
    lower = Beta⁻¹(α/2; x*, n* − x* + 1)        (0 when x* = 0)
    upper = Beta⁻¹(1 − α/2; x* + 1, n* − x*)    (1 when x* = n*)

Capping n* at the number of applicable answers (as the NCHS data presentation standards do)
never lets a design effect below 1 make the interval narrower than a simple random sample of
the same size would; we omit Korn–Graubard's degrees-of-freedom adjustment. If every stratum
was reviewed in full (n_h = N_h), there is no sampling error and the interval is [R, R].
Beta⁻¹ is computed here (continued fraction + bisection), so the package needs no scipy.

Quarter-on-quarter change: two independent samples (earlier samples are excluded), so
z = (R₁ − R₀) / √(v₁ + v₀), two-sided, significant when p < 0.05.

Agreement between reviewers and the automated findings: percent agreement and Cohen's kappa,
unweighted (it measures the instrument, not the population), over crimes where neither says
`No data`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

YES, NO, NOT_APPLICABLE, NO_DATA = "Yes", "No", "N/A", "No data"
ANSWERS: tuple[str, ...] = (YES, NO, NOT_APPLICABLE, NO_DATA)
_SPELLINGS = {
    "yes": YES, "y": YES, "no": NO, "n": NO,
    "n/a": NOT_APPLICABLE, "na": NOT_APPLICABLE, "not applicable": NOT_APPLICABLE,
    "no data": NO_DATA, "": NO_DATA,
}


@dataclass(frozen=True)
class ProportionEstimate:
    """A design-weighted share of Yes among applicable answers, with its uncertainty."""

    estimate: float               # NaN when no sampled crime is applicable
    variance: float
    standard_error: float
    ci_lower: float
    ci_upper: float
    effective_sample_size: float  # n* of the Korn–Graubard interval
    sampled: int                  # sampled crimes in the domain (every answer)
    applicable: int               # Yes + No
    yes: int
    singleton_strata: int         # strata with one sampled crime: no variance estimate


@dataclass(frozen=True)
class QuarterChange:
    """This quarter's estimate against the previous one's."""

    change: float        # current − previous, as a proportion
    z: float
    p_value: float
    significant: bool    # two-sided, at the given level (5% by default)


@dataclass(frozen=True)
class Agreement:
    """How often reviewers and the automated findings say the same thing."""

    compared: int
    percent_agreement: float  # 0–100
    kappa: float              # Cohen's kappa; NaN when both used a single identical category


def normalise_answers(answers: pd.Series) -> pd.Series:
    """Reviewer answers to Yes / No / N/A / No data (any case, trimmed; empty or missing = No data).

    Raises ValueError naming any other value: an estimator cannot guess what it meant.
    """
    text = answers.astype("str").str.strip().str.lower().fillna("")
    normal = text.map(_SPELLINGS)
    unknown = sorted(set(answers[normal.isna()].astype("str")))
    if unknown:
        raise ValueError(f"unknown answer(s): {', '.join(map(repr, unknown))}; expected {', '.join(ANSWERS)}")
    return normal.astype("str")


# --- Beta quantiles for the Clopper–Pearson / Korn–Graubard bounds -----------------------------

def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """Lentz's continued fraction for the incomplete beta function (Numerical Recipes §6.4)."""
    tiny, eps = 1e-300, 1e-16
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
                          -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), the Beta(a, b) distribution function at x (a, b > 0)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (a * math.log(x) + b * math.log1p(-x)
                 + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """Beta⁻¹(q; a, b) by bisection to the resolution of a double (I_x is monotone in x)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile level must be in [0, 1], got {q}")
    low, high = 0.0, 1.0
    for _ in range(1100):  # enough halvings to reach the smallest subnormal
        middle = (low + high) / 2.0
        if middle in (low, high):
            break
        if regularized_incomplete_beta(middle, a, b) < q:
            low = middle
        else:
            high = middle
    return high


def clopper_pearson(successes: float, trials: float, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval; real-valued successes/trials allowed (Korn–Graubard)."""
    alpha = 1.0 - confidence
    lower = 0.0 if successes <= 0 else beta_quantile(alpha / 2, successes, trials - successes + 1)
    upper = 1.0 if successes >= trials else beta_quantile(1 - alpha / 2, successes + 1, trials - successes)
    return lower, upper


def korn_graubard_interval(estimate: float, variance: float, applicable: int,
                           confidence: float = 0.95) -> tuple[float, float, float]:
    """(lower, upper, n*) for a survey proportion; formulas in the module docstring."""
    if applicable == 0 or math.isnan(estimate):
        return math.nan, math.nan, math.nan
    design_based = estimate * (1 - estimate) / variance if variance > 0 else math.inf
    effective = float(min(applicable, design_based))
    lower, upper = clopper_pearson(estimate * effective, effective, confidence)
    return min(lower, estimate), max(upper, estimate), effective


# --- Estimates ---------------------------------------------------------------------------------

def _stratum_counts(strata: pd.Series, stratum_sizes: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(n_h, N_h) aligned to the sampled strata; checks every stratum's N_h is known and ≥ n_h."""
    sampled = strata.value_counts()
    missing = sampled.index.difference(stratum_sizes.index)
    if len(missing):
        raise ValueError(f"no stratum size N_h for: {', '.join(map(str, sorted(missing)))}")
    population = stratum_sizes.reindex(sampled.index).astype("int64")
    over = sampled.index[sampled.to_numpy() > population.to_numpy()]
    if len(over):
        raise ValueError(f"more crimes sampled than the stratum holds in: {', '.join(map(str, sorted(over)))}")
    return sampled, population


def estimate_proportion(answers: pd.Series, strata: pd.Series, stratum_sizes: pd.Series,
                        domain: pd.Series | None = None, confidence: float = 0.95) -> ProportionEstimate:
    """The design-weighted share of Yes among applicable answers (formulas in the module docstring).

    `answers` and `strata` are aligned, one entry per sampled crime (all of the sample, so
    n_h is right); `stratum_sizes` maps stratum → N_h; `domain` (aligned booleans) restricts
    the estimate to part of the population, e.g. one department.
    """
    normal = normalise_answers(answers)
    inside = np.ones(len(normal), dtype=bool) if domain is None else domain.to_numpy(dtype=bool)
    y = ((normal == YES).to_numpy() & inside).astype(np.float64)
    z = (normal.isin((YES, NO)).to_numpy() & inside).astype(np.float64)
    sampled_h, population_h = _stratum_counts(strata, stratum_sizes)
    stratum = strata.to_numpy()
    weight = (population_h / sampled_h).reindex(stratum).to_numpy(dtype=np.float64)
    counts = dict(sampled=int(inside.sum()), applicable=int(z.sum()), yes=int(y.sum()),
                  singleton_strata=int((sampled_h == 1).sum()))
    total_applicable = float(np.dot(weight, z))
    if total_applicable == 0.0:
        nan = math.nan
        return ProportionEstimate(nan, nan, nan, nan, nan, nan, **counts)
    ratio = float(np.dot(weight, y)) / total_applicable
    residual = pd.Series(y - ratio * z, index=pd.Index(stratum, name="stratum"))
    spread = residual.groupby(level="stratum").var(ddof=1).reindex(sampled_h.index).fillna(0.0)
    correction = 1.0 - sampled_h / population_h
    variance = float((population_h.astype("float64") ** 2 * correction * spread / sampled_h).sum()
                     / total_applicable**2)
    if (correction == 0).all():  # every stratum reviewed in full: no sampling error
        lower, upper, effective = ratio, ratio, math.inf
    else:
        lower, upper, effective = korn_graubard_interval(ratio, variance, counts["applicable"], confidence)
    return ProportionEstimate(ratio, variance, math.sqrt(variance), lower, upper, effective, **counts)


def estimate_by_domain(answers: pd.Series, strata: pd.Series, stratum_sizes: pd.Series,
                       domains: pd.Series, confidence: float = 0.95) -> pd.DataFrame:
    """One estimate per domain value (e.g. department), as rows sorted by domain name."""
    rows = [
        {"domain": name, **estimate_proportion(answers, strata, stratum_sizes,
                                               domain=domains == name, confidence=confidence).__dict__}
        for name in sorted(domains.dropna().unique())
    ]
    columns = ["domain", *ProportionEstimate.__dataclass_fields__]
    return pd.DataFrame(rows, columns=columns)


def compare_quarters(current: ProportionEstimate, previous: ProportionEstimate,
                     level: float = 0.05) -> QuarterChange:
    """Two-sample z-test of the change in a proportion between two independent quarterly samples."""
    change = current.estimate - previous.estimate
    if math.isnan(change):
        return QuarterChange(math.nan, math.nan, math.nan, False)
    standard_error = math.sqrt(current.variance + previous.variance)
    if standard_error == 0.0:
        z = 0.0 if change == 0.0 else math.copysign(math.inf, change)
    else:
        z = change / standard_error
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return QuarterChange(change, z, p_value, bool(p_value < level))


def agreement(reviewer: pd.Series, automated: pd.Series) -> Agreement:
    """Percent agreement and Cohen's kappa between two aligned series of answers."""
    pairs = pd.DataFrame({"reviewer": normalise_answers(reviewer),
                          "automated": normalise_answers(automated.reindex(reviewer.index))})
    pairs = pairs[(pairs["reviewer"] != NO_DATA) & (pairs["automated"] != NO_DATA)]
    compared = len(pairs)
    if compared == 0:
        return Agreement(0, math.nan, math.nan)
    observed = float((pairs["reviewer"] == pairs["automated"]).mean())
    shares = pd.concat([pairs["reviewer"].value_counts(normalize=True),
                        pairs["automated"].value_counts(normalize=True)], axis=1).fillna(0.0)
    expected = float((shares.iloc[:, 0] * shares.iloc[:, 1]).sum())
    kappa = math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    return Agreement(compared, 100.0 * observed, kappa)
