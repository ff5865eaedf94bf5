"""Survey estimates from the reviewed dip sample, checked against arithmetic written out by hand."""

from __future__ import annotations

import math
from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from vcpipeline.sampling.survey import (
    ProportionEstimate,
    agreement,
    clopper_pearson,
    compare_quarters,
    estimate_by_domain,
    estimate_proportion,
    normalise_answers,
)

SIZES = pd.Series({"A": 100, "B": 50})


def reviewed(**strata: list[str]) -> tuple[pd.Series, pd.Series]:
    """(answers, strata), one entry per sampled crime."""
    answers = [answer for values in strata.values() for answer in values]
    labels = [name for name, values in strata.items() for _ in values]
    index = pd.Index([f"C{i}" for i in range(len(answers))], name="crime_ref")
    return pd.Series(answers, index=index, dtype="str"), pd.Series(labels, index=index, dtype="str")


def test_all_applicable_matches_the_textbook_stratified_proportion():
    # Cochran §5.5: p_st = Σ W_h p_h,  v = Σ W_h² (1 − f_h) p_h q_h / (n_h − 1).
    # A: N 100, n 5, 3 Yes → p .6;   B: N 50, n 4, 1 Yes → p .25.   W = 2/3, 1/3.
    # p_st = 2/3·.6 + 1/3·.25 = .4 + .08333… = .48333…
    # v = (4/9)(1 − .05)(.6·.4)/4 + (1/9)(1 − .08)(.25·.75)/3
    #   = (4/9)(.057) + (1/9)(.0575) = (.228 + .0575)/9 = .2855/9
    answers, strata = reviewed(A=["Yes", "Yes", "Yes", "No", "No"], B=["Yes", "No", "No", "No"])
    result = estimate_proportion(answers, strata, SIZES)
    assert result.estimate == pytest.approx(0.4 + 0.25 / 3, rel=1e-12)
    assert result.variance == pytest.approx(0.2855 / 9, rel=1e-12)
    assert result.standard_error == pytest.approx(math.sqrt(0.2855 / 9), rel=1e-12)
    assert (result.sampled, result.applicable, result.yes) == (9, 9, 4)


def test_not_applicable_and_no_data_are_left_out_as_a_domain_ratio():
    # A: N 100, n 5: Yes Yes No N/A (No data)   weight 100/5 = 20
    # B: N 50,  n 4: Yes N/A N/A N/A            weight 50/4 = 12.5
    # Ŷ = 20·2 + 12.5·1 = 52.5;  Ẑ = 20·3 + 12.5·1 = 72.5;  R = 52.5/72.5 = 21/29
    # d = y − R z, in 29ths: A 8, 8, −21, 0, 0 (mean −1; deviations 9, 9, −20, 1, 1;
    #   Σ² = 564; s² = 564/4 = 141 → 141/841);  B 8, 0, 0, 0 (mean 2; deviations 6, −2, −2, −2;
    #   Σ² = 48; s² = 48/3 = 16 → 16/841)
    # v = [100²·(1 − 5/100)·(141/841)/5 + 50²·(1 − 4/50)·(16/841)/4] / 72.5²
    #   = [1900·141 + 575·16]/841 / 72.5² = (277100/841) / 5256.25
    answers, strata = reviewed(A=["Yes", "Yes", "No", "N/A", "No data"], B=["Yes", "N/A", "N/A", "N/A"])
    result = estimate_proportion(answers, strata, SIZES)
    expected_variance = Fraction(277100, 841) / Fraction(145, 2) ** 2
    assert result.estimate == pytest.approx(21 / 29, rel=1e-12)
    assert result.variance == pytest.approx(float(expected_variance), rel=1e-12)
    assert (result.sampled, result.applicable, result.yes) == (9, 4, 3)
    assert result.ci_lower < result.estimate < result.ci_upper


def test_interval_is_korn_graubard_clopper_pearson_on_the_df_adjusted_effective_sample_size():
    answers, strata = reviewed(A=["Yes", "Yes", "Yes", "No", "No"], B=["Yes", "No", "No", "No"])
    result = estimate_proportion(answers, strata, SIZES)
    p, v = result.estimate, result.variance
    # n = 9 answers in H = 2 strata: df = 7; n_eff 7.86… shrunk by (t_8/t_7)²
    assert result.degrees_of_freedom == 7
    n_star = min(9, p * (1 - p) / v * (stats.t.ppf(0.975, 8) / stats.t.ppf(0.975, 7)) ** 2)
    assert result.effective_sample_size == pytest.approx(n_star, rel=1e-12)
    x = p * n_star
    assert result.ci_lower == pytest.approx(stats.beta.ppf(0.025, x, n_star - x + 1), rel=1e-12)
    assert result.ci_upper == pytest.approx(stats.beta.ppf(0.975, x + 1, n_star - x), rel=1e-12)


def test_all_yes_gives_an_exact_upper_bound_of_one_and_a_sensible_lower_bound():
    answers, strata = reviewed(A=["Yes"] * 12)
    result = estimate_proportion(answers, strata, pd.Series({"A": 5000}))
    assert (result.estimate, result.variance, result.ci_upper) == (1.0, 0.0, 1.0)
    # Clopper–Pearson at x = n = 12: lower = 0.025^(1/12)
    assert result.ci_lower == pytest.approx(0.025 ** (1 / 12), rel=1e-12)


def test_all_no_gives_a_lower_bound_of_zero():
    answers, strata = reviewed(A=["No"] * 10, B=["No"] * 10)
    result = estimate_proportion(answers, strata, SIZES)
    assert (result.estimate, result.ci_lower) == (0.0, 0.0)
    n_star = 20 * (stats.t.ppf(0.975, 19) / stats.t.ppf(0.975, 18)) ** 2  # df = 20 − 2 strata
    assert result.ci_upper == pytest.approx(1 - 0.025 ** (1 / n_star), rel=1e-12)


def test_whole_population_reviewed_has_no_sampling_error():
    answers, strata = reviewed(A=["Yes", "No", "No", "Yes"])
    result = estimate_proportion(answers, strata, pd.Series({"A": 4}))
    assert (result.estimate, result.variance, result.ci_lower, result.ci_upper) == (0.5, 0.0, 0.5, 0.5)


def test_no_applicable_answers_gives_no_estimate():
    answers, strata = reviewed(A=["N/A", "No data"])
    result = estimate_proportion(answers, strata, SIZES)
    assert math.isnan(result.estimate) and math.isnan(result.ci_lower)
    assert (result.sampled, result.applicable) == (2, 0)


def test_stratum_with_one_sampled_crime_is_counted_as_a_singleton():
    answers, strata = reviewed(A=["Yes", "No"], B=["Yes"])
    assert estimate_proportion(answers, strata, SIZES).singleton_strata == 1


def test_per_department_estimate_equals_the_estimate_within_that_stratum():
    answers, strata = reviewed(A=["Yes", "Yes", "No", "N/A", "No data"], B=["Yes", "No", "No", "N/A"])
    table = estimate_by_domain(answers, strata, SIZES, domains=strata).set_index("domain")
    for name in ("A", "B"):
        alone = estimate_proportion(answers[strata == name], strata[strata == name], SIZES)
        assert table.loc[name, "estimate"] == pytest.approx(alone.estimate, rel=1e-12)
        assert table.loc[name, "variance"] == pytest.approx(alone.variance, rel=1e-12)
    # B alone: 1 Yes of 3 applicable; A alone: 2 of 3.
    assert table.loc["B", "estimate"] == pytest.approx(1 / 3)
    assert table.loc["A", "estimate"] == pytest.approx(2 / 3)
    assert list(table.columns) == list(ProportionEstimate.__dataclass_fields__)


def test_stratum_without_a_known_size_is_refused():
    answers, strata = reviewed(C=["Yes"])
    with pytest.raises(ValueError, match="no stratum size N_h for: C"):
        estimate_proportion(answers, strata, SIZES)


def test_unknown_answer_is_refused_by_name():
    with pytest.raises(ValueError, match="'Maybe'"):
        normalise_answers(pd.Series(["Yes", "Maybe"]))


def test_answers_are_normalised_case_and_spacing_and_missing():
    got = normalise_answers(pd.Series([" yes", "NO", "n/a", None, "", "No Data"], dtype="str"))
    assert got.tolist() == ["Yes", "No", "N/A", "No data", "No data", "No data"]


def estimate(value: float, variance: float, applicable: int = 100) -> ProportionEstimate:
    return ProportionEstimate(value, variance, math.sqrt(variance), 0, 1, 100, applicable, applicable, 50, 0)


def test_drop_from_90_to_75_percent_is_significant():
    # design effects: .0009·100/(.75·.25) = .48, .0004·100/(.9·.1) = .444 → m = 208.3, 225
    # p̄ = (208.3·.75 + 225·.9)/433.3 = .828;  z = −.15/√(p̄ q̄ (1/208.3 + 1/225)) = −5.0
    change = compare_quarters(estimate(0.75, 0.0009), estimate(0.90, 0.0004))
    m1, m0 = 0.75 * 0.25 / 0.0009, 0.9 * 0.1 / 0.0004
    pooled = (m1 * 0.75 + m0 * 0.9) / (m1 + m0)
    assert change.change == pytest.approx(-0.15)
    assert change.z == pytest.approx(-0.15 / math.sqrt(pooled * (1 - pooled) * (1 / m1 + 1 / m0)))
    assert change.significant


def test_small_change_within_the_noise_is_not_significant():
    change = compare_quarters(estimate(0.78, 0.0016), estimate(0.75, 0.0016))
    assert 0.4 < change.p_value < 0.7
    assert not change.significant


@pytest.mark.parametrize(("yes_now", "yes_before", "n"), [(1, 0, 10), (0, 3, 12), (10, 9, 10), (5, 0, 10),
                                                          (12, 12, 12), (0, 0, 8), (7, 3, 15)])
def test_change_from_or_to_0_or_100_percent_matches_pearsons_chi_square(yes_now, yes_before, n):
    # A quarter at 0% or 100% has variance 0: a Wald z-test called any change from it significant
    # (1 of 10 against 0 of 10 was "significant"). On a simple random sample (design effect 1)
    # the score test is Pearson's χ² without continuity correction (scipy).
    now = estimate_proportion(*reviewed(A=["Yes"] * yes_now + ["No"] * (n - yes_now)), pd.Series({"A": 10_000}))
    before = estimate_proportion(*reviewed(A=["Yes"] * yes_before + ["No"] * (n - yes_before)),
                                 pd.Series({"A": 10_000}))
    srs = ProportionEstimate(now.estimate, now.estimate * (1 - now.estimate) / n, 0, 0, 1, n, n, n, yes_now, 0)
    srs_before = ProportionEstimate(before.estimate, before.estimate * (1 - before.estimate) / n,
                                    0, 0, 1, n, n, n, yes_before, 0)
    change = compare_quarters(srs, srs_before)
    table = [[yes_now, n - yes_now], [yes_before, n - yes_before]]
    if yes_now == yes_before:
        assert change.p_value == 1.0 and not change.significant
    else:
        expected = stats.chi2_contingency(table, correction=False).pvalue
        assert change.p_value == pytest.approx(expected, rel=1e-9)
        assert change.significant == (expected < 0.05)
    assert compare_quarters(now, before).significant == change.significant


def test_a_quarter_at_zero_variance_does_not_make_a_tiny_change_significant():
    # Now: A reviewed in full (1 Yes of 10), B 10 of 1,000 all No: R = 1/1010 with variance 0
    # (every stratum is constant or whole). Before: 0% (variance 0). A Wald z-test divided by
    # √(0 + 0) and called the 0.1-point change significant; the score test does not.
    sizes = pd.Series({"A": 10, "B": 1000})
    now = estimate_proportion(*reviewed(A=["Yes"] + ["No"] * 9, B=["No"] * 10), sizes)
    before = estimate_proportion(*reviewed(A=["No"] * 10, B=["No"] * 10), sizes)
    assert now.variance == before.variance == 0.0 and 0 < now.estimate < 0.01
    assert not compare_quarters(now, before).significant


def test_departments_reviewed_in_full_in_both_quarters_differ_exactly():
    now = estimate_proportion(*reviewed(A=["Yes", "No", "No", "No"]), pd.Series({"A": 4}))
    before = estimate_proportion(*reviewed(A=["Yes", "Yes", "No", "No"]), pd.Series({"A": 4}))
    change = compare_quarters(now, before)
    assert change.change == pytest.approx(-0.25) and change.significant


def test_agreement_percent_and_cohens_kappa_by_hand():
    # 10 compared pairs: (Yes, Yes)×5, (No, No)×2, (Yes, No)×2, (No, Yes)×1; two No data pairs dropped.
    # p_o = 7/10; reviewer Yes 7/10, No 3/10; automated Yes 6/10, No 4/10
    # p_e = .7·.6 + .3·.4 = .54;  κ = (.7 − .54)/(1 − .54) = .16/.46 = 8/23
    reviewer = pd.Series(["Yes"] * 5 + ["No"] * 2 + ["Yes"] * 2 + ["No"] + ["No data", "Yes"])
    automated = pd.Series(["Yes"] * 5 + ["No"] * 2 + ["No"] * 2 + ["Yes"] + ["Yes", "No data"])
    result = agreement(reviewer, automated)
    assert result.compared == 10
    assert result.percent_agreement == pytest.approx(70.0)
    assert result.kappa == pytest.approx(8 / 23, rel=1e-12)


def test_kappa_is_undefined_when_both_always_say_the_same_single_thing():
    result = agreement(pd.Series(["Yes"] * 4), pd.Series(["Yes"] * 4))
    assert result.percent_agreement == 100.0 and math.isnan(result.kappa)


@pytest.mark.parametrize(("successes", "trials"), [
    (0, 10), (1, 10), (5, 10), (10, 10), (199, 240), (3.7, 12.4), (0.5, 1.5), (2, 3000), (4999, 5000),
])
def test_clopper_pearson_bounds_match_scipy_beta_ppf(successes, trials):
    beta = pytest.importorskip("scipy.stats").beta
    lower, upper = clopper_pearson(successes, trials)
    expected_lower = beta.ppf(0.025, successes, trials - successes + 1) if successes > 0 else 0.0
    expected_upper = beta.ppf(0.975, successes + 1, trials - successes) if successes < trials else 1.0
    assert lower == pytest.approx(expected_lower, rel=1e-9, abs=1e-15)
    assert upper == pytest.approx(expected_upper, rel=1e-9, abs=1e-15)


def test_clopper_pearson_closed_forms():
    # x = 0: upper = 1 − (α/2)^(1/n);  x = n: lower = (α/2)^(1/n)
    assert clopper_pearson(0, 20) == (0.0, pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-12))
    assert clopper_pearson(20, 20) == (pytest.approx(0.025 ** (1 / 20), rel=1e-12), 1.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["Yes", "No", "N/A", "No data"])),
                min_size=1, max_size=40),
       st.integers(min_value=0, max_value=200))
def test_estimate_and_interval_stay_in_the_unit_interval_and_bracket_each_other(rows, extra):
    strata = pd.Series([stratum for stratum, _ in rows], dtype="str")
    answers = pd.Series([answer for _, answer in rows], dtype="str")
    sizes = strata.value_counts() + extra
    result = estimate_proportion(answers, strata, sizes)
    if result.applicable == 0:
        assert math.isnan(result.estimate)
        return
    assert 0.0 <= result.ci_lower <= result.estimate <= result.ci_upper <= 1.0
    assert result.variance >= 0.0
