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
finite population correction. A stratum with a single sampled crime has no within-stratum
variance estimate; unless it holds the whole stratum (N_h = 1, no sampling error), it is
counted in `singleton_strata` and **centred at the grand mean**: it adds (1 − f_h)(w_h d_h − m)²
to the numerator, m the mean of w·d over every sampled crime (0 for a ratio), as R's survey `options(survey.lonely.psu = "adjust")` and svy's
`singleton="center"` do. When every answer is applicable this is the textbook stratified
proportion, v = Σ W_h² (1 − f_h) p_h q_h / (n_h − 1).

A domain (e.g. one department) uses the same formulas with y and z set to 0 outside it,
keeping every stratum's n_h: the standard domain estimator.

Confidence interval: Korn & Graubard (1998, *Survey Methodology* 24:193) as the NCHS data
presentation standards (Parker et al. 2017) and svy's `ci_method="korn-graubard"` apply it: a
Clopper–Pearson interval on the degrees-of-freedom-adjusted effective sample size, which stays
inside [0, 1] and keeps its coverage at small n and near 0% or 100% where a Wald interval fails.
With n the applicable answers in the domain and df = n − H (H the strata holding them):

    n_eff = R(1 − R)/v                    (n when R is 0 or 1)
    n*    = min(n, n_eff · (t_{n−1}/t_{df})²)   (no adjustment when n = 1 or df < 1)
    x*    = R·n*
    lower = Beta⁻¹(α/2; x*, n* − x* + 1)        (0 when x* = 0)
    upper = Beta⁻¹(1 − α/2; x* + 1, n* − x*)    (1 when x* = n*)

t quantiles at 1 − α/2. Capping n* at n never lets a design effect below 1 make the interval
narrower than a simple random sample of the same size would. If every stratum holding the
domain's applicable answers was reviewed in full (n_h = N_h), there is no sampling error and the
interval is [R, R]. Quantiles come from scipy.stats.

Quarter-on-quarter change: two independent samples (earlier samples are excluded), tested with
a design-adjusted score test with pooled variance (Rao & Scott), valid when a quarter is at 0%
or 100%, where the variance of that quarter's estimate is 0 and a Wald z-test calls any change
significant. Each quarter's design effect is d_i = v_i n_i / (R_i(1 − R_i)) (1 when R_i is 0 or
1) and its effective size m_i = n_i / d_i; under no change the common share is
p̄ = Σ m_i R_i / Σ m_i and z = (R₁ − R₀) / √(p̄(1 − p̄)(1/m₁ + 1/m₀)), two-sided, significant when
p < 0.05. With d_i = 1 this is the textbook two-proportion test (Pearson's χ² without
continuity correction).

Agreement between reviewers and the automated findings: percent agreement and Cohen's kappa,
unweighted (it measures the instrument, not the population), over the crimes where **both**
answered Yes or No: N/A matching N/A says nothing about whether the obligation was met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
    singleton_strata: int         # strata with one sampled crime of several: variance centred
    degrees_of_freedom: float = math.nan  # applicable answers − strata holding them


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


# --- Korn–Graubard bounds ----------------------------------------------------------------------

def clopper_pearson(successes: float, trials: float, confidence: float = 0.95) -> tuple[float, float]:
    """The exact binomial interval; real-valued successes/trials allowed (Korn–Graubard)."""
    alpha = 1.0 - confidence
    lower = 0.0 if successes <= 0 else float(stats.beta.ppf(alpha / 2, successes, trials - successes + 1))
    upper = 1.0 if successes >= trials else float(stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes))
    return lower, upper


def korn_graubard_interval(estimate: float, variance: float, applicable: int, degrees_of_freedom: float,
                           confidence: float = 0.95) -> tuple[float, float, float]:
    """(lower, upper, n*) for a survey proportion; formulas in the module docstring."""
    if applicable == 0 or math.isnan(estimate):
        return math.nan, math.nan, math.nan
    boundary = estimate <= 0.0 or estimate >= 1.0
    effective = float(applicable) if boundary or variance <= 0 else estimate * (1 - estimate) / variance
    if applicable > 1 and degrees_of_freedom >= 1:
        level = 1.0 - (1.0 - confidence) / 2
        effective *= (stats.t.ppf(level, applicable - 1) / stats.t.ppf(level, degrees_of_freedom)) ** 2
    effective = float(min(applicable, effective))
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
    stratum = pd.Index(strata.to_numpy(), name="stratum")
    weight = (population_h / sampled_h).reindex(stratum).to_numpy(dtype=np.float64)
    holding = pd.Series(inside, index=stratum).groupby(level="stratum").any().reindex(sampled_h.index)
    applicable_in = pd.Series(z > 0, index=stratum).groupby(level="stratum").any().reindex(sampled_h.index)
    lonely = (sampled_h == 1) & (population_h > 1)
    counts = dict(sampled=int(inside.sum()), applicable=int(z.sum()), yes=int(y.sum()),
                  singleton_strata=int((lonely & holding).sum()))
    total_applicable = float(np.dot(weight, z))
    if total_applicable == 0.0:
        nan = math.nan
        return ProportionEstimate(nan, nan, nan, nan, nan, nan, **counts)
    ratio = float(np.dot(weight, y)) / total_applicable
    residual = y - ratio * z
    by_stratum = pd.Series(residual, index=stratum).groupby(level="stratum")
    spread = by_stratum.var(ddof=1).reindex(sampled_h.index).fillna(0.0)
    correction = 1.0 - sampled_h / population_h
    within = population_h.astype("float64") ** 2 * correction * spread / sampled_h
    # a lonely stratum's one weighted residual, centred at the grand mean of w·d over the sample
    grand_mean = float(np.dot(weight, residual)) / len(residual)
    weighted_one = (by_stratum.sum().reindex(sampled_h.index) * population_h / sampled_h) - grand_mean
    centred = correction * weighted_one**2
    variance = float(within.where(~lonely, centred).sum() / total_applicable**2)
    degrees_of_freedom = float(counts["applicable"] - int(applicable_in.sum()))
    if (correction[applicable_in] == 0).all():  # the domain's strata reviewed in full: no sampling error
        lower, upper, effective = ratio, ratio, math.inf
    else:
        lower, upper, effective = korn_graubard_interval(ratio, variance, counts["applicable"],
                                                         degrees_of_freedom, confidence)
    return ProportionEstimate(ratio, variance, math.sqrt(variance), lower, upper, effective, **counts,
                              degrees_of_freedom=degrees_of_freedom)


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


def effective_size(estimate: float, variance: float, applicable: int) -> float:
    """n / design effect, the size of a simple random sample as precise; n where the design
    effect is undefined (R is 0 or 1) and infinite where v = 0 otherwise (reviewed in full)."""
    if estimate <= 0.0 or estimate >= 1.0:
        return float(applicable)
    return math.inf if variance <= 0.0 else estimate * (1.0 - estimate) / variance


def compare_quarters(current: ProportionEstimate, previous: ProportionEstimate,
                     level: float = 0.05) -> QuarterChange:
    """Design-adjusted two-sample score test (pooled variance) of the change in a proportion
    between two independent quarterly samples; valid at 0% and 100% (module docstring)."""
    change = current.estimate - previous.estimate
    if math.isnan(change) or min(current.applicable, previous.applicable) == 0:
        return QuarterChange(change, math.nan, math.nan, False)
    sizes = (effective_size(current.estimate, current.variance, current.applicable),
             effective_size(previous.estimate, previous.variance, previous.applicable))
    values = (current.estimate, previous.estimate)
    exact = [value for size, value in zip(sizes, values, strict=True) if math.isinf(size)]
    # a quarter reviewed in full knows its share exactly: under no change, that is the common share
    pooled = (sum(exact) / len(exact) if exact else
              sum(size * value for size, value in zip(sizes, values, strict=True)) / sum(sizes))
    pooled_variance = pooled * (1.0 - pooled) * sum(1.0 / size for size in sizes)
    if pooled_variance <= 0.0:
        z = 0.0 if change == 0.0 else math.copysign(math.inf, change)
    else:
        z = change / math.sqrt(pooled_variance)
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return QuarterChange(change, z, p_value, bool(p_value < level))


def agreement(reviewer: pd.Series, automated: pd.Series) -> Agreement:
    """Percent agreement and Cohen's kappa over the crimes both sides answered Yes or No."""
    pairs = pd.DataFrame({"reviewer": normalise_answers(reviewer),
                          "automated": normalise_answers(automated.reindex(reviewer.index))})
    pairs = pairs[pairs["reviewer"].isin((YES, NO)) & pairs["automated"].isin((YES, NO))]
    compared = len(pairs)
    if compared == 0:
        return Agreement(0, math.nan, math.nan)
    observed = float((pairs["reviewer"] == pairs["automated"]).mean())
    shares = pd.concat([pairs["reviewer"].value_counts(normalize=True),
                        pairs["automated"].value_counts(normalize=True)], axis=1).fillna(0.0)
    expected = float((shares.iloc[:, 0] * shares.iloc[:, 1]).sum())
    kappa = math.nan if expected >= 1.0 else (observed - expected) / (1.0 - expected)
    return Agreement(compared, 100.0 * observed, kappa)
