"""Survey results per question from the stored reviews: the board paper's "Latest Victims Code
Survey Results", with the uncertainty the paper never showed.

For each of the nine questions, force-wide and per department: the design-weighted share of Yes
among applicable answers (Yes + No) with its 95% Korn–Graubard interval (`survey.py`), the change
against the previous quarter with a significance flag (independent samples), and how often the
reviewers agreed with the automated findings shown to them (percent agreement, Cohen's kappa).

Respondents: a sampled crime counts once it has at least one answer; its unanswered questions
are `No data`. Beside the table, the results say how many of the reviews were done at or above
the board's standard (Inspector or police staff equivalent or above) and how the automated
findings were shown to the reviewers (`reviewer_standard.py`), which bears on the agreement.
Weights are N_h / (responding crimes in h), the usual within-stratum adjustment for a partial
return, so an incomplete quarter still estimates the whole population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.sampling.questions import QUESTION_IDS, QUESTIONS
from vcpipeline.sampling.reviewer_standard import ReviewerStandard
from vcpipeline.sampling.selection import quarter_name, sample_quarter
from vcpipeline.sampling.store import read_sample, sample_id_for, transaction
from vcpipeline.sampling.survey import (
    NO_DATA,
    ProportionEstimate,
    agreement,
    compare_quarters,
    estimate_proportion,
)
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    sample_findings,
    sample_reviews,
    samples,
    survey_results,
)

FORCE = "FORCE"  # the domain of the force-wide estimate
_ESTIMATE_FIELDS: tuple[str, ...] = tuple(field.name for field in fields(ProportionEstimate))
RESULT_COLUMNS: tuple[str, ...] = (
    "quarter", "question", "domain", "estimate", "variance", "standard_error", "ci_lower", "ci_upper",
    "reviewed", "applicable", "yes", "previous_estimate", "change", "p_value", "significant",
    "agreement_compared", "percent_agreement", "kappa",
)


@dataclass(frozen=True)
class SurveyData:
    """One quarter's sample and reviews, as the estimators need them."""

    quarter: str
    sampled: pd.DataFrame        # crime_ref, stratum: every sampled crime
    stratum_sizes: pd.Series     # N_h by stratum
    reviews: pd.DataFrame        # crime_ref, question, answer
    findings: pd.DataFrame       # crime_ref, question, automated_answer


def _answer_grid(crime_refs: pd.Index, long: pd.DataFrame, value: str) -> pd.DataFrame:
    """crime × question grid of answers (missing = No data)."""
    grid = long.pivot_table(index="crime_ref", columns="question", values=value, aggfunc="last")
    return grid.reindex(index=crime_refs, columns=list(QUESTION_IDS)).fillna(NO_DATA).astype("str")


def quarter_estimates(data: SurveyData) -> pd.DataFrame:
    """Per question and domain (FORCE, then every sampled department A→Z): the estimate and the
    agreement. A department that returned nothing keeps its row (reviewed 0, no estimate), so the
    stored results say the force figure is partial (`missing_strata`)."""
    respondents = data.sampled[data.sampled["crime_ref"].isin(data.reviews["crime_ref"])]
    refs = pd.Index(respondents["crime_ref"].astype("str"))
    strata = pd.Series(respondents["stratum"].astype("str").to_numpy(), index=refs)
    answers = _answer_grid(refs, data.reviews, "answer")
    automated = _answer_grid(refs, data.findings, "automated_answer")
    departments = sorted(data.sampled["stratum"].astype("str").unique())
    rows: list[dict[str, Any]] = []
    for question in QUESTION_IDS:
        force = estimate_proportion(answers[question], strata, data.stratum_sizes)
        for domain in (FORCE, *departments):
            inside = slice(None) if domain == FORCE else (strata == domain).to_numpy()
            estimate = force if domain == FORCE else estimate_proportion(
                answers[question], strata, data.stratum_sizes, domain=strata == domain)
            agreed = agreement(answers[question][inside], automated[question][inside])
            rows.append({"quarter": data.quarter, "question": question, "domain": domain,
                         **{name: getattr(estimate, name) for name in _ESTIMATE_FIELDS},
                         "agreement_compared": agreed.compared,
                         "percent_agreement": agreed.percent_agreement, "kappa": agreed.kappa})
    return pd.DataFrame(rows, columns=["quarter", "question", "domain", *_ESTIMATE_FIELDS,
                                       "agreement_compared", "percent_agreement", "kappa"])


def _as_estimate(estimate: float, variance: float, applicable: float) -> ProportionEstimate:
    """Enough of an estimate for `compare_quarters`: the proportion, its variance and n."""
    nan = math.nan
    counted = 0 if math.isnan(applicable) else int(applicable)
    return ProportionEstimate(estimate, variance, nan, nan, nan, nan, 0, counted, 0, 0)


def survey_results_frame(current: SurveyData, previous: pd.DataFrame | None) -> pd.DataFrame:
    """RESULT_COLUMNS for the current quarter, with the change against the previous quarter.

    `previous` has question, domain, estimate and variance (the previous quarter's published
    results, or `quarter_estimates` of its data); None when there was no previous sample.
    """
    now = quarter_estimates(current)
    keys = ["question", "domain"]
    figures = ["estimate", "variance", "applicable"]
    before = (previous[[*keys, *figures]] if previous is not None else
              pd.DataFrame({name: [] for name in (*keys, *figures)}))
    joined = now[[*keys, *figures]].merge(
        before.astype({"question": "str", "domain": "str", **dict.fromkeys(figures, "float64")}),
        on=keys, how="left", suffixes=("", "_previous"), validate="one_to_one")
    changes = [  # 9 questions × a dozen domains: not a hot path
        compare_quarters(_as_estimate(row.estimate, row.variance, row.applicable),
                         _as_estimate(row.estimate_previous, row.variance_previous, row.applicable_previous))
        for row in joined[[*figures, *(f"{name}_previous" for name in figures)]].itertuples()
    ]
    now["previous_estimate"] = joined["estimate_previous"].astype("float64")
    now["change"] = [change.change for change in changes]
    now["p_value"] = [change.p_value for change in changes]
    now["significant"] = np.array([change.significant for change in changes], dtype=bool)
    now = now.rename(columns={"sampled": "reviewed"})
    for name in ("reviewed", "applicable", "yes", "agreement_compared"):
        now[name] = now[name].astype("int64")
    return now[list(RESULT_COLUMNS)]


# --- the board paper's table -------------------------------------------------------------------

MIN_RANKED_ANSWERS = 10  # a department is named lowest or highest only on at least this many answers


def _percent(value: float) -> str:
    return "No data" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


def missing_strata(results: pd.DataFrame) -> list[str]:
    """Departments sampled but with no reviewed crime: the force figure leaves them out (partial)."""
    departments = results[results["domain"] != FORCE]
    return sorted(departments.loc[departments["reviewed"] == 0, "domain"].astype("str").unique())


def _end(rows: pd.DataFrame, value: float) -> str:
    """One end of the department range: the share and every department at it, with its n."""
    tied = rows[rows["estimate"] == value].sort_values("applicable", ascending=False)
    return f"{_percent(value)} " + ", ".join(f"{row.domain} (n {int(row.applicable)})"
                                              for row in tied.itertuples())


def department_range(departments: pd.DataFrame, min_answers: int = MIN_RANKED_ANSWERS) -> str:
    """Lowest – highest department on at least `min_answers` answers, n beside each; a tie names
    every department at that end; too few answers anywhere says how many were not ranked."""
    answered = departments[departments["estimate"].notna()]
    ranked = answered[answered["applicable"] >= min_answers]
    left_out = len(answered) - len(ranked)
    note = (f"{left_out} department(s) with fewer than {min_answers} answers not ranked" if left_out else "")
    if len(ranked) < 2:
        return note
    text = f"{_end(ranked, ranked['estimate'].min())} – {_end(ranked, ranked['estimate'].max())}"
    return f"{text}; {note}" if note else text


def board_table(results: pd.DataFrame, min_answers: int = MIN_RANKED_ANSWERS) -> pd.DataFrame:
    """The "Latest Victims Code Survey Results" table: one row per question, as text cells.

    Columns: Question, Result (force-wide, with 95% CI; "partial" naming the departments with no
    returns), Answered (Yes + No), Previous quarter, Change (percentage points, `*` when
    significant at 5%), Departments (lowest – highest with n, on at least `min_answers` answers),
    Agreement with automated findings (% of the crimes both answered Yes or No, and kappa).
    """
    force = results[results["domain"] == FORCE].set_index("question")
    departments = results[results["domain"] != FORCE]
    missing = missing_strata(results)
    rows = []
    for question in QUESTIONS:
        row = force.loc[question.id]
        estimate = row["estimate"]
        result = _percent(estimate)
        if not math.isnan(estimate) and not math.isnan(row["ci_lower"]):
            result += f" ({_percent(row['ci_lower'])}–{_percent(row['ci_upper'])})"
        if missing:
            result += f"; partial: no returns from {', '.join(missing)}"
        change = "" if math.isnan(row["change"]) else f"{100 * row['change']:+.0f} pts" + (
            " *" if row["significant"] else "")
        range_text = department_range(departments[departments["question"] == question.id], min_answers)
        agreed = "" if math.isnan(row["percent_agreement"]) else (
            f"{row['percent_agreement']:.0f}% of {int(row['agreement_compared'])}"
            + ("" if math.isnan(row["kappa"]) else f" (κ {row['kappa']:.2f})"))
        rows.append({
            "Question": f"{question.id} {question.text}", "Result": result,
            "Answered": int(row["applicable"]),
            "Previous quarter": "" if math.isnan(row["previous_estimate"]) else _percent(row["previous_estimate"]),
            "Change": change, "Departments": range_text, "Agreement with automated findings": agreed,
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SurveyCoverage:
    """Which strata a quarter's figures rest on: those with no returns (the force figure is
    partial) and those with one reviewed crime (variance centred, module docstring of survey.py)."""

    sampled: tuple[str, ...]
    missing: tuple[str, ...]
    singleton: tuple[str, ...]

    def lines(self) -> list[str]:
        lines = []
        if self.missing:
            lines.append(f"Partial: no reviews returned from {', '.join(self.missing)}; the force figures "
                         f"estimate the other {len(self.sampled) - len(self.missing)} department(s) only.")
        if self.singleton:
            lines.append(f"One reviewed crime in {', '.join(self.singleton)}: its variance is centred at the "
                         "grand mean (R survey's lonely.psu \"adjust\"), not left out.")
        return lines


def survey_coverage(data: SurveyData) -> SurveyCoverage:
    """`SurveyCoverage` of a quarter's sample and reviews (strata are departments)."""
    strata = data.sampled.assign(stratum=data.sampled["stratum"].astype("str"))
    responded = strata[strata["crime_ref"].isin(data.reviews["crime_ref"])]["stratum"].value_counts()
    sizes = data.stratum_sizes.reindex(responded.index)
    sampled = tuple(sorted(strata["stratum"].unique()))
    return SurveyCoverage(sampled, tuple(name for name in sampled if name not in responded.index),
                          tuple(sorted(responded.index[(responded == 1) & (sizes > 1)])))


def read_survey_coverage(engine_or_conn: Engine | sa.Connection, quarter: str) -> SurveyCoverage | None:
    """`survey_coverage` of a quarter's stored sample; None when the quarter has no sample."""
    with transaction(engine_or_conn) as conn:
        data = read_survey_data(conn, quarter)
    return None if data is None else survey_coverage(data)


def render_markdown(table: pd.DataFrame, title: str = "Latest Victims Code Survey Results",
                    reviewers: ReviewerStandard | None = None, coverage: SurveyCoverage | None = None) -> str:
    """The board table as a Markdown pipe table under a heading (also readable as plain text),
    with who reviewed (by rank) and how the findings were shown when `reviewers` is given, and
    the strata missing or with one reviewed crime when `coverage` is given."""
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(name) for name in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(value) for value in row) + " |"
            for row in table.itertuples(index=False, name=None)]
    note = ("Result: design-weighted share of Yes among Yes + No answers, with its 95% Korn–Graubard "
            "confidence interval (degrees of freedom: answers − departments). * change significant at the "
            "5% level (score test, pooled variance). Departments: lowest – highest, n answers beside each, "
            f"only departments with at least {MIN_RANKED_ANSWERS} answers. Agreement: over the crimes where "
            "both the reviewer and the automated findings said Yes or No.")
    about = ([] if reviewers is None else ["", *reviewers.lines()]) + (
        [] if coverage is None or not coverage.lines() else ["", *coverage.lines()])
    return "\n".join([f"## {title}", "", header, rule, *body, "", note, *about, ""])


# --- the warehouse edge ------------------------------------------------------------------------

def previous_quarter(quarter: str) -> str:
    return sample_quarter(quarter).previous.name


def read_survey_data(conn: sa.Connection, quarter: str) -> SurveyData | None:
    """A quarter's stored sample, reviews and findings; None when the quarter has no sample."""
    sample_id = sample_id_for(quarter)
    exists = conn.execute(sa.select(samples.c.sample_id).where(samples.c.sample_id == sample_id)).first()
    if exists is None:
        return None
    record = read_sample(conn, sample_id)
    reviews = read_frame(conn, sa.select(sample_reviews.c.crime_ref, sample_reviews.c.question,
                                         sample_reviews.c.answer)
                         .where(sample_reviews.c.sample_id == sample_id))
    findings = read_frame(conn, sa.select(sample_findings.c.crime_ref, sample_findings.c.question,
                                          sample_findings.c.automated_answer)
                          .where(sample_findings.c.sample_id == sample_id))
    return SurveyData(quarter_name(quarter), record.crimes[["crime_ref", "stratum"]], record.stratum_sizes(),
                      reviews.astype("str"), findings.astype("str"))


def previous_results(conn: sa.Connection, quarter: str) -> pd.DataFrame | None:
    """The previous quarter's estimates: as published when they were, else computed from its
    stored reviews; None when that quarter has no sample."""
    before = previous_quarter(quarter)
    published = read_survey_results(conn, before)
    if len(published):
        return published
    data = read_survey_data(conn, before)
    return None if data is None else quarter_estimates(data)


def _stored(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def publish_survey_results(engine_or_conn: Engine | sa.Connection, quarter: str,
                           published_at: datetime | None = None) -> pd.DataFrame:
    """Compute the quarter's survey results from stored reviews, store them in `survey_results`
    (replacing the quarter's earlier ones) and return them (RESULT_COLUMNS).

    Raises LookupError when the quarter has no sample.
    """
    name = quarter_name(quarter)
    published_at = published_at or datetime.now(UTC)
    with transaction(engine_or_conn) as conn:
        current = read_survey_data(conn, name)
        if current is None:
            raise LookupError(f"no dip sample {name} in the warehouse: draw it first")
        results = survey_results_frame(current, previous_results(conn, name))
        conn.execute(sa.delete(survey_results).where(survey_results.c.quarter == name))
        conn.execute(survey_results.insert(), [
            {**{key: _stored(value) for key, value in row.items()}, "published_at": published_at}
            for row in results.to_dict(orient="records")
        ])
    return results


def read_survey_results(conn: sa.Connection, quarter: str) -> pd.DataFrame:
    """The stored results of a quarter (RESULT_COLUMNS; NULLs read back as NaN)."""
    frame = read_frame(conn, sa.select(*(survey_results.c[name] for name in RESULT_COLUMNS))
                       .where(survey_results.c.quarter == quarter_name(quarter))
                       .order_by(survey_results.c.question, survey_results.c.domain))
    floats = [name for name in RESULT_COLUMNS if isinstance(survey_results.c[name].type, sa.Float)]
    frame[floats] = frame[floats].apply(pd.to_numeric).astype("float64")
    return frame
