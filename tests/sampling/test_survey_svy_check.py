"""The survey estimates against an independent package: svy (samplics' successor), a stratified
design with finite population correction, Korn–Graubard intervals (its NCHS `korn-graubard`
method, df = PSUs − strata holding the domain) and singleton strata centred (`singleton="center"`,
R survey's lonely.psu "adjust")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vcpipeline.sampling.survey import agreement, estimate_proportion

pl = pytest.importorskip("polars")
svy = pytest.importorskip("svy")

# N_h, n_h: two sampled departments, one reviewed in full (N ≤ 10 is taken whole), one with a
# single reviewed crime (a partial return)
DESIGN = {"A": (50, 10), "B": (30, 10), "C": (8, 8), "D": (40, 1)}


def sample(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [{"stratum": name, "N": size, "wgt": size / taken,
             "answer": rng.choice(["Yes", "No", "N/A"], p=[0.6, 0.3, 0.1])}
            for name, (size, taken) in DESIGN.items() for _ in range(taken)]
    frame = pd.DataFrame(rows)
    frame.index = pd.Index([f"C{i}" for i in range(len(frame))], name="crime_ref")
    return frame


def svy_korn_graubard(frame: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    data = pl.from_pandas(frame.reset_index(drop=True)).with_columns(
        yes=(pl.col("answer") == "Yes").cast(pl.Int64), applicable=(pl.col("answer") != "N/A").cast(pl.Int64))
    design = svy.Sample(data, svy.Design(stratum="stratum", wgt="wgt", pop_size="N", singleton="center"))
    result = design.estimation.prop("yes", by=by, where=svy.col("applicable") == 1,
                                    ci_method="korn-graubard").to_polars().to_pandas()
    return result[result["yes"] == 1]


@pytest.mark.parametrize("seed", [3, 11, 29, 47])
def test_force_estimate_and_korn_graubard_interval_match_svy(seed):
    frame = sample(seed)
    ours = estimate_proportion(frame["answer"], frame["stratum"], frame.groupby("stratum")["N"].first())
    theirs = svy_korn_graubard(frame).iloc[0]
    assert ours.estimate == pytest.approx(theirs["est"], rel=1e-9)
    assert ours.standard_error == pytest.approx(theirs["se"], rel=1e-9)  # D's one crime centred, as svy
    assert ours.degrees_of_freedom == theirs["df"]
    assert (ours.ci_lower, ours.ci_upper) == (pytest.approx(theirs["lci"], rel=1e-9),
                                              pytest.approx(theirs["uci"], rel=1e-9))
    assert ours.singleton_strata == 1


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_department_estimates_match_svy_and_a_department_reviewed_in_full_has_no_interval_width(seed):
    frame = sample(seed)
    sizes = frame.groupby("stratum")["N"].first()
    theirs = svy_korn_graubard(frame, by="stratum").set_index("stratum")
    for department in ("A", "B", "C"):
        ours = estimate_proportion(frame["answer"], frame["stratum"], sizes, domain=frame["stratum"] == department)
        row = theirs.loc[department]
        assert ours.estimate == pytest.approx(row["est"], rel=1e-9)
        if 0 < ours.estimate < 1:  # svy leaves 0% and 100% of a full census one-sided
            assert (ours.ci_lower, ours.ci_upper) == (pytest.approx(row["lci"], rel=1e-9),
                                                      pytest.approx(row["uci"], rel=1e-9))
    whole = estimate_proportion(frame["answer"], frame["stratum"], sizes, domain=frame["stratum"] == "C")
    assert whole.ci_lower == whole.ci_upper == whole.estimate


def test_stratum_with_one_reviewed_crime_adds_centred_variance_not_zero():
    # D has one reviewed crime of 40 (weight 40): it used to add 0 silently; centred at the grand
    # mean (0 for a ratio) it adds (1 − 1/40)(40 d)² / (Σ w z)², d = y − R z.
    frame = sample(3)
    ours = estimate_proportion(frame["answer"], frame["stratum"], frame.groupby("stratum")["N"].first())
    data = pl.from_pandas(frame.reset_index(drop=True)).with_columns(
        yes=(pl.col("answer") == "Yes").cast(pl.Int64), applicable=(pl.col("answer") != "N/A").cast(pl.Int64))
    skipped = svy.Sample(data, svy.Design(stratum="stratum", wgt="wgt", pop_size="N", singleton="skip"))
    skip_se = float(skipped.estimation.prop("yes", where=svy.col("applicable") == 1)
                    .to_polars().filter(pl.col("yes") == 1)["se"][0])
    answer = frame.loc[frame["stratum"] == "D", "answer"].iloc[0]
    d = (answer == "Yes") - ours.estimate * (answer in ("Yes", "No"))
    applicable_total = float((frame["wgt"] * frame["answer"].isin(["Yes", "No"])).sum())
    centred = (1 - 1 / 40) * (40 * d) ** 2 / applicable_total**2
    assert ours.variance == pytest.approx(skip_se**2 + centred, rel=1e-9)
    assert centred > 0 and ours.singleton_strata == 1


def test_agreement_leaves_out_na_matching_na():
    # 8 crimes where both said N/A, 2 where both answered: 1 agree, 1 not → 50% of 2, not 90% of 10
    reviewer = pd.Series(["N/A"] * 8 + ["Yes", "No"])
    automated = pd.Series(["N/A"] * 8 + ["Yes", "Yes"])
    result = agreement(reviewer, automated)
    assert (result.compared, result.percent_agreement) == (2, 50.0)
    assert result.kappa == pytest.approx(0.0)
