"""Drawing the dip sample: population, permanent random numbers, reproducibility, reserve."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from vcpipeline.parsing import parse_instants
from vcpipeline.sampling.allocation import SamplingError
from vcpipeline.sampling.selection import (
    draw_sample,
    permanent_random_numbers,
    quarter_bounds,
    quarter_population,
    sample_csv,
)


def crimes(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["crime_ref", "department", "reported_at"], dtype="str")
    return frame.assign(reported_at=parse_instants(frame["reported_at"]))


def many_crimes(count: int, departments: tuple[str, ...] = ("IIT", "PPU", "VVA", "FORCE_RESPONSE")) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    start = pd.Timestamp("2026-01-01T00:00:00Z")
    return pd.DataFrame({
        "crime_ref": [f"CR{i:06d}" for i in range(count)],
        "department": rng.choice(departments, count),
        "reported_at": start + pd.to_timedelta(rng.integers(0, 89 * 86400, count), unit="s"),
    }).astype({"crime_ref": "str", "department": "str"})


def independent_prn(seed: str, crime_ref: str) -> float:
    digest = hashlib.sha256(f"{seed}\x1f{crime_ref}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 11) / 2**53


def test_permanent_random_number_is_the_documented_sha256_formula():
    refs = pd.Series(["IIT-1", "VVA-3", "ünïcode/42", ""], dtype="str")
    got = permanent_random_numbers(refs, "2026Q1")
    assert got.tolist() == [independent_prn("2026Q1", ref) for ref in refs]
    assert got[1] == 0.13763456385536  # pinned: a change of formula must be deliberate
    assert ((got >= 0) & (got < 1)).all()


@pytest.mark.parametrize(("quarter", "start", "end"), [
    ("2026Q1", "2026-01-01T00:00:00Z", "2026-03-31T23:00:00Z"),  # BST starts 29 March
    ("2026Q2", "2026-03-31T23:00:00Z", "2026-06-30T23:00:00Z"),
    ("2026Q3", "2026-06-30T23:00:00Z", "2026-09-30T23:00:00Z"),
    ("2026Q4", "2026-09-30T23:00:00Z", "2027-01-01T00:00:00Z"),  # GMT again from 25 October
])
def test_quarter_bounds_are_local_midnights_in_utc(quarter, start, end):
    assert quarter_bounds(quarter) == (pd.Timestamp(start), pd.Timestamp(end))


@pytest.mark.parametrize(("reported_at", "quarter"), [
    ("2026-06-30T23:30:00Z", "2026Q3"),   # 00:30 BST on 1 July
    ("2026-06-30T22:59:59Z", "2026Q2"),   # 23:59:59 BST on 30 June
    ("2026-03-31T23:30:00Z", "2026Q2"),   # 00:30 BST on 1 April
    ("2025-12-31T23:30:00Z", "2025Q4"),   # GMT: still 31 December locally
    ("2026-01-01T00:30:00", "2026Q1"),    # naive = London wall time
])
def test_crime_belongs_to_the_quarter_of_its_local_reporting_date(reported_at, quarter):
    frame = crimes([("C1", "IIT", reported_at)])
    for candidate in ("2025Q4", "2026Q1", "2026Q2", "2026Q3"):
        population, _ = quarter_population(frame, ["C1"], candidate)
        assert (len(population) == 1) == (candidate == quarter), candidate


def test_crimes_without_a_victim_are_not_in_the_population():
    frame = crimes([("C1", "IIT", "2026-02-01T10:00:00Z"), ("C2", "IIT", "2026-02-01T10:00:00Z")])
    sample = draw_sample(frame, ["C1", "C9"], "2026Q1", size=5, minimum=0)
    assert sample.selected["crime_ref"].tolist() == ["C1"]
    assert sample.population_size == 1


def test_crimes_of_earlier_samples_are_excluded_and_counted():
    frame = many_crimes(400)
    first = draw_sample(frame, frame["crime_ref"], "2026Q1", size=40, minimum=5)
    second = draw_sample(frame, frame["crime_ref"], "2026Q1", size=40, minimum=5,
                         exclude=first.selected["crime_ref"])
    assert second.excluded == 40
    assert second.population_size == 360
    assert set(first.selected["crime_ref"]).isdisjoint(second.selected["crime_ref"])


def test_same_input_and_seed_give_the_same_sample():
    frame = many_crimes(2000)
    one = draw_sample(frame, frame["crime_ref"], "2026Q1")
    two = draw_sample(frame.copy(), frame["crime_ref"].copy(), "2026Q1")
    pd.testing.assert_frame_equal(one.selected, two.selected)
    assert one.seed == "2026Q1"
    assert one.population_hash == two.population_hash


def test_another_seed_gives_another_sample():
    frame = many_crimes(2000)
    default = draw_sample(frame, frame["crime_ref"], "2026Q1")
    other = draw_sample(frame, frame["crime_ref"], "2026Q1", seed="re-draw")
    assert set(default.selected["crime_ref"]) != set(other.selected["crime_ref"])
    assert default.population_hash == other.population_hash


def test_shuffled_input_rows_give_the_same_sample():
    frame = many_crimes(2000)
    victims = pd.concat([frame["crime_ref"], frame["crime_ref"].iloc[:300]])  # some crimes have 2 victims
    one = draw_sample(frame, victims, "2026Q1", exclude=["CR000001", "CR000002"])
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    two = draw_sample(shuffled, victims.sample(frac=1.0, random_state=4), "2026Q1",
                      exclude=["CR000002", "CR000001"])
    pd.testing.assert_frame_equal(one.selected, two.selected)
    pd.testing.assert_frame_equal(one.reserve, two.reserve)
    assert one.population_hash == two.population_hash


def test_within_each_stratum_the_smallest_prns_are_selected_and_the_reserve_follows_in_order():
    frame = many_crimes(1000)
    sample = draw_sample(frame, frame["crime_ref"], "2026Q1", size=60, minimum=10, reserve_size=5)
    prn = dict(zip(frame["crime_ref"], permanent_random_numbers(frame["crime_ref"], "2026Q1"), strict=True))
    strata = dict(zip(frame["crime_ref"], frame["department"], strict=True))
    for stratum, chosen in sample.selected.groupby("stratum"):
        members = sorted((ref for ref, dept in strata.items() if dept == stratum), key=lambda r: (prn[r], r))
        n_h = int(chosen["stratum_sample_size"].iloc[0])
        assert sorted(chosen["crime_ref"]) == sorted(members[:n_h])
        reserve = sample.reserve[sample.reserve["stratum"] == stratum]
        assert reserve["crime_ref"].tolist() == members[n_h:n_h + 5]
        assert reserve["rank"].tolist() == [1, 2, 3, 4, 5]


def test_selected_rows_carry_probability_and_weight_of_their_stratum():
    frame = many_crimes(1000)
    sample = draw_sample(frame, frame["crime_ref"], "2026Q1", size=100, minimum=10)
    selected = sample.selected
    assert list(selected.columns) == ["crime_ref", "stratum", "stratum_population", "stratum_sample_size",
                                      "selection_probability", "design_weight"]
    assert len(selected) == 100
    assert selected.equals(selected.sort_values(["stratum", "crime_ref"], ignore_index=True))
    counts = selected.groupby("stratum").size()
    assert (selected["stratum_sample_size"] == selected["stratum"].map(counts)).all()
    assert (selected["selection_probability"] == selected["stratum_sample_size"] / selected["stratum_population"]).all()
    assert (selected["design_weight"] == selected["stratum_population"] / selected["stratum_sample_size"]).all()


def test_population_hash_is_sha256_of_sorted_ref_and_stratum_lines():
    frame = crimes([("B2", "PPU", "2026-02-01T10:00:00Z"), ("A1", "IIT", "2026-02-01T10:00:00Z")])
    sample = draw_sample(frame, ["A1", "B2"], "2026Q1", size=2, minimum=0)
    assert sample.population_hash == hashlib.sha256(b"A1\x1fIIT\nB2\x1fPPU\n").hexdigest()


def test_population_hash_sorts_refs_as_plain_strings():
    refs = ["é1", "a10", "Z9", "a2", "H10", "H2"]
    frame = crimes([(ref, "IIT", "2026-02-01T10:00:00Z") for ref in refs])
    sample = draw_sample(frame, refs, "2026Q1", size=1, minimum=0)
    text = "".join(f"{ref}\x1fIIT\n" for ref in sorted(refs))  # H10 < H2 < Z9 < a10 < a2 < é1
    assert sample.population_hash == hashlib.sha256(text.encode()).hexdigest()


def test_unusable_and_conflicting_crime_rows_are_quarantined_not_sampled():
    frame = crimes([
        ("OK", "IIT", "2026-02-01T10:00:00Z"),
        ("OK", "IIT", "2026-02-01T10:00:00Z"),      # exact repeat: one crime
        ("BAD-DATE", "IIT", "1 Feb 2026"),
        ("NO-DEPT", "", "2026-02-01T10:00:00Z"),
        ("TWICE", "IIT", "2026-02-01T10:00:00Z"),
        ("TWICE", "PPU", "2026-02-01T10:00:00Z"),   # which department? cannot tell
    ])
    sample = draw_sample(frame, ["OK", "BAD-DATE", "NO-DEPT", "TWICE"], "2026Q1", size=10, minimum=0)
    assert sample.selected["crime_ref"].tolist() == ["OK"]
    reasons = dict(zip(sample.quarantine["crime_ref"], sample.quarantine["reason"], strict=False))
    assert reasons["BAD-DATE"] == "reported_at missing or unparseable"
    assert reasons["NO-DEPT"] == "department missing"
    assert reasons["TWICE"].startswith("crime_ref listed twice")
    assert len(sample.quarantine) == 4


def test_empty_quarter_gives_an_empty_sample_with_the_header():
    frame = crimes([("C1", "IIT", "2025-06-01T10:00:00Z")])
    sample = draw_sample(frame, ["C1"], "2026Q1")
    assert sample.selected.empty and sample.population_size == 0
    assert sample_csv(sample.selected) == (
        "crime_ref,stratum,stratum_population,stratum_sample_size,selection_probability,design_weight\n")


@pytest.mark.parametrize("quarter", ["2026Q5", "2026-Q1", "Q1 2026", "26Q1", ""])
def test_bad_quarter_is_refused(quarter):
    with pytest.raises(SamplingError, match="quarter must look like 2026Q1"):
        quarter_bounds(quarter)


def test_sample_csv_writes_floats_in_shortest_repr_form():
    selected = pd.DataFrame({
        "crime_ref": ["A,1", "B2"], "stratum": ["IIT", "PPU"],
        "stratum_population": [10, 3], "stratum_sample_size": [1, 1],
        "selection_probability": [0.1, 1 / 3], "design_weight": [10.0, 3.0],
    })
    assert sample_csv(selected) == (
        "crime_ref,stratum,stratum_population,stratum_sample_size,selection_probability,design_weight\n"
        '"A,1",IIT,10,1,0.1,10.0\n'
        "B2,PPU,3,1,0.3333333333333333,3.0\n"
    )
