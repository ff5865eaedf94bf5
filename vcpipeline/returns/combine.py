"""Regional or national tables from verified returns alone (pure: rows in, frame out).

Each force's published row is kept beside the others, and the total (`force` = ALL) is recomputed
from the counts, never by averaging rates. A suppressed cell travels as empty: a total over it
adds only the published counts, is marked `partial` and has no rate, so it holds nothing a
reader could not add up from the published returns themselves, and no force's withheld figure
can be worked out from it.

Survey questions: each force's sample is an independent stratum h with its population N_h,
estimate p_h and variance v_h, so the combined estimate is Σ N_h p_h / Σ N_h with variance
Σ (N_h / N)² v_h and a Korn-Graubard interval on n = Σ n_h applicable answers (df = n − H).
A force without an estimate for a question makes the combined figure partial.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.returns.table import KEY, ReturnError
from vcpipeline.sampling.survey import korn_graubard_interval

TOTAL = "ALL FORCES"  # not a force code (FORCE_CODE has no space)
COMBINED_COLUMNS: tuple[str, ...] = (*KEY, "force", "numerator", "denominator", "rate", "population",
                                     "variance", "ci_lower", "ci_upper", "survey_quarter", "suppressed",
                                     "partial")


def check_combinable(manifests: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """One schema version, one quarter, each force once; else a one-line ReturnError."""
    versions = {str(m.get("schema_version")) for m in manifests}
    if len(versions) > 1:
        shown = ", ".join(f"{n} has {m.get('schema_version')}" for n, m in zip(names, manifests, strict=True))
        raise ReturnError(f"mixed schema versions: {shown}")
    seen: dict[tuple[str, str], str] = {}
    for name, manifest in zip(names, manifests, strict=True):
        pair = (str(manifest.get("force")), str(manifest.get("quarter")))
        if pair in seen:
            raise ReturnError(f"duplicate force/quarter {pair[0]} {pair[1]}: {seen[pair]} and {name}")
        seen[pair] = name
    quarters = sorted({q for _, q in seen})
    if len(quarters) > 1:
        raise ReturnError(f"returns for more than one quarter ({', '.join(quarters)}): combine one quarter at a time")


def _sum_published(values: pd.Series) -> tuple[Any, bool]:
    """The sum of the published values and whether one was withheld (empty)."""
    known = values.dropna()
    return (int(known.sum()) if len(known) else pd.NA), len(known) < len(values)


def count_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Per key, the forces' published counts summed; partial where a force withheld one."""
    grouped = rows.groupby(list(KEY), sort=False, dropna=False)
    parts = []
    for name in ("numerator", "denominator"):
        summed = grouped[name].agg(lambda s: _sum_published(s)[0])
        withheld = grouped[name].agg(lambda s: _sum_published(s)[1])
        parts.append((summed.rename(name), withheld.rename(f"{name}_withheld")))
    totals = pd.concat([p for pair in parts for p in pair], axis=1).reset_index()
    totals["partial"] = (totals["numerator_withheld"] | totals["denominator_withheld"]
                         | grouped["suppressed"].any().to_numpy())
    num = pd.to_numeric(totals["numerator"], errors="coerce").astype("float64")
    den = pd.to_numeric(totals["denominator"], errors="coerce").astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        totals["rate"] = np.where((den > 0) & ~totals["partial"], num / den, np.nan)
    return totals.assign(force=TOTAL, suppressed=False).drop(columns=["numerator_withheld", "denominator_withheld"])


def survey_totals(rows: pd.DataFrame, forces: int | None = None) -> pd.DataFrame:
    """Per question, the forces' estimates combined as independent strata (module docstring);
    partial unless each of the `forces` combined (default: those with rows) has an estimate."""
    expected = rows["force"].nunique() if forces is None else forces
    out = []
    for key, group in rows.groupby(list(KEY), sort=False):
        usable = group.dropna(subset=["rate", "variance", "population"])
        usable = usable[usable["population"] > 0]
        population = float(usable["population"].sum())
        applicable = int(usable["denominator"].fillna(0).sum())
        if population > 0:
            share = usable["population"].astype(float) / population
            estimate = float((share * usable["rate"].astype(float)).sum())
            variance = float((share**2 * usable["variance"].astype(float)).sum())
            lower, upper, _ = korn_graubard_interval(estimate, variance, applicable,
                                                     float(applicable - len(usable)))
        else:
            estimate = variance = lower = upper = math.nan
        quarters = ",".join(sorted(set(group["survey_quarter"].dropna().astype(str))))
        out.append({**dict(zip(KEY, key, strict=True)), "force": TOTAL,
                    "numerator": int(usable["numerator"].fillna(0).sum()), "denominator": applicable,
                    "rate": estimate, "population": int(population), "variance": variance,
                    "ci_lower": lower, "ci_upper": upper, "survey_quarter": quarters,
                    "suppressed": False, "partial": usable["force"].nunique() < expected})
    return pd.DataFrame(out)


def combine_returns(rows_by_force: Sequence[list[dict[str, Any]]]) -> pd.DataFrame:
    """Every force's published rows and the recomputed totals (COMBINED_COLUMNS): per key the
    forces in the order given, then ALL. `about` rows are not combined."""
    frame = pd.DataFrame([row for rows in rows_by_force for row in rows])
    frame = frame[frame["section"] != "about"].reset_index(drop=True)
    for name in ("numerator", "denominator", "population"):
        frame[name] = frame[name].astype("Int64")
    for name in ("rate", "variance", "ci_lower", "ci_upper"):
        frame[name] = pd.to_numeric(frame[name]).astype("float64")
    frame["partial"] = False
    survey = frame["section"] == "survey"
    totals = pd.concat([t for t in (count_totals(frame[~survey]),
                                        survey_totals(frame[survey], len(rows_by_force))) if not t.empty],
                       ignore_index=True)
    both = pd.concat([frame, totals], ignore_index=True)
    forces = [*dict.fromkeys(frame["force"]), TOTAL]
    first_seen = {key: i for i, key in enumerate(dict.fromkeys(map(tuple, frame[list(KEY)].to_numpy())))}
    both["_key"] = [first_seen[tuple(k)] for k in both[list(KEY)].to_numpy()]
    both["_force"] = both["force"].map({f: i for i, f in enumerate(forces)})
    both = both.sort_values(["_key", "_force"], kind="stable").reset_index(drop=True)
    for name in ("numerator", "denominator", "population"):
        both[name] = both[name].astype("Int64")
    return both[list(COMBINED_COLUMNS)]
