"""Survey results per question for simulated quarters: stored, compared with the previous quarter,
agreement with the automated findings, and the board paper's table."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest

from vcpipeline.cli import main
from vcpipeline.sampling.questions import QUESTION_IDS
from vcpipeline.sampling.results import (
    FORCE,
    RESULT_COLUMNS,
    SurveyData,
    board_table,
    publish_survey_results,
    quarter_estimates,
    read_survey_results,
    render_markdown,
)
from vcpipeline.sampling.reviews import ingest_returns
from vcpipeline.sampling.simulate import simulate_returns, simulated_answers
from vcpipeline.sampling.store import draw_and_store_sample
from vcpipeline.sampling.survey import ProportionEstimate, compare_quarters, estimate_proportion
from vcpipeline.sampling.worksheets import write_worksheets
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.migrate import upgrade

from .conftest import load_force


def _review_quarter(engine, tmp_path: Path, quarter: str, seed: str) -> None:
    draw_and_store_sample(engine, quarter, size=30, minimum=5)
    sheets = write_worksheets(engine, quarter, tmp_path / "sample" / quarter)
    returns = simulate_returns(sheets, tmp_path / "returns" / quarter, seed=seed)
    assert ingest_returns(engine, quarter, returns).errors.empty


@pytest.fixture(scope="module")
def two_quarters(tmp_path_factory):
    """Two reviewed and published quarters, built once for the module (the tests only read)."""
    folder = tmp_path_factory.mktemp("survey")
    url = f"sqlite:///{folder / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    load_force(engine)
    _review_quarter(engine, folder, "2025Q4", "reviewers-a")
    earlier = publish_survey_results(engine, "2025Q4")
    _review_quarter(engine, folder, "2026Q1", "reviewers-b")
    current = publish_survey_results(engine, "2026Q1")
    yield engine, earlier, current
    engine.dispose()


def test_results_per_question_force_wide_and_per_department_are_stored(two_quarters):
    engine, _, current = two_quarters
    assert list(current.columns) == list(RESULT_COLUMNS)
    assert len(current) == 9 * 4  # FORCE + IIT, PPU, VVA
    assert set(current["question"]) == set(QUESTION_IDS)
    force = current[current["domain"] == FORCE].set_index("question")
    estimated = force["estimate"].notna()
    assert ((force["ci_lower"] <= force["estimate"]) & (force["estimate"] <= force["ci_upper"]))[estimated].all()
    assert (force["reviewed"] == 30).all()
    with engine.connect() as conn:
        stored = read_survey_results(conn, "2026Q1")
    expected = current.sort_values(["question", "domain"], ignore_index=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)


def test_force_estimate_is_the_design_weighted_proportion_of_the_survey_module():
    sampled = pd.DataFrame({"crime_ref": ["A1", "A2", "B1", "B2", "B3"], "stratum": ["A", "A", "B", "B", "B"]})
    sizes = pd.Series({"A": 10, "B": 90})
    answers = ["Yes", "No", "Yes", "Yes", "N/A"]
    reviews = pd.DataFrame({"crime_ref": sampled["crime_ref"], "question": "Q3", "answer": answers})
    findings = pd.DataFrame({"crime_ref": sampled["crime_ref"], "question": "Q3",
                             "automated_answer": ["Yes", "Yes", "Yes", "Yes", "N/A"]})
    results = quarter_estimates(SurveyData("2026Q1", sampled, sizes, reviews, findings))
    q3 = results[(results["question"] == "Q3") & (results["domain"] == FORCE)].iloc[0]
    direct = estimate_proportion(pd.Series(answers), sampled["stratum"], sizes)
    assert q3["estimate"] == pytest.approx(direct.estimate)
    assert q3["estimate"] == pytest.approx((10 / 2 * 1 + 90 / 3 * 2) / (10 / 2 * 2 + 90 / 3 * 2))
    assert q3["percent_agreement"] == pytest.approx(75.0)  # 3 of the 4 both answered Yes/No; N/A = N/A left out
    q1 = results[(results["question"] == "Q1") & (results["domain"] == FORCE)].iloc[0]
    assert math.isnan(q1["estimate"]) and q1["applicable"] == 0  # unanswered questions are No data


def test_change_against_the_previous_quarter_uses_its_published_estimate(two_quarters):
    _, earlier, current = two_quarters
    before = earlier.set_index(["question", "domain"])
    now = current.set_index(["question", "domain"])
    assert now["previous_estimate"].to_numpy() == pytest.approx(
        before.loc[now.index, "estimate"].to_numpy(), nan_ok=True)
    assert now["change"].to_numpy() == pytest.approx(
        (now["estimate"] - now["previous_estimate"]).to_numpy(), nan_ok=True)
    assert (now["significant"] == (now["p_value"] < 0.05)).all()
    for key, row in now.iterrows():  # the score test on each quarter's estimate, variance and n
        then = before.loc[key]
        expected = compare_quarters(
            ProportionEstimate(row["estimate"], row["variance"], 0, 0, 0, 0, 0, int(row["applicable"]), 0, 0),
            ProportionEstimate(then["estimate"], then["variance"], 0, 0, 0, 0, 0, int(then["applicable"]), 0, 0))
        assert row["p_value"] == pytest.approx(expected.p_value, nan_ok=True)
    assert earlier["previous_estimate"].isna().all() and not earlier["significant"].any()


def test_reviewers_agree_with_the_automated_findings_about_as_often_as_simulated(two_quarters):
    _, _, current = two_quarters
    force = current[current["domain"] == FORCE].set_index("question")
    compared = force["agreement_compared"]
    assert compared["Q2"] == 0 and math.isnan(force.loc["Q2", "kappa"])  # no automated finding
    overall = (force["percent_agreement"] * compared).sum() / compared.sum()
    assert 80 <= overall <= 97
    assert (force.loc[compared >= 10, "kappa"].dropna() >= 0).all()  # over Yes/No pairs only, few for some


def test_board_table_has_the_nine_questions_and_renders_as_markdown(two_quarters):
    _, _, current = two_quarters
    table = board_table(current)
    assert len(table) == 9 and table["Question"].str[:2].tolist() == list(QUESTION_IDS)
    assert table["Result"].str.fullmatch(r"\d+% \(\d+%–\d+%\)|No data").all()
    assert table["Change"].str.fullmatch(r"[+-]\d+ pts( \*)?").all()
    text = render_markdown(table)
    lines = text.splitlines()
    assert lines[0] == "## Latest Victims Code Survey Results"
    assert lines[2].startswith("| Question | Result |") and len(lines) >= 2 + 2 + 9


def test_simulated_reviewers_are_deterministic_and_mostly_agree():
    refs = pd.Series([f"C{i}" for i in range(2000)])
    findings = pd.Series(["MET", "BREACHED", "n/a", "PENDING"] * 500)
    first = simulated_answers(refs, findings, "Q3", "seed")
    assert (first == simulated_answers(refs[::-1], findings[::-1], "Q3", "seed")[::-1]).all()
    decided = findings != "PENDING"
    expected = findings.map({"MET": "Yes", "BREACHED": "No", "n/a": "N/A"})
    agree = (first[decided.to_numpy()] == expected[decided].to_numpy()).mean()
    assert 0.87 < agree < 0.93
    assert set(first[~decided.to_numpy()]) <= {"Yes", "No", "No data"}


def test_vcp_survey_publishes_and_prints_the_board_table(sqlite_force_engine, tmp_path, capsys):
    _review_quarter(sqlite_force_engine, tmp_path, "2026Q1", "reviewers")
    url = sqlite_force_engine.url.render_as_string(hide_password=False)
    assert main(["survey", "--url", url, "--quarter", "2026q1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("## Latest Victims Code Survey Results, 2026Q1")
    assert "stored in survey_results" in captured.err
    assert main(["survey", "--url", url, "--quarter", "2019Q3"]) == 2
    assert "no dip sample 2019Q3" in capsys.readouterr().err


def result_rows(question: str, rows: list[tuple[str, float, int, int]]) -> pd.DataFrame:
    """(domain, estimate, applicable, reviewed) rows of one question, FORCE first."""
    frame = pd.DataFrame(rows, columns=["domain", "estimate", "applicable", "reviewed"])
    return frame.assign(question=question, ci_lower=math.nan, ci_upper=math.nan, change=math.nan,
                        significant=False, previous_estimate=math.nan, percent_agreement=math.nan,
                        kappa=math.nan, agreement_compared=0)


def all_questions(rows: list[tuple[str, float, int, int]]) -> pd.DataFrame:
    return pd.concat([result_rows(question, rows) for question in QUESTION_IDS], ignore_index=True)


def test_department_range_shows_n_and_leaves_out_departments_on_few_answers():
    from vcpipeline.sampling.results import board_table

    table = board_table(all_questions([("FORCE", 0.5, 60, 60), ("Alpha", 0.0, 2, 2), ("Bravo", 0.4, 30, 30),
                                       ("Charlie", 0.7, 12, 12), ("Delta", 1.0, 9, 9)]))
    assert table["Departments"].iloc[0] == ("40% Bravo (n 30) – 70% Charlie (n 12); "
                                             "2 department(s) with fewer than 10 answers not ranked")
    fewer = board_table(all_questions([("FORCE", 0.5, 60, 60), ("Alpha", 0.0, 2, 2), ("Bravo", 0.4, 30, 30)]),
                        min_answers=2)
    assert fewer["Departments"].iloc[0] == "0% Alpha (n 2) – 40% Bravo (n 30)"


def test_tied_departments_are_all_named_not_the_first_alphabetically():
    from vcpipeline.sampling.results import board_table

    table = board_table(all_questions([("FORCE", 0.8, 60, 60), ("Alpha", 1.0, 10, 10), ("Bravo", 0.5, 20, 20),
                                       ("Zulu", 1.0, 30, 30)]))
    assert table["Departments"].iloc[0] == "50% Bravo (n 20) – 100% Zulu (n 30), Alpha (n 10)"


def test_force_figure_is_marked_partial_naming_departments_with_no_returns():
    from vcpipeline.sampling.results import board_table, missing_strata

    results = all_questions([("FORCE", 0.5, 40, 40), ("Alpha", 0.4, 20, 20), ("Bravo", math.nan, 0, 0),
                             ("Charlie", 0.6, 20, 20)])
    assert missing_strata(results) == ["Bravo"]
    assert board_table(results)["Result"].iloc[0].endswith("; partial: no returns from Bravo")


def test_a_department_that_returns_nothing_keeps_its_row_and_is_named_missing(two_quarters):
    from vcpipeline.sampling.results import quarter_estimates, read_survey_data, survey_coverage

    engine, quarter = two_quarters[0], "2026Q1"
    with engine.connect() as conn:
        data = read_survey_data(conn, quarter)
    gone = sorted(data.sampled["stratum"].unique())[0]
    kept = data.sampled.loc[data.sampled["stratum"] != gone, "crime_ref"]
    partial = dataclasses.replace(data, reviews=data.reviews[data.reviews["crime_ref"].isin(kept)])
    estimates = quarter_estimates(partial)
    row = estimates[(estimates["domain"] == gone)].iloc[0]
    assert row["sampled"] == 0 and math.isnan(row["estimate"])
    assert survey_coverage(partial).missing == (gone,)
    assert any(gone in line and "Partial" in line for line in survey_coverage(partial).lines())
