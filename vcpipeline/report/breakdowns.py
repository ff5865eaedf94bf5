"""Who is being failed: compliant victims (board paper Q1) by age band, sex, ethnicity and disability.

The Victims and Prisoners Act 2024 guidance and the Victims' Commissioner ask which victims the
Code fails. Each breakdown counts the victims of crimes reported in the period (the victims
section's population, `victim_compliance`) by one attribute: compliant, not compliant, all,
and the rate. These are counts of who the victims are, so every table passes through disclosure
control (`vcpipeline.disclosure`) before anything is built: a count below the threshold, or a
rate whose numerator or complement is, is withheld as `[c]`, with the cells that would give it
back from the totals. The total row is the force's published victims figure and stays.

Age bands come from `age_at_report`; sex, ethnicity (the ONS 5 broad groups) and disability are
optional victim attributes, shown only when a source records them for the period's victims.
What leaves here is aggregated and suppressed: the page, CSV and Parquet all read `frame`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.canonical import NOT_STATED, OPTIONAL_VICTIM_COLUMNS, VICTIM_ATTRIBUTE_CODES
from vcpipeline.disclosure import disclosure_threshold, suppression_mask, with_margins
from vcpipeline.report.cells import Cell, Table, count_cell, header, rate_cell, row_header
from vcpipeline.report.periods import Period
from vcpipeline.report.sections import Section
from vcpipeline.rules.summaries import victim_compliance_rate
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import victim_compliance, victims

KEY = "breakdowns"
SUPPRESSED = "[c]"  # the ONS mark for a confidential figure
ALL_VICTIMS = "ALL"
ATTRIBUTES: tuple[str, ...] = OPTIONAL_VICTIM_COLUMNS
COUNTS: tuple[str, ...] = ("victims", "compliant", "not_compliant")
RATE = "victim_compliance_rate"

AGE_BANDS: tuple[tuple[str, int, int], ...] = (  # (label, lowest age, highest age)
    ("Under 18", 0, 17), ("18 to 24", 18, 24), ("25 to 34", 25, 34), ("35 to 44", 35, 44),
    ("45 to 54", 45, 54), ("55 to 64", 55, 64), ("65 to 74", 65, 74), ("75 and over", 75, 200),
)
# Each dimension's categories in the order printed (codes as stored; NULL reads as not stated).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "age_band": (*(label for label, _, _ in AGE_BANDS), NOT_STATED),
    **VICTIM_ATTRIBUTE_CODES,
}
DIMENSION_LABELS: dict[str, str] = {
    "age_band": "age at report", "sex": "sex", "ethnicity": "ethnicity (ONS broad groups)",
    "disability": "disability",
}
CATEGORY_LABELS: dict[str, str] = {
    NOT_STATED: "Not stated", ALL_VICTIMS: "All victims", "FEMALE": "Female", "MALE": "Male",
    "ASIAN": "Asian, Asian British or Asian Welsh", "BLACK": "Black, Black British, Black Welsh, Caribbean or African",
    "MIXED": "Mixed or multiple ethnic groups", "WHITE": "White", "OTHER": "Other ethnic group",
    "YES": "Disabled", "NO": "Not disabled",
}
FRAME_COLUMNS: tuple[str, ...] = ("dimension", "category", *COUNTS, RATE, "withheld")


def read_victim_groups(conn: sa.Connection, period: Period) -> pd.DataFrame:
    """Victims of crimes reported in the period counted by age, attributes and compliance (Q1):
    age_at_report, sex, ethnicity, disability, compliant, victims. Aggregated in the query."""
    table = victim_compliance
    column = table.c.report_quarter if period.kind == "quarter" else table.c.report_month
    keys = [victims.c.age_at_report, *(victims.c[name] for name in ATTRIBUTES), table.c.compliant]
    frame = read_frame(conn, sa.select(*keys, sa.func.count().label("victims"))
                       .select_from(table.outerjoin(victims, sa.and_(victims.c.crime_ref == table.c.crime_ref,
                                                                    victims.c.victim_id == table.c.victim_id)))
                       .where(column == period.name)
                       .group_by(*keys))
    return frame.astype({"victims": "int64"})


def age_bands(ages: pd.Series) -> pd.Series:
    """Each age's band label; NOT_STATED where the age is unknown or outside every band."""
    edges = [AGE_BANDS[0][1] - 0.5, *(high + 0.5 for _, _, high in AGE_BANDS)]
    banded = pd.cut(pd.to_numeric(ages, errors="coerce"), edges, labels=[label for label, _, _ in AGE_BANDS])
    return banded.astype("string").fillna(NOT_STATED)


def recorded_dimensions(groups: pd.DataFrame) -> tuple[str, ...]:
    """Age always; an attribute only when a source recorded it for some victim of the period."""
    return ("age_band", *(name for name in ATTRIBUTES
                          if name in groups.columns and groups[name].notna().any()))


def _counts_by(groups: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """compliant / not_compliant victims per category of one dimension, every category present."""
    if dimension == "age_band":
        category = age_bands(groups["age_at_report"])
    else:
        category = groups[dimension].astype("string").fillna(NOT_STATED).str.upper()
    compliant = groups["compliant"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    counted = pd.DataFrame({"category": category.to_numpy(),
                            "compliant": np.where(compliant, groups["victims"], 0),
                            "not_compliant": np.where(compliant, 0, groups["victims"])})
    known = list(CATEGORIES[dimension])
    counted["category"] = counted["category"].where(counted["category"].isin(known), NOT_STATED)
    summed = counted.groupby("category")[["compliant", "not_compliant"]].sum()
    return summed.reindex(known, fill_value=0).astype("int64")


def protected_breakdown(groups: pd.DataFrame, dimension: str, threshold: int) -> pd.DataFrame:
    """One dimension's published rows (FRAME_COLUMNS), categories then ALL_VICTIMS, with every
    withheld count as <NA> and its rate as NaN (`withheld` says the row lost a figure)."""
    interior = _counts_by(groups, dimension)
    table = with_margins(interior.to_numpy())  # columns: compliant, not_compliant, victims
    public = np.zeros(table.shape, dtype=bool)
    public[-1, :] = True  # the force's total victims and compliant victims are published already
    hidden = suppression_mask(table, threshold, public)
    values = pd.DataFrame(table[:, [2, 0, 1]], columns=list(COUNTS)).astype("Int64")
    withheld = pd.DataFrame(hidden[:, [2, 0, 1]], columns=list(COUNTS))
    rate = victim_compliance_rate(table[:, 0], table[:, 2])
    frame = values.mask(withheld)
    frame.insert(0, "category", [*interior.index, ALL_VICTIMS])
    frame.insert(0, "dimension", dimension)
    frame[RATE] = np.where(withheld.any(axis=1), np.nan, rate)
    frame["withheld"] = withheld.any(axis=1).to_numpy()
    return frame[list(FRAME_COLUMNS)]


def breakdown_frame(groups: pd.DataFrame, threshold: int | None = None) -> pd.DataFrame:
    """Every recorded dimension's protected rows, one after another."""
    limit = disclosure_threshold() if threshold is None else threshold
    frames = [protected_breakdown(groups, name, limit) for name in recorded_dimensions(groups)]
    return pd.concat(frames, ignore_index=True)


def _figure_cell(figure: str, value: object) -> Cell:
    if pd.isna(value):
        return Cell(SUPPRESSED, figure=figure, value="", numeric=True)
    return count_cell(figure, value)


def breakdown_table(frame: pd.DataFrame, dimension: str, period: Period) -> Table:
    rows = frame[frame["dimension"] == dimension]
    table = Table(f"breakdown-{dimension.replace('_', '-')}",
                  f"Compliant victims by {DIMENSION_LABELS[dimension]}, {period.label}",
                  [header(DIMENSION_LABELS[dimension].capitalize()), header("Victims"),
                   header("Compliant (Q1)"), header("Not compliant"), header("Compliant share")])
    for row in rows.itertuples(index=False):
        prefix = f"{KEY}:{dimension}:{row.category}"
        rate = rate_cell(f"{prefix}:{RATE}", row.victim_compliance_rate,
                         missing=SUPPRESSED if row.withheld else "n/a")
        table.rows.append([row_header(CATEGORY_LABELS.get(row.category, row.category)),
                           *(_figure_cell(f"{prefix}:{name}", getattr(row, name)) for name in COUNTS), rate])
    return table


def breakdown_section(groups: pd.DataFrame, period: Period, threshold: int | None = None) -> Section:
    """The report's "Who is being failed" section: one suppressed table per recorded dimension.

    Quarters only: a quarter is the sum of its months, so a month's withheld cell would follow
    from the quarter's figure minus the other two months' (a difference between tables that
    each table's own suppression cannot see). A month's report says so instead.
    """
    limit = disclosure_threshold() if threshold is None else threshold
    if period.kind != "quarter":
        return Section(key=KEY, title="Who is being failed", paragraphs=(
            "Breakdowns of victims by age, sex, ethnicity and disability are published for quarters "
            f"only (see the {period.quarter} report): monthly figures beside the quarter's would let a "
            "withheld small count be worked out by difference.",))
    frame = breakdown_frame(groups, limit)
    shown = recorded_dimensions(groups)
    missing = [DIMENSION_LABELS[name] for name in ATTRIBUTES if name not in shown]
    paragraphs = [
        "Victims of crimes reported in the period, by who they are: how many had every obligation "
        "met on time (compliant, the board paper's Q1) and how many did not.",
        f"To protect victims, a figure counting fewer than {limit} victims is shown as {SUPPRESSED}, "
        "and so is a figure beside it that would let it be worked out from the totals; a share is "
        f"shown only where both its compliant and not compliant victims number {limit} or more.",
    ]
    if missing:
        paragraphs.append("The sources do not record " + " or ".join(missing) + " for these victims.")
    return Section(
        key=KEY, title="Who is being failed", paragraphs=tuple(paragraphs),
        tables=tuple(breakdown_table(frame, name, period) for name in shown),
        how_measured=("Victims as in 'Key figures and victims', grouped by their age at the crime's "
                      "report (bands) and, where recorded, sex, ethnicity (ONS five broad groups) and "
                      "disability; a group not recorded counts as Not stated. Disclosure control: primary "
                      "suppression below the threshold (VCP_DISCLOSURE_THRESHOLD), secondary suppression "
                      "so no withheld figure follows from the row and column totals."),
        frame=frame,
    )
