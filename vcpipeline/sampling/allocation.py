"""How many crimes each department (stratum) contributes to the quarterly dip sample.

CONTRACT.md fixes the rule. With a minimum m per stratum and m_h = min(m, N_h), the real
allocation is x_h = clamp(λ·N_h, m_h, N_h), with λ chosen so that Σ x_h = n: proportional to
size, but never below the minimum (or the whole stratum, if smaller) and never above N_h.
The sample sizes are floor(x_h), and the units left over go one each to the strata with the
largest fractional parts (ties: larger N_h first, then stratum name A→Z).

The arithmetic is exact: Σ clamp(λ·N_h, m_h, N_h) is continuous, non-decreasing and linear
between the breakpoints m_h/N_h and 1, so λ is found by walking the sorted breakpoints and
solving the one linear piece that crosses n, in rational numbers (`fractions.Fraction`).
A float λ would put x_h = 2.9999999999 on the wrong side of a floor or misorder two equal
fractional parts; with a dozen strata the exact version costs nothing.
"""

from __future__ import annotations

from fractions import Fraction

import pandas as pd


class SamplingError(ValueError):
    """A sample that cannot be drawn as asked (e.g. the minimums exceed the sample size)."""


def stratum_minimums(stratum_sizes: pd.Series, minimum: int) -> pd.Series:
    """m_h = min(m, N_h): a stratum smaller than the minimum is taken whole."""
    return stratum_sizes.clip(upper=minimum).astype("int64")


def _clamped_total(lam: Fraction, sizes: list[int], minimums: list[int]) -> Fraction:
    return sum((min(max(lam * size, Fraction(low)), Fraction(size))
                for size, low in zip(sizes, minimums, strict=True)), Fraction(0))


def real_allocation(stratum_sizes: pd.Series, n: int, minimum: int) -> list[Fraction]:
    """The exact x_h = clamp(λ·N_h, m_h, N_h) with Σ x_h = n, one per stratum in index order."""
    sizes = [int(size) for size in stratum_sizes]
    minimums = [min(minimum, size) for size in sizes]
    if any(size < 0 for size in sizes):
        raise SamplingError("stratum sizes must not be negative")
    if minimum < 0 or n < 0:
        raise SamplingError("the sample size and the minimum per stratum must not be negative")
    population = sum(sizes)
    if n > population:
        raise SamplingError(f"cannot sample {n} crimes from a population of {population}")
    if sum(minimums) > n:
        raise SamplingError(
            f"the minimum of {minimum} per stratum needs {sum(minimums)} crimes across "
            f"{len(sizes)} strata, more than the sample size {n}"
        )
    # λ = 0 gives Σ m_h <= n and λ = 1 gives Σ N_h >= n; the crossing lies between two
    # consecutive breakpoints, where the total is linear in λ.
    breakpoints = sorted({Fraction(low, size) for size, low in zip(sizes, minimums, strict=True)
                          if size > 0} | {Fraction(0), Fraction(1)})
    target = Fraction(n)
    lam = Fraction(1)
    previous, previous_total = breakpoints[0], _clamped_total(breakpoints[0], sizes, minimums)
    if previous_total >= target:
        lam = previous
    else:
        for point in breakpoints[1:]:
            total = _clamped_total(point, sizes, minimums)
            if total >= target:
                lam = previous + (target - previous_total) * (point - previous) / (total - previous_total)
                break
            previous, previous_total = point, total
    allocation = [min(max(lam * size, Fraction(low)), Fraction(size))
                  for size, low in zip(sizes, minimums, strict=True)]
    if sum(allocation, Fraction(0)) != target:  # cannot happen; a guard against a future edit
        raise AssertionError(f"allocation sums to {sum(allocation)} instead of {n}")
    return allocation


def allocate(stratum_sizes: pd.Series, n: int, minimum: int) -> pd.Series:
    """n_h per stratum (same index as `stratum_sizes`, which maps stratum name → N_h).

    Raises SamplingError when Σ min(m, N_h) > n or n exceeds the population.
    """
    exact = real_allocation(stratum_sizes, n, minimum)
    floors = [int(x) for x in exact]  # x >= 0, so int() is floor
    leftover = n - sum(floors)
    order = sorted(
        range(len(exact)),
        key=lambda i: (-(exact[i] - floors[i]), -int(stratum_sizes.iloc[i]), str(stratum_sizes.index[i])),
    )
    for i in order[:leftover]:
        floors[i] += 1
    return pd.Series(floors, index=stratum_sizes.index, dtype="int64", name="stratum_sample_size")


def allocation_table(stratum_sizes: pd.Series, n: int, minimum: int) -> pd.DataFrame:
    """The allocation with its working: N_h, m_h, exact x_h, n_h, n_h/N_h and N_h/n_h, by stratum A→Z."""
    sizes = stratum_sizes.sort_index()
    exact = real_allocation(sizes, n, minimum)
    sample_sizes = allocate(sizes, n, minimum)
    table = pd.DataFrame({
        "stratum": sizes.index.astype("str"),
        "stratum_population": sizes.to_numpy(dtype="int64"),
        "stratum_minimum": stratum_minimums(sizes, minimum).to_numpy(),
        "exact_allocation": [float(x) for x in exact],
        "stratum_sample_size": sample_sizes.to_numpy(),
    })
    population = table["stratum_population"].astype("float64")
    sampled = table["stratum_sample_size"].astype("float64")
    table["selection_probability"] = (sampled / population).where(population > 0)
    table["design_weight"] = (population / sampled).where(sampled > 0)
    return table
