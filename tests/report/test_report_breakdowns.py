"""Who is being failed: breakdowns by age band, sex, ethnicity and disability, with disclosure control.

No published breakdown cell counts fewer victims than the threshold (page, CSV, Parquet), and an
attacker with every published table, its margins, the force total and linear programming cannot
recover a withheld cell.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy.optimize import linprog

from vcpipeline.report.breakdowns import (
    ALL_VICTIMS,
    COUNTS,
    RATE,
    age_bands,
    breakdown_frame,
    breakdown_section,
    read_victim_groups,
)
from vcpipeline.report.periods import parse_period
from vcpipeline.warehouse.db import make_engine

K = 10
PERIOD = "2026Q1"


def groups_frame(rows: list[tuple]) -> pd.DataFrame:
    """(age, sex, ethnicity, disability, compliant, victims) rows as read_victim_groups returns them."""
    return pd.DataFrame(rows, columns=["age_at_report", "sex", "ethnicity", "disability", "compliant", "victims"])


def skewed_groups(seed: int = 3, victims: int = 400) -> pd.DataFrame:
    """Victims with realistic shares (so some groups are small) and a few with nothing recorded."""
    rng = np.random.default_rng(seed)
    ages = rng.choice([8, 16, 21, 30, 40, 50, 60, 70, 85, None], victims,
                      p=[.02, .05, .15, .2, .2, .15, .1, .06, .03, .04])
    sex = rng.choice(["FEMALE", "MALE", "NOT_STATED"], victims, p=[.52, .45, .03])
    ethnicity = rng.choice(["WHITE", "ASIAN", "BLACK", "MIXED", "OTHER", "NOT_STATED"], victims,
                           p=[.72, .12, .05, .03, .02, .06])
    disability = rng.choice(["YES", "NO", None], victims, p=[.15, .8, .05])
    compliant = rng.random(victims) < .55
    frame = groups_frame(list(zip(ages, sex, ethnicity, disability, compliant, [1] * victims, strict=True)))
    keys = ["age_at_report", "sex", "ethnicity", "disability", "compliant"]
    return frame.groupby(keys, dropna=False, as_index=False)["victims"].sum()


def true_counts(groups: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The unsuppressed counts, computed here independently: category → compliant, not compliant."""
    if dimension == "age_band":
        ages = pd.to_numeric(groups["age_at_report"], errors="coerce")
        edges = [-1, 17, 24, 34, 44, 54, 64, 74, 200]
        labels = ["Under 18", "18 to 24", "25 to 34", "35 to 44", "45 to 54", "55 to 64", "65 to 74", "75 and over"]
        category = pd.cut(ages, edges, labels=labels).astype("string").fillna("NOT_STATED")
    else:
        category = groups[dimension].fillna("NOT_STATED")
    ok = groups["compliant"].astype(bool)
    return pd.DataFrame({"category": category, "compliant": groups["victims"].where(ok, 0),
                         "not_compliant": groups["victims"].where(~ok, 0)}).groupby("category").sum()


def test_age_bands_put_unknown_and_impossible_ages_in_not_stated():
    bands = age_bands(pd.Series([0, 17, 18, 74, 75, 120, None, -3], dtype="Int64"))
    assert list(bands) == ["Under 18", "Under 18", "18 to 24", "65 to 74", "75 and over", "75 and over",
                           "NOT_STATED", "NOT_STATED"]


def test_no_published_breakdown_count_or_rate_rests_on_fewer_victims_than_the_threshold():
    groups = skewed_groups()
    frame = breakdown_frame(groups, K)
    assert set(frame["dimension"]) == {"age_band", "sex", "ethnicity", "disability"}
    counts = frame[list(COUNTS)]
    assert ((counts >= K) | counts.isna()).all().all()
    assert frame["withheld"].any()  # the skewed force has small groups: something is withheld
    shown = frame[frame[RATE].notna()]
    assert (shown["compliant"] >= K).all() and (shown["not_compliant"] >= K).all()
    for dimension, rows in frame.groupby("dimension"):
        truth = true_counts(groups, dimension)
        for row in rows[rows["category"] != ALL_VICTIMS].itertuples():
            for name in ("compliant", "not_compliant"):
                value = getattr(row, name)
                assert pd.isna(value) or value == truth.loc[row.category, name]


def test_an_attribute_no_source_records_is_left_out_and_said_so():
    groups = skewed_groups().assign(sex=None, ethnicity=None, disability=None)
    section = breakdown_section(groups, parse_period(PERIOD), K)
    assert set(section.frame["dimension"]) == {"age_band"}
    assert any("do not record sex or ethnicity (ONS broad groups) or disability" in p for p in section.paragraphs)


def test_the_total_row_is_the_force_figure_and_stays_published():
    groups = skewed_groups()
    frame = breakdown_frame(groups, K)
    totals = frame[frame["category"] == ALL_VICTIMS]
    assert (totals["victims"] == groups["victims"].sum()).all()
    assert (totals["compliant"] == groups.loc[groups["compliant"], "victims"].sum()).all()


def recover(published: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float, float]]:
    """The attacker: every published breakdown table at once, the relations inside each table
    (compliant + not compliant = victims; categories sum to the total row), the total row shared
    by every table (so differences between tables count too), nonnegative counts; the range each
    withheld count can take."""
    cells: list[tuple[str, str, str]] = []
    known: dict[tuple[str, str, str], float] = {}
    for row in published.itertuples():
        for name in COUNTS:
            key = (row.dimension, row.category, name)
            key = ("*", ALL_VICTIMS, name) if row.category == ALL_VICTIMS else key
            if key not in known and key not in cells:
                value = getattr(row, name)
                if pd.isna(value):
                    cells.append(key)
                else:
                    known[key] = float(value)
    position = {key: i for i, key in enumerate(cells)}
    a_rows, b_rows = [], []

    def relation(terms: list[tuple[tuple[str, str, str], float]]) -> None:
        line, constant = np.zeros(len(cells)), 0.0
        for key, sign in terms:
            if key in position:
                line[position[key]] += sign
            else:
                constant -= sign * known[key]
        a_rows.append(line)
        b_rows.append(constant)

    for dimension, rows in published.groupby("dimension"):
        categories = [c for c in rows["category"] if c != ALL_VICTIMS]
        for category in [*categories, ALL_VICTIMS]:
            d = "*" if category == ALL_VICTIMS else dimension
            relation([((d, category, "compliant"), 1), ((d, category, "not_compliant"), 1),
                      ((d, category, "victims"), -1)])
        for name in COUNTS:
            relation([*(((dimension, c, name), 1) for c in categories), (("*", ALL_VICTIMS, name), -1)])
    a_eq, b_eq = np.array(a_rows), np.array(b_rows)
    ranges = {}
    for key, i in position.items():
        objective = np.zeros(len(cells))
        objective[i] = 1
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
        assert low.success and high.success
        ranges[key] = (low.fun, -high.fun)
    return ranges


def test_an_attacker_with_every_table_and_total_cannot_recover_a_withheld_cell():
    ranges = recover(breakdown_frame(skewed_groups(), K))
    assert ranges, "nothing was withheld: the test force must have small groups"
    pinned = {key: r for key, r in ranges.items() if r[1] - r[0] < 1}
    assert not pinned


def test_without_secondary_suppression_the_attacker_would_succeed():
    """The attack is real: publish only the primary suppression and it recovers cells."""
    frame = breakdown_frame(skewed_groups(), K).copy()
    groups = skewed_groups()
    for dimension in frame["dimension"].unique():
        truth = true_counts(groups, dimension)
        truth["victims"] = truth.sum(axis=1)
        mask = (frame["dimension"] == dimension) & (frame["category"] != ALL_VICTIMS)
        for name in COUNTS:
            values = frame.loc[mask, "category"].map(truth[name]).astype("Int64")
            frame.loc[mask, name] = values.mask(values < K)
    ranges = recover(frame)
    assert any(high - low < 1 for low, high in ranges.values())


# --- through the warehouse and the report's files ---------------------------------------------------

@pytest.fixture(scope="module")
def attributed_warehouse(sqlite_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the report warehouse whose victims carry sex, ethnicity and disability with
    realistic shares (some rare groups, some not stated), set here so the test knows them."""
    source = Path(sqlite_warehouse.removeprefix("sqlite:///"))
    copy = tmp_path_factory.mktemp("attributed") / "warehouse.db"
    shutil.copy(source, copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    with engine.begin() as conn:
        keys = conn.execute(sa.text("SELECT crime_ref, victim_id FROM victims ORDER BY crime_ref, victim_id")).all()
        rng = np.random.default_rng(11)
        n = len(keys)
        values = [{"c": c, "v": v, "s": s, "e": e, "d": d} for (c, v), s, e, d in zip(
            keys, rng.choice(["FEMALE", "MALE", "NOT_STATED"], n, p=[.52, .45, .03]),
            rng.choice(["WHITE", "ASIAN", "BLACK", "MIXED", "OTHER", "NOT_STATED"], n, p=[.72, .12, .05, .03, .02, .06]),
            rng.choice(["YES", "NO", "NOT_STATED"], n, p=[.15, .8, .05]), strict=True)]
        conn.execute(sa.text("UPDATE victims SET sex = :s, ethnicity = :e, disability = :d "
                             "WHERE crime_ref = :c AND victim_id = :v"), values)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def built(attributed_warehouse: str, tmp_path_factory: pytest.TempPathFactory, page_parser):
    """The quarter's report with the breakdown section, written as the report run writes it."""
    from vcpipeline.report.build import render_report
    from vcpipeline.report.data import read_report_data
    from vcpipeline.report.export import export_names, export_tables

    period = parse_period(PERIOD)
    folder = tmp_path_factory.mktemp("report")
    engine = make_engine(attributed_warehouse)
    with engine.connect() as conn:
        data = read_report_data(conn, period)
        groups = read_victim_groups(conn, period)
    engine.dispose()
    data = replace(data, extra_sections=(breakdown_section(groups, period, K),))
    data = replace(data, exports=export_names("r", data))
    export_tables(data, folder, "r")
    html = render_report(data)
    return {"groups": groups, "figures": page_parser(html).figures, "html": html,
            "csv": pd.read_csv(folder / "r-data" / "breakdowns.csv"),
            "parquet": pd.read_parquet(folder / "r-data" / "breakdowns.parquet")}


def test_the_warehouse_breakdown_counts_every_victim_of_the_period_once(built):
    frame = built["parquet"]
    victims = built["groups"]["victims"].sum()
    assert (frame.loc[frame["category"] == ALL_VICTIMS, "victims"] == victims).all()
    assert set(frame["dimension"]) == {"age_band", "sex", "ethnicity", "disability"}


def test_no_breakdown_cell_below_the_threshold_is_published_in_the_page_csv_or_parquet(built):
    shown = {key: value for key, value in built["figures"].items() if key.startswith("breakdowns:")}
    counts = [float(v) for key, v in shown.items() if key.rsplit(":", 1)[1] in COUNTS and v != ""]
    assert counts and min(counts) >= K
    assert any(v == "" for v in shown.values())  # withheld cells are in the page, as [c]
    assert "[c]" in built["html"]
    for file in ("csv", "parquet"):
        frame = built[file]
        assert ((frame[list(COUNTS)] >= K) | frame[list(COUNTS)].isna()).all().all(), file
        rates = frame[frame[RATE].notna()]
        assert (rates["compliant"] >= K).all() and (rates["not_compliant"] >= K).all(), file


def test_the_published_files_do_not_let_an_attacker_recover_a_withheld_cell(built):
    ranges = recover(built["parquet"])
    assert ranges
    assert not {key: r for key, r in ranges.items() if r[1] - r[0] < 1}


def test_the_period_report_carries_the_breakdowns_in_its_page_and_files(attributed_warehouse: str, out_dir: Path,
                                                                        page_parser):
    from vcpipeline.report.run import build_period_report

    page = build_period_report(attributed_warehouse, PERIOD, out_dir)
    parsed = page_parser(page.read_text(encoding="utf-8"))
    assert "breakdowns" in parsed.ids and "breakdown-ethnicity" in parsed.ids
    assert any(key.startswith("breakdowns:ethnicity:") for key in parsed.figures)
    frame = pd.read_csv(out_dir / f"{page.stem}-data" / "breakdowns.csv")
    assert ((frame[list(COUNTS)] >= K) | frame[list(COUNTS)].isna()).all().all()


def test_a_period_without_victims_publishes_an_empty_age_table_rather_than_failing():
    empty = groups_frame([]).astype({"victims": "int64"})
    frame = breakdown_frame(empty, K)
    assert list(frame["dimension"].unique()) == ["age_band"]
    assert frame.loc[frame["category"] == ALL_VICTIMS, "victims"].tolist() == [0]
    assert frame.loc[frame["category"] != ALL_VICTIMS, list(COUNTS)].isna().all().all()


def test_a_months_report_has_no_breakdown_so_a_quarter_minus_two_months_reveals_nothing(attributed_warehouse: str):
    """A quarter is the sum of its months: were months published too, a month's withheld cell
    would be the quarter's figure minus the other two months'. Months say where to look instead."""
    engine = make_engine(attributed_warehouse)
    with engine.connect() as conn:
        month = parse_period("2026-02")
        section = breakdown_section(read_victim_groups(conn, month), month, K)
    engine.dispose()
    assert section.frame is None and not section.tables
    assert "quarters only" in section.paragraphs[0] and "2026Q1" in section.paragraphs[0]


# Where a victim's sex, ethnicity or disability may be read: mapped in, stored, and counted in
# suppressed aggregates. E-mails (alerts), worksheets and the dip sample (sampling) never read them.
ATTRIBUTE_READERS = ("vcpipeline.canonical", "vcpipeline.sources.", "vcpipeline.warehouse.",
                     "vcpipeline.synth.", "vcpipeline.report.breakdowns", "vcpipeline.returns.")


def test_victim_attributes_are_read_only_where_they_are_aggregated():
    import ast

    from vcpipeline.canonical import OPTIONAL_VICTIM_COLUMNS

    root = Path(__file__).resolve().parents[2]
    readers = []
    for path in sorted((root / "vcpipeline").rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        if module.startswith(ATTRIBUTE_READERS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            named = (node.value if isinstance(node, ast.Constant) and isinstance(node.value, str)
                     else node.attr if isinstance(node, ast.Attribute) else None)
            if named in (*OPTIONAL_VICTIM_COLUMNS, "OPTIONAL_VICTIM_COLUMNS", "VICTIM_ATTRIBUTE_CODES"):
                readers.append(f"{module}:{node.lineno}")
    assert not readers, f"victim attributes read outside the aggregated breakdowns: {readers}"
