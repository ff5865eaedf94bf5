"""Allocation of the dip sample across departments (CONTRACT.md `vcp sample`, Allocation)."""

from __future__ import annotations

from fractions import Fraction

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vcpipeline.sampling.allocation import (
    SamplingError,
    allocate,
    allocation_table,
    real_allocation,
)


def sizes(**strata: int) -> pd.Series:
    return pd.Series(strata, dtype="int64")


def test_allocation_is_proportional_when_no_minimum_binds():
    assert allocate(sizes(A=100, B=300), 40, 0).to_dict() == {"A": 10, "B": 30}


def test_stratum_smaller_than_the_minimum_is_taken_whole():
    # A (3 crimes) is below the minimum of 10, so all 3 go in; B and C share 237 equally:
    # 118.5 each, floors 118 + 118, the spare unit goes to B (equal N_h, so name A→Z).
    assert allocate(sizes(A=3, B=1000, C=1000), 240, 10).to_dict() == {"A": 3, "B": 119, "C": 118}


def test_minimum_lifts_a_small_stratum_and_the_rest_stay_proportional():
    # Proportionally A would get 5; the minimum lifts it to 20 and B keeps the other 80.
    allocation = allocate(sizes(A=50, B=950), 100, 20)
    assert allocation.to_dict() == {"A": 20, "B": 80}
    assert real_allocation(sizes(A=50, B=950), 100, 20) == [Fraction(20), Fraction(80)]


def test_population_below_the_sample_size_is_a_census():
    strata = sizes(A=3, B=40, C=57)
    assert allocate(strata, 100, 10).to_dict() == {"A": 3, "B": 40, "C": 57}


def test_single_stratum_gets_the_whole_sample():
    assert allocate(sizes(ONLY=500), 240, 10).to_dict() == {"ONLY": 240}


def test_minimums_exceeding_the_sample_size_fail_with_a_clear_message():
    eight = sizes(**{f"D{i}": 1000 for i in range(8)})
    with pytest.raises(SamplingError, match=r"minimum of 40 per stratum needs 320 crimes across 8 strata, more than the sample size 240"):
        allocate(eight, 240, 40)


def test_sample_larger_than_population_is_refused():
    with pytest.raises(SamplingError, match="cannot sample 11 crimes from a population of 10"):
        allocate(sizes(A=10), 11, 0)


def test_tied_fractional_parts_go_to_the_larger_stratum_first():
    # λ = 1/2: A 1.5, B 3.5 (both .5); one unit left, B is larger.
    assert allocate(sizes(A=3, B=7), 5, 1).to_dict() == {"A": 1, "B": 4}


def test_tied_fractional_parts_and_sizes_go_by_stratum_name():
    # λ = 1/3: each 3⅓; floors 3 + 3 + 3, one unit left: equal N_h, so A→Z gives it to A,
    # whatever order the strata come in.
    assert allocate(sizes(C=10, A=10, B=10), 10, 0).to_dict() == {"C": 3, "A": 4, "B": 3}


def test_largest_fractional_part_wins_before_size():
    # λ = 0.1: A 2.7, B 5.3 → floors 2 + 5, one unit to A (.7 > .3) though B is larger.
    assert allocate(sizes(A=27, B=53), 8, 0).to_dict() == {"A": 3, "B": 5}


def test_allocation_table_shows_the_working():
    table = allocation_table(sizes(B=7, A=3), 5, 1)
    assert table["stratum"].tolist() == ["A", "B"]
    assert table["exact_allocation"].tolist() == [1.5, 3.5]
    assert table["stratum_sample_size"].tolist() == [1, 4]
    assert table["selection_probability"].tolist() == [1 / 3, 4 / 7]
    assert table["design_weight"].tolist() == [3.0, 1.75]


def test_empty_population_allocates_nothing():
    assert allocate(pd.Series([], dtype="int64"), 0, 10).empty


@given(
    st.lists(st.integers(min_value=1, max_value=5000), min_size=1, max_size=12),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=400),
)
def test_allocation_sums_to_n_and_respects_bounds(populations, minimum, size):
    strata = pd.Series(populations, index=[f"S{i:02d}" for i in range(len(populations))], dtype="int64")
    n = min(size, int(strata.sum()))
    floors = strata.clip(upper=minimum)
    if floors.sum() > n:
        with pytest.raises(SamplingError):
            allocate(strata, n, minimum)
        return
    allocation = allocate(strata, n, minimum)
    exact = real_allocation(strata, n, minimum)
    assert int(allocation.sum()) == n
    assert (allocation >= floors).all()
    assert (allocation <= strata).all()
    assert all(abs(Fraction(int(k)) - x) < 1 for k, x in zip(allocation, exact, strict=True))
