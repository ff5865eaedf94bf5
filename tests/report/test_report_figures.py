"""Every figure printed in the report equals what the warehouse holds.

Expected values are computed here independently of `vcpipeline.report`: the compliance figures by
a pandas groupby of the `obligations` table (with the local due date derived here; WAIVED counted
on its own, never in the rate; the updates by the agreed method from `channel_as_agreed`),
cross-checked against the summaries' reporting views; victims from `victim_compliance`; teams from obligations
and `crimes.team`; data quality from `load_batches` and `quarantine`; the survey from
`survey_results`. The page's figures are read back from its `data-figure` / `data-value` cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.calendar import local_dates
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.frames import read_frame

PERIODS = ("2026Q1", "2026-03", "2025Q3")
RULES = ("acknowledgement", "needs_referral", "investigation_update", "agreed_update", "outcome_notification",
         "vps_offer", "vps_feedback")
STATUS = {"MET": "met_on_time", "MET_LATE": "met_late", "BREACHED": "breached", "PENDING": "pending",
          "WAIVED": "waived"}


@pytest.fixture(scope="module")
def pages(report_warehouse: str, tmp_path_factory: pytest.TempPathFactory, page_parser) -> dict:
    from vcpipeline.report.run import build_period_report

    folder = tmp_path_factory.mktemp("pages") / "report"
    built = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VCP_REPORT_TEAM_MIN_DECIDED", str(TEAM_MIN_DECIDED))
        for period in PERIODS:
            path = build_period_report(report_warehouse, period, folder)
            built[period] = page_parser(path.read_text(encoding="utf-8")).figures
    return built


TEAM_MIN_DECIDED = 5


@pytest.fixture(scope="module")
def warehouse(report_warehouse: str) -> dict[str, pd.DataFrame]:
    engine = make_engine(report_warehouse)
    with engine.connect() as conn:
        tables = {name: read_frame(conn, f"SELECT * FROM {name}") for name in (
            "obligations", "crimes", "victim_compliance", "load_batches", "quarantine", "survey_results")}
        for view in ("v_compliance_by_department_quarter", "v_compliance_by_department_month",
                     "v_victim_compliance_by_department_quarter", "v_compliance_by_owner_quarter",
                     "v_updates_by_agreed_method_month"):  # as the database computes them
            result = conn.execute(sa.text(f"SELECT * FROM {view}"))
            tables[view] = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    engine.dispose()
    obligations = tables["obligations"]
    due_dates = local_dates(obligations["due_at"]) - np.timedelta64(1, "D")
    months = due_dates.astype("datetime64[M]")
    obligations["month"] = months.astype(str)
    month_number = months.astype(np.int64) % 12
    obligations["quarter"] = [f"{m[:4]}Q{n // 3 + 1}" for m, n in zip(obligations["month"], month_number,
                                                                       strict=True)]
    obligations["service"] = np.where(obligations["enhanced"].astype(bool), "enhanced", "standard")
    for status, column in STATUS.items():
        obligations[column] = (obligations["status"] == status).astype("int64")
    # Updates by the agreed method: met (on time or late) with an agreed method to compare.
    as_agreed = obligations["channel_as_agreed"].astype("boolean")
    met = obligations["status"].isin(["MET", "MET_LATE"])
    obligations["compared"] = (met & as_agreed.notna()).astype("int64")
    obligations["kept"] = (met & as_agreed.fillna(False)).astype("int64")
    return tables


def _in_period(frame: pd.DataFrame, period: str, month: str = "month", quarter: str = "quarter") -> pd.DataFrame:
    return frame[frame[quarter] == period] if "Q" in period else frame[frame[month] == period]


def _counts(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    grouped = frame.groupby(keys, as_index=False)[list(STATUS.values())].sum() if keys else \
        pd.DataFrame([frame[list(STATUS.values())].sum()])
    grouped["due"] = grouped[list(STATUS.values())].sum(axis=1)
    decided = grouped["met_on_time"] + grouped["met_late"] + grouped["breached"]
    grouped["compliance_rate"] = grouped["met_on_time"] / decided.where(decided > 0)
    return grouped


COUNTS = ("due", "met_on_time", "met_late", "breached", "pending", "waived", "compliance_rate")


def _expect_agreed_method(expected: dict, inside: pd.DataFrame, named) -> None:
    """Per month of the period and crime department (and ALL of each), kept / compared; the whole
    period's column only for a quarter (a month's is the month), its force figure always (headline)."""
    departments = sorted(set(inside["department"]))
    months = list(named.months)
    for month in [*months, "ALL"]:
        rows = inside if month == "ALL" else inside[inside["month"] == month]
        for department in [*departments, "ALL"]:
            if month == "ALL" and department != "ALL" and len(months) == 1:
                continue
            picked = rows if department == "ALL" else rows[rows["department"] == department]
            kept, compared = int(picked["kept"].sum()), int(picked["compared"].sum())
            key = f"agreed_method:{month}/{department}"
            expected[f"{key}:agreed_method_kept"] = kept
            expected[f"{key}:agreed_method_compared"] = compared
            expected[f"{key}:agreed_method_rate"] = kept / compared if compared else math.nan


def _expect(expected: dict, section: str, key: str, row: pd.Series, columns=COUNTS) -> None:
    for column in columns:
        expected[f"{section}:{key}:{column}"] = row[column]


def expected_figures(tables: dict[str, pd.DataFrame], period: str) -> dict[str, object]:
    from vcpipeline.report.periods import parse_period

    named = parse_period(period)
    obligations = tables["obligations"]
    inside = _in_period(obligations, period)
    expected: dict[str, object] = {}
    _expect(expected, "overall", "ALL", _counts(inside, []).iloc[0], ("due", "met_late", "breached", "pending",
                                                                     "waived", "compliance_rate"))
    by_rule = _counts(inside, ["rule"]).set_index("rule")
    for rule in RULES:
        row = by_rule.loc[rule] if rule in by_rule.index else pd.Series(
            {**dict.fromkeys(COUNTS, 0), "compliance_rate": math.nan})
        _expect(expected, "by_rule", rule, row)
    for _, row in _counts(inside, ["department"]).iterrows():
        _expect(expected, "by_department", row["department"], row)
    for _, row in _counts(inside, ["owner"]).iterrows():
        _expect(expected, "by_owner", row["owner"], row)
    _expect_agreed_method(expected, inside, named)
    enhanced = pd.concat([_counts(inside, ["service", "rule"]), _counts(inside, ["service"]).assign(rule="ALL")])
    enhanced = enhanced.set_index(["service", "rule"])
    for service in ("enhanced", "standard"):
        for rule in ("ALL", *RULES):
            row = enhanced.loc[(service, rule)] if (service, rule) in enhanced.index else pd.Series(
                {"due": 0, "breached": 0, "compliance_rate": math.nan})
            _expect(expected, "enhanced", f"{service}/{rule}", row, ("due", "breached", "compliance_rate"))
    trend_months = set(named.trend_months())
    in_trend = obligations[obligations["month"].isin(trend_months)]
    trend = pd.concat([_counts(in_trend, ["month", "rule"]), _counts(in_trend, ["month"]).assign(rule="ALL")])
    trend = trend.set_index(["month", "rule"])
    for month in named.trend_months():
        expected[f"trend:{month}/ALL:due"] = trend["due"].get((month, "ALL"), 0)
        for rule in ("ALL", *RULES):
            expected[f"trend:{month}/{rule}:compliance_rate"] = trend["compliance_rate"].get((month, rule), math.nan)
    # Victims: crimes reported in the period (victim_compliance), by department and in all.
    victims = _in_period(tables["victim_compliance"], period, "report_month", "report_quarter")
    per_department = victims.groupby("department").agg(victims=("victim_id", "size"),
                                                        compliant=("compliant", "sum"))
    per_department.loc["ALL"] = per_department.sum()
    for department, row in per_department.iterrows():
        expected[f"victims:{department}:victims"] = row["victims"]
        expected[f"victims:{department}:compliant"] = row["compliant"]
        expected[f"victims:{department}:victim_compliance_rate"] = row["compliant"] / row["victims"]
    _expect_survey(expected, tables["survey_results"], named.quarter)
    _expect_data_quality(expected, tables, named)
    for _, row in _counts(inside, ["owner", "rule"]).iterrows():
        decided = row["met_on_time"] + row["met_late"] + row["breached"]
        if decided:
            key = f"owner_rule:{row['owner']}/{row['rule']}"
            expected[f"{key}:met_on_time"], expected[f"{key}:decided"] = row["met_on_time"], decided
            expected[f"{key}:compliance_rate"] = row["compliance_rate"]
    _expect_headline(expected, tables, named, inside, per_department)
    return expected


def _expect_headline(expected: dict, tables: dict, named, inside: pd.DataFrame, victims: pd.DataFrame) -> None:
    """The reconciled block: this period and the one before, obligations and victims."""
    before = _in_period(tables["obligations"], named.previous.name)
    for when, rows in (("estimate", inside), ("previous", before)):
        counts = _counts(rows, []).iloc[0] if len(rows) else None
        rate = math.nan if counts is None else counts["compliance_rate"]
        expected[f"headline:obligation:{when}"] = rate
        if when == "estimate":
            expected["headline:obligation:part"] = counts["met_on_time"]
            expected["headline:obligation:whole"] = counts["met_on_time"] + counts["met_late"] + counts["breached"]
    expected["headline:victim:estimate"] = victims.loc["ALL", "compliant"] / victims.loc["ALL", "victims"]
    expected["headline:victim:part"] = victims.loc["ALL", "compliant"]
    expected["headline:victim:whole"] = victims.loc["ALL", "victims"]


def _expect_survey(expected: dict, results: pd.DataFrame, quarter: str) -> None:
    force = results[(results["quarter"] == quarter) & (results["domain"] == "FORCE")]
    for _, row in force.iterrows():
        for column in ("estimate", "ci_lower", "ci_upper", "previous_estimate", "change", "significant",
                       "applicable", "percent_agreement", "kappa"):
            expected[f"survey:{row['question']}:{column}"] = row[column]


def _expect_data_quality(expected: dict, tables: dict, named) -> None:
    from vcpipeline.calendar import start_of_local_day

    low, high = start_of_local_day(np.array([named.first, named.after], dtype="datetime64[D]"))
    batches = tables["load_batches"]
    batches = batches[(batches["interval_start"] >= low) & (batches["interval_start"] < high)]
    for source, rows in batches.groupby("source_system"):
        expected[f"loads:{source}:batches"] = len(rows)
        expected[f"loads:{source}:failed"] = int((rows["status"] == "failed").sum())
        for column in ("rows_extracted", "rows_loaded", "rows_quarantined"):
            expected[f"loads:{source}:{column}"] = int(rows[column].sum())
    bad = tables["quarantine"][tables["quarantine"]["batch_id"].isin(batches["batch_id"])]
    bad = bad.assign(reason=bad["reasons"].str.split(";")).explode("reason")
    for (source, entity, reason), rows in bad.groupby(["source_system", "entity", "reason"]):
        expected[f"quarantine:{source}/{entity}/{reason}:rows"] = len(rows)


def _same(shown: str, expected: object) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)) or expected is pd.NA:
        return shown == ""
    if isinstance(expected, bool | np.bool_):
        return shown == ("true" if expected else "false")
    if shown == "":
        return False
    return math.isclose(float(shown), float(expected), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("period", PERIODS)
def test_every_expected_figure_is_printed_with_the_warehouse_value(pages: dict, warehouse: dict,
                                                                   period: str) -> None:
    shown = pages[period]
    expected = expected_figures(warehouse, period)
    missing = sorted(set(expected) - set(shown))
    assert not missing, f"figures not in the page: {missing[:10]}"
    wrong = {key: (shown[key], expected[key]) for key in expected if not _same(shown[key], expected[key])}
    assert not wrong, f"figures differing from the warehouse: {dict(list(wrong.items())[:10])}"


@pytest.mark.parametrize("period", PERIODS)
def test_every_printed_figure_is_checked(pages: dict, warehouse: dict, period: str) -> None:
    expected = expected_figures(warehouse, period)
    # teams, the comparison's re-use of by_rule/victims, and the changes' tests: pinned by their own tests
    others = ("teams:", "compare:", "headline:survey:", "headline:obligation:change",
              "headline:obligation:significant", "headline:victim:",
              "breakdowns:",  # with disclosure control: tests/report/test_report_breakdowns.py
              "attrition:")  # recomputed from the warehouse in tests/report/test_report_attrition.py
    unchecked = sorted(key for key in set(pages[period]) - set(expected) if not key.startswith(others))
    assert not unchecked, f"figures the test does not know: {unchecked[:10]}"


@pytest.mark.parametrize("period", PERIODS)
def test_teams_are_ranked_by_rate_among_teams_with_enough_decided_obligations(pages: dict, warehouse: dict,
                                                                              period: str) -> None:
    obligations = _in_period(warehouse["obligations"], period)
    teams = obligations.merge(warehouse["crimes"][["crime_ref", "team"]], on="crime_ref", how="left")
    teams = teams[teams["team"].notna()]
    counts = _counts(teams, ["department", "team"])
    counts["decided"] = counts["met_on_time"] + counts["met_late"] + counts["breached"]
    eligible = counts[counts["decided"] >= TEAM_MIN_DECIDED].set_index(["department", "team"])
    shown_keys = [key.split(":")[1] for key in pages[period] if key.endswith(":compliance_rate")
                  and key.startswith("teams:")]
    assert len(shown_keys) == min(10, len(eligible)) and len(shown_keys) > 1
    rates = []
    for key in shown_keys:
        department, team = key.split("/", 1)
        row = eligible.loc[(department, team)]  # a team below the minimum volume is never ranked
        for column in ("breached", "met_late", "decided", "due", "compliance_rate"):
            assert _same(pages[period][f"teams:{key}:{column}"], row[column]), (key, column)
        rates.append(row["compliance_rate"])
    assert rates == sorted(rates)  # lowest compliance first, not most breaches
    assert (eligible["compliance_rate"] < max(rates)).sum() <= len(shown_keys)  # nobody lower left out


@pytest.mark.parametrize("period", ["2026Q1", "2025Q3"])
def test_department_figures_equal_the_reporting_view(pages: dict, warehouse: dict, period: str) -> None:
    view = warehouse["v_compliance_by_department_quarter"]
    for _, row in view[view["due_quarter"] == period].iterrows():
        for column in ("due", "breached", "compliance_rate"):
            assert _same(pages[period][f"by_department:{row['department']}:{column}"], row[column])
    victims = warehouse["v_victim_compliance_by_department_quarter"]
    for _, row in victims[victims["report_quarter"] == period].iterrows():
        assert _same(pages[period][f"victims:{row['department']}:victims"], row["victims"])
        assert _same(pages[period][f"victims:{row['department']}:victim_compliance_rate"], row["compliance_rate"])


def test_month_figures_equal_the_monthly_reporting_view(pages: dict, warehouse: dict) -> None:
    view = warehouse["v_compliance_by_department_month"]
    rows = view[view["due_month"] == "2026-03"]
    assert len(rows) > 0
    for _, row in rows.iterrows():
        assert _same(pages["2026-03"][f"by_department:{row['department']}:due"], row["due"])
        assert _same(pages["2026-03"][f"by_department:{row['department']}:compliance_rate"],
                     row["compliance_rate"])


def test_quarter_with_a_survey_shows_it_and_one_without_says_so(pages: dict, report_warehouse: str,
                                                                tmp_path: Path) -> None:
    assert "survey:Q1:estimate" in pages["2026Q1"]
    assert "survey:Q1:previous_estimate" in pages["2026Q1"] and pages["2026Q1"]["survey:Q1:previous_estimate"]
    assert not any(key.startswith("survey:") for key in pages["2025Q3"])
    from vcpipeline.report.run import build_period_report

    html = build_period_report(report_warehouse, "2025Q3", tmp_path).read_text(encoding="utf-8")
    assert "No dip-sample survey results have been published for 2025Q3" in html


def test_a_period_with_no_obligations_renders_with_no_figures_rather_than_failing(
        report_warehouse: str, tmp_path: Path, page_parser) -> None:
    from vcpipeline.report.run import build_period_report

    figures = page_parser(build_period_report(report_warehouse, "2019Q1", tmp_path).read_text()).figures
    assert figures["overall:ALL:due"] == "0"
    assert figures["overall:ALL:compliance_rate"] == ""
    assert figures["by_rule:acknowledgement:compliance_rate"] == ""


def test_warehouse_has_data_in_every_section(warehouse: dict) -> None:
    """Guard: the fixture force exercises every section (else the checks above prove little)."""
    obligations = warehouse["obligations"]
    q1 = obligations[obligations["quarter"] == "2026Q1"]
    assert set(q1["rule"]) == set(RULES)
    assert q1["enhanced"].astype(bool).any() and (~q1["enhanced"].astype(bool)).any()
    assert (q1["status"] == "BREACHED").any() and (q1["status"] == "MET_LATE").any()
    assert len(warehouse["quarantine"]) > 0
    with_quarter = warehouse["survey_results"]
    assert set(with_quarter["quarter"]) == {"2025Q4", "2026Q1"}


def test_waived_obligations_are_counted_on_their_own_and_left_out_of_the_rate(pages: dict,
                                                                               warehouse: dict) -> None:
    shown = pages["2026Q1"]
    q1 = _in_period(warehouse["obligations"], "2026Q1")
    counts = q1["status"].value_counts()
    assert counts.get("WAIVED", 0) > 0  # else this proves nothing
    assert int(shown["overall:ALL:waived"]) == counts["WAIVED"]
    assert int(shown["overall:ALL:due"]) == len(q1)  # owed at first: every status counts as due
    decided = counts["MET"] + counts["MET_LATE"] + counts["BREACHED"]
    assert float(shown["overall:ALL:compliance_rate"]) == pytest.approx(counts["MET"] / decided, rel=1e-12)
    assert float(shown["overall:ALL:compliance_rate"]) != pytest.approx(
        counts["MET"] / (decided + counts["WAIVED"]), rel=1e-9)
    for department, rows in q1[q1["status"] == "WAIVED"].groupby("department"):
        assert int(shown[f"by_department:{department}:waived"]) == len(rows)


def test_agreed_method_share_is_those_met_by_the_agreed_method_of_the_met_ones_with_one_agreed(
        pages: dict, warehouse: dict) -> None:
    q1 = _in_period(warehouse["obligations"], "2026Q1")
    met = q1[q1["status"].isin(["MET", "MET_LATE"])]
    as_agreed = met["channel_as_agreed"].astype("boolean")
    compared, kept = int(as_agreed.notna().sum()), int(as_agreed.fillna(False).sum())
    assert 0 < kept < compared  # some victims were contacted another way than they asked
    shown = pages["2026Q1"]
    assert int(shown["agreed_method:ALL/ALL:agreed_method_kept"]) == kept
    assert int(shown["agreed_method:ALL/ALL:agreed_method_compared"]) == compared
    assert float(shown["agreed_method:ALL/ALL:agreed_method_rate"]) == pytest.approx(kept / compared, rel=1e-12)
    # Only the rules that keep the victim informed are ever compared, and never a waived or unmet one.
    informing = {"investigation_update", "outcome_notification", "vps_feedback", "agreed_update"}
    compared_rows = q1[q1["channel_as_agreed"].notna() & q1["status"].isin(["MET", "MET_LATE"])]
    assert set(compared_rows["rule"]) <= informing


@pytest.mark.parametrize("period", ["2026Q1", "2025Q3"])
def test_owner_figures_equal_the_owner_reporting_view(pages: dict, warehouse: dict, period: str) -> None:
    view = warehouse["v_compliance_by_owner_quarter"]
    rows = view[view["due_quarter"] == period]
    assert len(rows) > 0
    for _, row in rows.iterrows():
        for column in ("due", "breached", "waived", "compliance_rate"):
            assert _same(pages[period][f"by_owner:{row['owner']}:{column}"], row[column]), (row["owner"], column)


def test_agreed_method_figures_equal_the_agreed_method_reporting_view(pages: dict, warehouse: dict) -> None:
    view = warehouse["v_updates_by_agreed_method_month"]
    rows = view[view["due_month"].isin(["2026-01", "2026-02", "2026-03"])]
    assert len(rows) > 0
    for _, row in rows.iterrows():
        key = f"agreed_method:{row['due_month']}/{row['department']}"
        for column in ("agreed_method_compared", "agreed_method_kept", "agreed_method_rate"):
            assert _same(pages["2026Q1"][f"{key}:{column}"], row[column]), (key, column)


def test_witness_care_owns_the_post_charge_items_of_other_departments_crimes(pages: dict) -> None:
    shown = pages["2026Q1"]
    assert int(shown["by_owner:WITNESS_CARE:due"]) > int(shown.get("by_department:WITNESS_CARE:due", 0))
    assert sum(int(v) for k, v in shown.items() if k.startswith("by_owner:") and k.endswith(":due")) == \
        int(shown["overall:ALL:due"])


def test_fixture_force_makes_the_victims_choices(warehouse: dict) -> None:
    """Guard: opt-outs (WAIVED), post-charge hand-overs and both kinds of contact in 2026Q1."""
    q1 = _in_period(warehouse["obligations"], "2026Q1")
    assert (q1["status"] == "WAIVED").sum() >= 3
    assert (q1["owner"] != q1["department"]).any()
    assert set(q1["channel_as_agreed"].dropna().astype(bool)) == {True, False}
