"""A force's return for a quarter, read from the warehouse's summary tables (never raw rows).

The figures are the report's (`report.data`): compliance per rule and overall, by owner (the
department that must meet the obligation); board paper Q1 (compliant victims) by department; the
updates by the victim's agreed method; the latest published dip-sample survey (FORCE estimates,
with the stratum's n and N so returns can be combined); the board report's breakdowns of victims
(age band, sex, ethnicity, disability) and Q1 by department through disclosure control
(`vcpipeline.disclosure`); and the rows quarantined by reason. Nothing here names a victim: every
query aggregates, and the frame holds codes and counts only.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.disclosure import disclosure_threshold, suppression_mask, with_margins
from vcpipeline.instants import utc_instant
from vcpipeline.periods import Period
from vcpipeline.report import data as report_data
from vcpipeline.report.breakdowns import breakdown_frame, read_victim_groups
from vcpipeline.report.model import ALL
from vcpipeline.returns.table import COLUMNS, SCHEMA_VERSION, SECTIONS
from vcpipeline.rules.ruleset import load_rulesets, ruleset_fingerprint
from vcpipeline.rules.summaries import decided_obligations
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import samples, survey_results


def compliance_rows(by_rule: pd.DataFrame, by_owner_and_rule: pd.DataFrame, overall: pd.DataFrame,
                    by_owner: pd.DataFrame) -> pd.DataFrame:
    """Per rule and overall (ALL), force-wide and by owner: the status counts and the rate."""
    frames = [
        by_rule.assign(measure=by_rule["rule"], dimension="force", category=ALL),
        overall.assign(measure=ALL, dimension="force", category=ALL),
        by_owner_and_rule.assign(measure=by_owner_and_rule["rule"], dimension="owner",
                                 category=by_owner_and_rule["owner"]),
        by_owner.assign(measure=ALL, dimension="owner", category=by_owner["owner"]),
    ]
    both = pd.concat(frames, ignore_index=True)
    decided = decided_obligations(both["met_on_time"], both["met_late"], both["breached"])
    return both.assign(section="compliance", numerator=both["met_on_time"], denominator=decided,
                       rate=both["compliance_rate"], suppressed=False)


def protected_victims(victims: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Q1 by department with disclosure control: departments × (compliant, not compliant) with
    margins; the force's total row is public (the report prints it)."""
    departments = victims[victims["department"] != ALL].reset_index(drop=True)
    interior = np.column_stack([departments["compliant"], departments["victims"] - departments["compliant"]])
    table = with_margins(interior.reshape(-1, 2))
    public = np.zeros(table.shape, dtype=bool)
    public[-1, :] = True
    hidden = suppression_mask(table, threshold, public)
    compliant = pd.Series(table[:, 0], dtype="Int64").mask(hidden[:, 0])
    total = pd.Series(table[:, 2], dtype="Int64").mask(hidden[:, 2])
    return pd.DataFrame({
        "section": "victims", "measure": "Q1", "dimension": "department",
        "category": [*departments["department"], ALL],
        "numerator": compliant, "denominator": total,
        "suppressed": hidden[:, [0, 2]].any(axis=1),
    }).assign(dimension=lambda f: np.where(f["category"] == ALL, "force", "department"))


def breakdown_rows(groups: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The board report's breakdowns (`report.breakdowns`, already suppressed) as return rows."""
    frame = breakdown_frame(groups, threshold)
    return pd.DataFrame({
        "section": "breakdown", "measure": "Q1", "dimension": frame["dimension"],
        "category": frame["category"], "numerator": frame["compliant"].astype("Int64"),
        "denominator": frame["victims"].astype("Int64"),
        "suppressed": frame["compliant"].isna() | frame["victims"].isna(),
    })


def agreed_rows(agreed: pd.DataFrame) -> pd.DataFrame:
    """Updates by the agreed method over the quarter, per department and ALL."""
    quarter = agreed[agreed["month"] == ALL]
    return pd.DataFrame({
        "section": "agreed_method", "measure": "agreed_method_kept",
        "dimension": np.where(quarter["department"] == ALL, "force", "department"),
        "category": quarter["department"].to_numpy(), "numerator": quarter["agreed_method_kept"].to_numpy(),
        "denominator": quarter["agreed_method_compared"].to_numpy(), "suppressed": False,
    })


def data_quality_rows(quarantine: pd.DataFrame, loads: pd.DataFrame) -> pd.DataFrame:
    """Rows quarantined per source, entity and reason, over the rows the source extracted; and
    each source's total (ALL)."""
    extracted = loads.set_index("source_system")["rows_extracted"]
    reasons = pd.DataFrame({
        "measure": quarantine["reason"], "dimension": "source",
        "category": quarantine["source_system"] + "/" + quarantine["entity"],
        "numerator": quarantine["rows"],
        "denominator": quarantine["source_system"].map(extracted).fillna(0).astype("int64"),
    })
    totals = pd.DataFrame({"measure": ALL, "dimension": "source", "category": loads["source_system"],
                           "numerator": loads["rows_quarantined"], "denominator": loads["rows_extracted"]})
    both = pd.concat([totals, reasons], ignore_index=True)
    both["denominator"] = np.maximum(both["denominator"], both["numerator"])
    return both.assign(section="data_quality", suppressed=False)


def latest_survey_quarter(conn: sa.Connection, quarter: str) -> str | None:
    """The latest quarter, up to the return's, whose survey results are published."""
    return conn.execute(sa.select(sa.func.max(survey_results.c.quarter))
                        .where(survey_results.c.quarter <= quarter)).scalar()


def survey_rows(conn: sa.Connection, quarter: str) -> pd.DataFrame:
    """The latest published survey's force-wide estimates: per question the Yes answers, the
    applicable answers (n_h), the population of the sampled quarter (N_h), estimate, variance and
    interval, labelled with the survey's quarter."""
    surveyed = latest_survey_quarter(conn, quarter)
    if surveyed is None:
        return pd.DataFrame(columns=["section"])
    results = read_frame(conn, sa.select(survey_results).where(
        (survey_results.c.quarter == surveyed) & (survey_results.c.domain == "FORCE"))
        .order_by(survey_results.c.question))
    population = conn.execute(sa.select(samples.c.population_size)
                              .where(samples.c.quarter == surveyed)).scalar()
    return pd.DataFrame({
        "section": "survey", "measure": results["question"].astype("str"), "dimension": "force",
        "category": ALL, "numerator": results["yes"], "denominator": results["applicable"],
        "rate": pd.to_numeric(results["estimate"]), "population": population,
        "variance": pd.to_numeric(results["variance"]), "ci_lower": pd.to_numeric(results["ci_lower"]),
        "ci_upper": pd.to_numeric(results["ci_upper"]), "survey_quarter": surveyed, "suppressed": False,
    })


def ruleset_in_force(period: Period) -> str:
    """The rule set for crimes reported on the quarter's last day."""
    last = period.after.toordinal() - 1
    for ruleset in load_rulesets().sets:
        if ((ruleset.reported_from is None or ruleset.reported_from.toordinal() <= last)
                and (ruleset.reported_until is None or last < ruleset.reported_until.toordinal())):
            return ruleset.name
    return ""


def about_rows(period: Period, as_of: datetime | None, threshold: int, survey_quarter: str | None) -> pd.DataFrame:
    """What the figures rest on, inside the checksummed bytes."""
    about = {
        "ruleset_version": ruleset_in_force(period),
        "ruleset_sets": ",".join(load_rulesets().names()),
        "ruleset_fingerprint": ruleset_fingerprint(),
        "as_of": "" if as_of is None else utc_instant(as_of, "as_of").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "disclosure_threshold": str(threshold),
        "survey_quarter": survey_quarter or "none published",
    }
    return pd.DataFrame({"section": "about", "measure": list(about), "dimension": "force", "category": ALL,
                         "text": list(about.values()), "suppressed": False})


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """`rate` = numerator / denominator for count rows (survey rows keep their estimate)."""
    counted = ~frame["section"].isin(["survey", "about", "compliance"])
    num = pd.to_numeric(frame["numerator"], errors="coerce").astype("float64")
    den = pd.to_numeric(frame["denominator"], errors="coerce").astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(den > 0, num / den, np.nan)
    frame["rate"] = np.where(counted, share, pd.to_numeric(frame["rate"], errors="coerce"))
    return frame


def read_return(conn: sa.Connection, period: Period, force: str, threshold: int | None = None) -> pd.DataFrame:
    """Every row of the force's return for the quarter (COLUMNS), in a fixed order."""
    limit = disclosure_threshold() if threshold is None else threshold
    survey = survey_rows(conn, period.name)
    surveyed = None if survey.empty else str(survey["survey_quarter"].iloc[0])
    parts = [
        about_rows(period, report_data.read_evaluated_as_of(conn), limit, surveyed),
        compliance_rows(report_data.read_by_rule(conn, period), report_data.read_by_owner_and_rule(conn, period),
                        report_data.read_overall(conn, period), report_data.read_by_owner(conn, period)),
        protected_victims(report_data.read_victims(conn, period), limit),
        agreed_rows(report_data.read_agreed_method(conn, period)),
        survey,
        breakdown_rows(read_victim_groups(conn, period), limit),
        data_quality_rows(report_data.read_quarantine(conn, period), report_data.read_loads(conn, period)),
    ]
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True).reindex(columns=list(COLUMNS))
    frame = with_rates(frame)
    frame["schema_version"], frame["force"], frame["quarter"] = SCHEMA_VERSION, force, period.name
    rank = frame["section"].map({name: i for i, name in enumerate(SECTIONS)})
    frame = frame.iloc[np.argsort(rank.to_numpy(), kind="stable")]
    return frame.reset_index(drop=True)[list(COLUMNS)]
