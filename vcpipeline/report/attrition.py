"""Attrition and updates: the board paper's unanswered question, answered as an association.

The paper: "We are unable to answer if this [late updates] is contributing to attrition of
certain crime types." For each offence category this section compares, among victims whose
crime reached a final outcome in the period, the share whose outcome was Home Office 14
(evidential difficulties, suspect not identified; victim does not support) or 16 (evidential
difficulties, suspect identified; victim does not support) between victims whose updates were
all on time and victims with at least one update late or missed.

Exposure: the victim's `investigation_update` and `agreed_update` obligations triggered strictly
before the crime's final outcome and decided (met on time, met late, breached); late or missed =
any met late or breached. `outcome_notification` is left out: the outcome itself triggers it, so
it would compare victims by their outcome. Victims with no such update decided are counted apart.

It is an association, not a cause: seriousness, the suspect being known and the victim's
circumstances affect both how often a victim is updated and whether they support a prosecution.

Pure over frames (`victim_updates_and_outcomes`, `attrition_by_offence`, `attrition_section`);
the warehouse read is `report/attrition_read.py`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chi2

from vcpipeline import settings
from vcpipeline.report.cells import (
    Cell,
    Table,
    count_cell,
    data_value,
    header,
    rate_cell,
    row_header,
)
from vcpipeline.report.model import ALL
from vcpipeline.report.periods import Period
from vcpipeline.report.sections import Section
from vcpipeline.report.statistics import holm, wilson_interval

ATTRITION_OUTCOMES: tuple[int, ...] = (14, 16)   # evidential difficulties: victim does not support
NOT_AN_OUTCOME: tuple[int, ...] = (0, 20)        # none yet; transferred to another force
UPDATE_RULES: tuple[str, ...] = ("investigation_update", "agreed_update")
LATE_OR_MISSED: tuple[str, ...] = ("MET_LATE", "BREACHED")
DECIDED: tuple[str, ...] = ("MET", *LATE_OR_MISSED)
ON_TIME, LATE, NONE_OWED = "on_time", "late_or_missed", "no_update_decided"
GROUPS: tuple[str, ...] = (ON_TIME, LATE)
SIGNIFICANCE = 0.05
DEFAULT_MIN_GROUP = 20
UPDATES_OWED_CAP = 10   # strata: 1, 2, …, 10 or more updates owed
STRATA: tuple[str, ...] = ("updates_stratum", "enhanced", "department")
UNKNOWN_OFFENCE = "(not recorded)"

COLUMNS: tuple[str, ...] = (
    "offence_category",
    *(f"{group}_{what}" for group in GROUPS for what in ("victims", "attrition", "rate", "ci_lower", "ci_upper")),
    "difference", "adjusted_difference", "p_value", "p_value_holm", "significant", "tested",
    "no_update_decided",
)

HOW_MEASURED = (
    "Victims whose crime reached its final Home Office outcome in the period (the latest finalisation "
    "applying to the victim, by local date; outcomes 0 'none yet' and 20 'transferred' are not final). "
    "Attrition = outcome 14 or 16 (evidential difficulties, the victim does not support action). "
    "Updates on time: every investigation update and agreed periodic update owed for a step before the "
    "outcome was met on time; late or missed: at least one was met late or breached (pending and waived "
    "ones are not judged). The outcome notification is left out: the outcome itself triggers it. Rates "
    "with 95% Wilson intervals. The adjusted difference compares like with like: victims owed the same "
    "number of updates (1 to {cap} or more), at the same service level (enhanced or standard) and in the "
    "same department (Mantel–Haenszel); it is tested with the Cochran–Mantel–Haenszel test, p-values "
    "Holm-adjusted across the offence categories (the all-offences row is a test of its own), significant "
    "when below 0.05. A category is tested only when each group has at least {min_group} victims "
    "(VCP_REPORT_ATTRITION_MIN_GROUP)."
)
CAVEAT = (
    "This is an association, not proof that late updates cause victims to withdraw: seriousness of the "
    "offence, whether a suspect is known, and the victim's own circumstances affect both how often a "
    "victim is updated and whether they support a prosecution. The adjusted difference removes some of "
    "that (a victim owed more updates has more chances of one being late, and the number owed follows "
    "how the investigation went), not all of it. A difference says where to look, not why."
)


def attrition_min_group() -> int:
    """The fewest victims each group needs before a category's difference is tested
    (`VCP_REPORT_ATTRITION_MIN_GROUP`, default 20): below it a rate is a handful of victims."""
    return settings.positive_whole_number("VCP_REPORT_ATTRITION_MIN_GROUP", DEFAULT_MIN_GROUP)


# --- pure analysis -----------------------------------------------------------------------------

def final_outcomes(finalisations: pd.DataFrame, victims: pd.DataFrame) -> pd.DataFrame:
    """Each victim's final outcome: the latest `CRIME_FINALISED` applying to them (a blank
    `victim_id` applies to every victim of the crime), ordered by (`occurred_at`, `event_id`);
    victims whose latest is 'none yet' (0) or 'transferred' (20) have no final outcome.

    `finalisations`: crime_ref, victim_id (or NA), event_id, occurred_at, outcome_code.
    `victims`: crime_ref, victim_id, offence_category. Returns the victims' columns plus
    outcome_code (int) and finalised_at.
    """
    every = finalisations[finalisations["victim_id"].isna()].drop(columns="victim_id")
    own = finalisations[finalisations["victim_id"].notna()]
    applying = pd.concat([victims[["crime_ref", "victim_id"]].merge(every, on="crime_ref"),
                          victims[["crime_ref", "victim_id"]].merge(own, on=["crime_ref", "victim_id"])],
                         ignore_index=True)
    applying = applying.dropna(subset=["outcome_code"])
    latest = (applying.sort_values(["occurred_at", "event_id"], kind="stable")
              .drop_duplicates(["crime_ref", "victim_id"], keep="last"))
    latest = latest[~latest["outcome_code"].astype("int64").isin(NOT_AN_OUTCOME)]
    found = victims.merge(latest[["crime_ref", "victim_id", "outcome_code", "occurred_at"]],
                          on=["crime_ref", "victim_id"])
    return found.rename(columns={"occurred_at": "finalised_at"}).astype({"outcome_code": "int64"})


def victim_updates_and_outcomes(outcomes: pd.DataFrame, obligations: pd.DataFrame) -> pd.DataFrame:
    """Per victim with a final outcome: `updates` (on_time | late_or_missed | no_update_decided),
    `attrition` (outcome 14 or 16) and the stratum the comparison is adjusted within: how many
    updates were owed (`updates_owed`), the service level (`enhanced`) and the owning department.

    `outcomes`: from `final_outcomes`. `obligations`: crime_ref, victim_id, rule, trigger_at,
    status, enhanced, department. Only updates owed for a step strictly before the outcome are
    looked at: what the victim had been told while deciding whether to support the case.
    """
    owed = obligations[obligations["rule"].isin(UPDATE_RULES) & obligations["status"].isin(DECIDED)]
    owed = owed.merge(outcomes[["crime_ref", "victim_id", "finalised_at"]], on=["crime_ref", "victim_id"])
    owed = owed[owed["trigger_at"] < owed["finalised_at"]]
    judged = (owed.assign(late=owed["status"].isin(LATE_OR_MISSED), enhanced=owed["enhanced"].astype(bool))
              .groupby(["crime_ref", "victim_id"], as_index=False)
              .agg(late=("late", "any"), updates_owed=("late", "size"), enhanced=("enhanced", "any"),
                   department=("department", "first")))
    frame = outcomes.merge(judged, on=["crime_ref", "victim_id"], how="left")
    late = frame["late"].astype("boolean")
    frame["updates"] = np.where(late.isna(), NONE_OWED, np.where(late.fillna(False), LATE, ON_TIME))
    frame["updates_owed"] = frame["updates_owed"].fillna(0).astype("int64")
    frame["enhanced"] = frame["enhanced"].astype("boolean").fillna(False).astype(bool)
    frame["department"] = frame["department"].astype("object").fillna("").astype("str")
    frame["attrition"] = frame["outcome_code"].isin(ATTRITION_OUTCOMES)
    frame["offence_category"] = frame["offence_category"].fillna(UNKNOWN_OFFENCE).astype("str")
    return frame.drop(columns="late")


def mantel_haenszel(victims: pd.DataFrame, strata: Sequence[str] = STRATA) -> tuple[float, float]:
    """(risk difference late − on time, two-sided p-value) of outcome 14/16, adjusted within
    `strata`: the Mantel–Haenszel weighted difference and the Cochran–Mantel–Haenszel test
    (continuity-corrected). Strata with one group only carry no comparison. NaN when none has both.

    Why adjusted: a victim owed more updates has more chances of one being late, and the number
    owed depends on how the investigation went (an arrest, bail, a release), which itself decides
    the outcome; comparing like with like removes that, and the deadline (enhanced) and the
    department that kept the victim informed with it.
    """
    judged = victims[victims["updates"].isin(GROUPS)]
    if judged.empty:
        return math.nan, math.nan
    table = judged.assign(cases=judged["attrition"].astype("int64")).pivot_table(
        index=list(strata), columns="updates", values="cases", aggfunc=["count", "sum"], fill_value=0)
    if LATE not in table["count"] or ON_TIME not in table["count"]:
        return math.nan, math.nan
    n1, a = table["count"][LATE].to_numpy(float), table["sum"][LATE].to_numpy(float)
    n0, c = table["count"][ON_TIME].to_numpy(float), table["sum"][ON_TIME].to_numpy(float)
    both = (n1 > 0) & (n0 > 0)
    n1, a, n0, c = n1[both], a[both], n0[both], c[both]
    if n1.size == 0:
        return math.nan, math.nan
    total, cases = n1 + n0, a + c
    difference = float(((a * n0 - c * n1) / total).sum() / (n1 * n0 / total).sum())
    variance = (n1 * n0 * cases * (total - cases) / (total ** 2 * np.maximum(total - 1, 1))).sum()
    if variance <= 0:   # no victim, or every victim, in every stratum had outcome 14/16: nothing differs
        return difference, 1.0
    statistic = max(abs((a - n1 * cases / total).sum()) - 0.5, 0.0) ** 2 / variance
    return difference, float(chi2.sf(statistic, 1))


def attrition_by_offence(victims: pd.DataFrame, min_group: int = DEFAULT_MIN_GROUP) -> pd.DataFrame:
    """One row per offence category (most victims first) and an ALL row: per group (updates on
    time, late or missed) the victims, those with outcome 14/16, the rate and its 95% Wilson
    interval; the crude difference (late − on time); the difference adjusted within strata
    (`mantel_haenszel`) and its p-value, Holm-adjusted across the categories (the ALL row is a
    test of its own), and whether it is significant. A category with fewer than `min_group`
    victims in either group is not tested (`tested` false)."""
    victims = victims.assign(updates_stratum=victims["updates_owed"].clip(upper=UPDATES_OWED_CAP))
    judged = victims[victims["updates"].isin(GROUPS)]
    categories = sorted(set(victims["offence_category"]), key=str)
    keys = [*categories, ALL]
    everything = judged.assign(offence_category=ALL)
    both = pd.concat([judged, everything], ignore_index=True)
    counts = both.groupby(["offence_category", "updates"])["attrition"].agg(["size", "sum"])
    rows = pd.DataFrame(index=pd.Index(keys, name="offence_category"))
    for group in GROUPS:
        n = pd.Series([counts["size"].get((key, group), 0) for key in keys], index=rows.index, dtype="int64")
        k = pd.Series([counts["sum"].get((key, group), 0) for key in keys], index=rows.index, dtype="int64")
        rows[f"{group}_victims"], rows[f"{group}_attrition"] = n, k
        rows[f"{group}_rate"] = (k / n.where(n > 0)).astype(float)
        bounds = [wilson_interval(x, m) for x, m in zip(k, n, strict=True)]   # one per category
        rows[f"{group}_ci_lower"] = [low for low, _ in bounds]
        rows[f"{group}_ci_upper"] = [high for _, high in bounds]
    none_owed = victims[victims["updates"] == NONE_OWED].groupby("offence_category").size()
    rows["no_update_decided"] = [*none_owed.reindex(categories, fill_value=0).astype("int64"), int(none_owed.sum())]
    rows["difference"] = rows[f"{LATE}_rate"] - rows[f"{ON_TIME}_rate"]
    rows["tested"] = (rows[f"{ON_TIME}_victims"] >= min_group) & (rows[f"{LATE}_victims"] >= min_group)
    by_category = dict(iter(both.groupby("offence_category")))
    adjusted = {key: mantel_haenszel(by_category[key]) if tested else (math.nan, math.nan)
                for key, tested in rows["tested"].items()}   # one per category
    rows["adjusted_difference"] = [adjusted[key][0] for key in keys]
    rows["p_value"] = [adjusted[key][1] for key in keys]
    categories_only = rows.index != ALL
    rows["p_value_holm"] = np.nan
    rows.loc[categories_only, "p_value_holm"] = holm(rows.loc[categories_only, "p_value"])
    rows.loc[ALL, "p_value_holm"] = rows.loc[ALL, "p_value"]
    rows["significant"] = rows["p_value_holm"].lt(SIGNIFICANCE)
    size = rows[f"{ON_TIME}_victims"] + rows[f"{LATE}_victims"]
    order = size[categories_only].sort_values(ascending=False, kind="stable").index
    return rows.loc[[*order, ALL]].reset_index()[list(COLUMNS)]


# --- the section -------------------------------------------------------------------------------

OFFENCE_NAMES: dict[str, str] = {"gbh_with_intent": "GBH with intent"}


def offence_label(code: str) -> str:
    """An offence category in words ("criminal_damage" → "Criminal damage")."""
    if code == ALL:
        return "All offences"
    return OFFENCE_NAMES.get(code, code.replace("_", " ").capitalize())


def _rate_with_interval(figure: str, row: pd.Series, group: str) -> Cell:
    cell = rate_cell(f"{figure}:{group}_rate", row[f"{group}_rate"])
    cell.n_of = (count_cell(f"{figure}:{group}_attrition", row[f"{group}_attrition"]),
                 count_cell(f"{figure}:{group}_victims", row[f"{group}_victims"]))
    if not pd.isna(row[f"{group}_ci_lower"]):
        cell.note = f"95% CI {100 * row[f'{group}_ci_lower']:.1f}–{100 * row[f'{group}_ci_upper']:.1f}%"
    return cell


def _points(figure: str, value: float) -> Cell:
    missing = pd.isna(value)
    return Cell("n/a" if missing else f"{100 * value:+.1f}", figure=figure,
                value=data_value(None if missing else float(value)), numeric=True)


def attrition_table(frame: pd.DataFrame) -> Table:
    table = Table("t-attrition", "Outcome 14/16 (victim does not support) by offence and whether updates were on time",
                  [header("Offence"), header("Updates on time: outcome 14/16"),
                   header("Updates late or missed: outcome 14/16"), header("Difference (points)"),
                   header("Adjusted difference (points)"), header("Significant? (Holm-adjusted p)"),
                   header("No update decided")])
    for _, row in frame.iterrows():
        key = f"attrition:{row['offence_category']}"
        if not bool(row["tested"]):
            verdict = "Too few victims to test"
        elif pd.isna(row["p_value_holm"]):
            verdict = "n/a"
        else:
            p_value = row["p_value_holm"]
            said = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
            verdict = f"{'Yes' if bool(row['significant']) else 'No'} ({said})"
        table.rows.append([
            row_header(offence_label(str(row["offence_category"]))),
            _rate_with_interval(key, row, ON_TIME),
            _rate_with_interval(key, row, LATE),
            _points(f"{key}:difference", row["difference"]),
            _points(f"{key}:adjusted_difference", row["adjusted_difference"]),
            Cell(verdict, figure=f"{key}:significant", value=data_value(bool(row["significant"]))),
            count_cell(f"{key}:no_update_decided", row["no_update_decided"]),
        ])
    return table


def _finding(frame: pd.DataFrame) -> str:
    """One sentence on what the table shows, in the board's words."""
    total = frame[frame["offence_category"] == ALL].iloc[0]
    if not bool(total["tested"]):
        return "Too few victims with a final outcome had updates to compare in this period."
    overall = (f"Across all offences, {100 * total[f'{LATE}_rate']:.1f}% of victims with a late or missed update "
               f"ended with outcome 14/16, against {100 * total[f'{ON_TIME}_rate']:.1f}% of victims updated on time; "
               f"compared like with like the difference is {100 * total['adjusted_difference']:+.1f} points"
               f" ({'significant' if bool(total['significant']) else 'not significant'}).")
    flagged = frame[(frame["offence_category"] != ALL) & frame["significant"]]
    if flagged.empty:
        return f"{overall} No offence category shows a significant difference on its own."
    higher = [offence_label(str(c)) for c, d in zip(flagged["offence_category"], flagged["adjusted_difference"],
                                                      strict=True) if d > 0]
    lower = [offence_label(str(c)) for c, d in zip(flagged["offence_category"], flagged["adjusted_difference"],
                                                     strict=True) if d < 0]
    said = [f"significantly higher after late or missed updates: {', '.join(higher)}" if higher else "",
            f"significantly lower: {', '.join(lower)}" if lower else ""]
    return f"{overall} By offence, {'; '.join(part for part in said if part)}."


def attrition_section(frame: pd.DataFrame, min_group: int = DEFAULT_MIN_GROUP) -> Section:
    """The report section for `attrition_by_offence`'s frame (exported as attrition.csv/.parquet)."""
    return Section(
        key="attrition",
        title="Updates and attrition by offence",
        paragraphs=("The board paper could not answer whether late updates contribute to attrition of "
                    "certain crime types. For each offence: how often victims ended with outcome 14 or 16 "
                    "(the victim does not support action), when their updates were on time and when one "
                    "was late or missed.", _finding(frame), CAVEAT),
        tables=(attrition_table(frame),),
        how_measured=HOW_MEASURED.format(min_group=min_group, cap=UPDATES_OWED_CAP),
        frame=frame,
    )


def in_period(outcomes: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The victims whose final outcome's local date falls in the period."""
    from vcpipeline.calendar import local_dates

    days = local_dates(outcomes["finalised_at"])
    return outcomes[(days >= np.datetime64(period.first)) & (days < np.datetime64(period.after))]
