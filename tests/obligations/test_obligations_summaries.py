"""Compliance summaries and reporting views: they equal a pandas groupby of the obligations, on
SQLite and PostgreSQL alike, whether rebuilt in full or for the changed crimes only."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.rules.store import refresh_obligations
from vcpipeline.rules.summaries import (
    compliance_rate,
    due_dates_of,
    load_summaries,
    periods,
    victim_compliance_rate,
    view_names,
    view_sql,
)
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import table_checksums
from vcpipeline.warehouse.migrate import upgrade

from .conftest import load_night, night_as_of, simulate_force, stored, table_rows

ROOT = Path(__file__).resolve().parents[2]
COUNTS = ["met_on_time", "met_late", "breached", "pending", "waived"]
NAMES = {"MET": "met_on_time", "MET_LATE": "met_late", "BREACHED": "breached", "PENDING": "pending",
         "WAIVED": "waived"}
AGREED = ["agreed_method_compared", "agreed_method_kept"]
KEYS = ["department", "owner", "rule", "enhanced"]


def run_nights(engine, seed: int = 31, nights: int = 8, full_share: float = np.inf,
               choices: bool = True) -> list[str]:
    """Load, evaluate and summarise each night; the summaries' modes. A small force changes
    most of its crimes every night, so by default the summaries are told to stay incremental
    (after the first night) to test that path; `full_share=0` rebuilds them every night."""
    force = simulate_force(seed, nights=nights, choices=choices)
    modes = []
    for night in range(nights):
        load_night(engine, force, night)
        refresh_obligations(engine, night_as_of(night))
        modes.append(load_summaries(engine, night_as_of(night), full_share=full_share)["mode"])
    return modes


def expected_daily(obligations: pd.DataFrame) -> pd.DataFrame:
    """Counted the plain pandas way, independently of the module under test: by status, and the
    met obligations (MET, MET_LATE) with an agreed method to compare, and those that kept it."""
    local = obligations["due_at"].dt.tz_convert("Europe/London")
    # The calendar day before, on naive local dates: 24 hours before a local midnight is
    # another day when the clocks changed in between (due at 00:00 BST on 30 March: 29 March).
    due_date = (local.dt.tz_localize(None).dt.normalize() - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d")
    counts = (obligations.assign(due_date=due_date, column=obligations["status"].map(NAMES))
              .pivot_table(index=["due_date", *KEYS], columns="column",
                           values="crime_ref", aggfunc="count", fill_value=0)
              .reindex(columns=COUNTS, fill_value=0))
    counts.columns.name = None
    met = obligations["status"].isin(["MET", "MET_LATE"])
    agreed = obligations.assign(
        due_date=due_date,
        agreed_method_compared=met & obligations["channel_as_agreed"].notna(),
        agreed_method_kept=met & obligations["channel_as_agreed"].fillna(False).astype(bool),
    ).groupby(["due_date", *KEYS])[AGREED].sum().astype("int64")
    return counts.join(agreed).reset_index()


def rate(frame: pd.DataFrame) -> pd.Series:
    decided = frame["met_on_time"] + frame["met_late"] + frame["breached"]
    return (frame["met_on_time"] / decided).where(decided > 0)


def sorted_frame(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if column in COUNTS or column in (*AGREED, "due", "victims", "compliant", "not_compliant",
                                          "with_pending", "obligations"):
            frame[column] = frame[column].astype("int64")
        elif column in ("enhanced",) and frame[column].dtype != bool:
            frame[column] = frame[column].astype(bool)
        elif column in ("compliance_rate", "agreed_method_rate"):
            frame[column] = frame[column].astype(float)
    return frame.sort_values(keys).reset_index(drop=True)


def test_compliance_rate_counts_decided_obligations_only():
    rates = compliance_rate([3, 0, 0], [1, 0, 0], [0, 0, 2])
    assert rates[0] == 0.75 and np.isnan(rates[1]) and rates[2] == 0.0


def test_victim_compliance_rate_is_the_compliant_share_and_nan_without_victims():
    rates = victim_compliance_rate([3, 0, 0], [4, 0, 2])
    assert rates[0] == 0.75 and np.isnan(rates[1]) and rates[2] == 0.0


def _adds_met_late(node: ast.AST) -> bool:
    """An addition with `met_late` (a name, or a frame's "met_late" column) as an operand."""
    def names_met_late(operand: ast.AST) -> bool:
        return any((isinstance(n, ast.Name) and n.id == "met_late")
                   or (isinstance(n, ast.Constant) and n.value == "met_late") for n in ast.walk(operand))
    return (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add)
            and (names_met_late(node.left) or names_met_late(node.right)))


def test_the_compliance_rate_is_defined_once_in_python_and_once_in_sql():
    """Adding met_late into the decided obligations is the rate's definition: one function
    (`compliance_rate`) and one view (`v_compliance_base`) do it; the rest select or call them.
    Migrations are frozen history and keep the SQL their revision made."""
    migrations = ROOT / "vcpipeline" / "warehouse" / "migrations"
    python = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "vcpipeline").rglob("*.py")
                    if migrations not in path.parents
                    and any(_adds_met_late(node) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
    assert python == ["vcpipeline/rules/summaries.py"]
    sql = sorted(name for name in view_names() if "+ met_late" in view_sql(name).replace("SUM(met_late)", "met_late"))
    assert sql == ["v_compliance_base"]


def test_due_date_is_the_local_day_before_due_at_and_quarters_follow_it():
    due_at = pd.Series(pd.to_datetime(["2026-04-06T23:00:00Z", "2026-01-01T00:00:00Z"], utc=True))
    days, months, quarters = periods(due_dates_of(due_at))
    assert list(days) == ["2026-04-06", "2025-12-31"]
    assert list(months) == ["2026-04", "2025-12"]
    assert list(quarters) == ["2026Q2", "2025Q4"]


@pytest.mark.parametrize("full_share", [np.inf, 0.0], ids=["incremental", "rebuilt"])
def test_summaries_equal_a_pandas_groupby_of_the_obligations(engine, full_share):
    modes = run_nights(engine, full_share=full_share)
    assert modes[1:] == ["incremental" if full_share else "full"] * 7
    obligations = stored(engine)
    assert {"WAIVED", "MET"} <= set(obligations["status"]) and "WITNESS_CARE" in set(obligations["owner"])
    daily = sorted_frame(table_rows(engine, "compliance_daily"), ["due_date", *KEYS])
    expected = sorted_frame(expected_daily(obligations), ["due_date", *KEYS])
    assert daily["waived"].sum() > 0 and daily["agreed_method_kept"].sum() > 0
    pd.testing.assert_frame_equal(daily[expected.columns], expected)
    assert (daily["due"] == daily[COUNTS].sum(axis=1)).all()
    pd.testing.assert_series_equal(daily["compliance_rate"], rate(daily), check_names=False)

    for table, period in (("compliance_monthly", "due_month"), ("compliance_quarterly", "due_quarter")):
        rolled = sorted_frame(table_rows(engine, table), [period, *KEYS])
        want = sorted_frame(daily.groupby([period, *KEYS], as_index=False)
                            [[*COUNTS, *AGREED, "due"]].sum(), [period, *KEYS])
        pd.testing.assert_frame_equal(rolled[want.columns], want)
        pd.testing.assert_series_equal(rolled["compliance_rate"], rate(rolled), check_names=False)


@pytest.mark.parametrize(("choices", "full_share"), [(False, 0.25), (True, np.inf)],
                         ids=["default-share", "with-choices"])
def test_victim_compliance_is_q1_of_every_victim_after_incremental_nights(engine, choices, full_share):
    """Without choices at the default share (some nights full, some incremental); with them
    (more crimes change each night) incremental after the first night, WAIVED counted apart."""
    modes = run_nights(engine, nights=10, full_share=full_share, choices=choices)
    assert modes[0] == "full" and modes.count("incremental") >= 3
    obligations = stored(engine)
    flags = obligations.assign(**{name: obligations["status"] == status for status, name in NAMES.items()})
    expected = flags.groupby(["crime_ref", "victim_id"], as_index=False)[COUNTS].sum()
    expected["compliant"] = (expected["breached"] == 0) & (expected["met_late"] == 0)
    victims = sorted_frame(table_rows(engine, "victim_compliance"), ["crime_ref", "victim_id"])
    expected = sorted_frame(expected, ["crime_ref", "victim_id"])
    pd.testing.assert_frame_equal(victims[expected.columns], expected)
    assert (victims["obligations"] == victims[COUNTS].sum(axis=1)).all()
    assert (victims["waived"].sum() > 0) == choices
    with engine.connect() as conn:
        reported = pd.DataFrame(conn.execute(sa.text("SELECT crime_ref, reported_at FROM crimes")).all(),
                                columns=["crime_ref", "reported_at"])
    reported["report_date"] = (pd.to_datetime(reported["reported_at"], utc=True, format="ISO8601")
                               .dt.tz_convert("Europe/London").dt.strftime("%Y-%m-%d"))
    merged = victims.merge(reported, on="crime_ref")
    assert (merged["report_date_x"] == merged["report_date_y"]).all()
    assert table_rows(engine, "obligation_changes").empty


def test_views_equal_pandas_over_the_summary_tables(engine):
    run_nights(engine)
    monthly = table_rows(engine, "compliance_monthly")
    view = sorted_frame(table_rows(engine, "v_compliance_by_department_month"), ["due_month", "department"])
    want = sorted_frame(monthly.groupby(["due_month", "department"], as_index=False)[[*COUNTS, "due"]].sum(),
                        ["due_month", "department"])
    pd.testing.assert_frame_equal(view[want.columns], want)
    pd.testing.assert_series_equal(view["compliance_rate"], rate(view), check_names=False)

    quarterly = table_rows(engine, "compliance_quarterly")
    monthly["service"] = np.where(monthly["enhanced"].astype(bool), "enhanced", "standard")
    for name, table, keys in (
        ("v_compliance_by_department_quarter", quarterly, ["due_quarter", "department"]),
        ("v_compliance_by_rule_month", monthly, ["due_month", "rule"]),
        ("v_compliance_by_service_month", monthly, ["due_month", "department", "service"]),
        ("v_compliance_by_owner_month", monthly, ["due_month", "owner"]),
        ("v_compliance_by_owner_quarter", quarterly, ["due_quarter", "owner"]),
    ):
        view = sorted_frame(table_rows(engine, name), keys)
        want = sorted_frame(table.groupby(keys, as_index=False)[[*COUNTS, "due"]].sum(), keys)
        pd.testing.assert_frame_equal(view[want.columns], want, obj=name)
        pd.testing.assert_series_equal(view["compliance_rate"], rate(view), check_names=False, obj=name)

    agreed = sorted_frame(table_rows(engine, "v_updates_by_agreed_method_month"), ["due_month", "department"])
    want = sorted_frame(monthly.groupby(["due_month", "department"], as_index=False)[AGREED].sum(),
                        ["due_month", "department"])
    pd.testing.assert_frame_equal(agreed[want.columns], want, obj="v_updates_by_agreed_method_month")
    share = (agreed["agreed_method_kept"] / agreed["agreed_method_compared"]).where(agreed["agreed_method_compared"] > 0)
    pd.testing.assert_series_equal(agreed["agreed_method_rate"], share, check_names=False)
    assert share.notna().any()

    victims = table_rows(engine, "victim_compliance")
    q1 = sorted_frame(table_rows(engine, "v_victim_compliance"), ["report_month", "department"])
    counted = victims.assign(compliant=victims["compliant"].astype(bool)).groupby(
        ["report_month", "department"], as_index=False).agg(victims=("victim_id", "size"),
                                                            compliant=("compliant", "sum"))
    counted = sorted_frame(counted, ["report_month", "department"])
    pd.testing.assert_frame_equal(q1[counted.columns], counted)
    assert np.allclose(q1["compliance_rate"], q1["compliant"] / q1["victims"])


def test_rebuilding_the_summaries_again_changes_nothing(engine):
    run_nights(engine, nights=4)
    with engine.connect() as conn:
        before = table_checksums(conn)
    again = load_summaries(engine, night_as_of(3))
    assert again["crimes_changed"] == 0 and again["mode"] == "incremental"
    with engine.connect() as conn:
        assert table_checksums(conn) == before


@pytest.mark.postgres
def test_views_return_the_same_rows_on_sqlite_and_postgresql(postgres_server_url, tmp_path):
    urls = {"sqlite": f"sqlite:///{tmp_path / 'warehouse.db'}", "postgres": postgres_server_url}
    results = {}
    for backend, url in urls.items():
        if backend == "postgres":
            admin = sa.create_engine(url)
            with admin.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            admin.dispose()
        upgrade(url)
        engine = make_engine(url)
        try:
            run_nights(engine, seed=37, nights=6)
            with engine.connect() as conn:
                results[backend] = {
                    name: pd.DataFrame(conn.execute(sa.text(view_sql(name))).mappings().all())
                    for name in view_names()
                }
                for name in view_names():  # the view and its file's SELECT agree
                    assert len(results[backend][name]) == len(table_rows(engine, name))
        finally:
            engine.dispose()
    for name in view_names():
        lite, pg = results["sqlite"][name], results["postgres"][name]
        keys = [c for c in lite.columns if c in ("grouped_by", "due_month", "due_quarter", "report_month",
                                                   "report_quarter", "department", "owner", "rule",
                                                   "service")]
        assert len(lite) > 0, name
        pd.testing.assert_frame_equal(sorted_frame(lite, keys), sorted_frame(pg, keys), check_dtype=False,
                                      obj=name)


def test_nightly_summary_task_returns_a_json_summary(migrated_warehouse):
    from vcpipeline.tasks.nightly import evaluate_obligations
    from vcpipeline.tasks.nightly import load_summaries as nightly_load_summaries

    engine = make_engine(migrated_warehouse)
    try:
        load_night(engine, simulate_force(41, nights=1), 0)
    finally:
        engine.dispose()
    as_of = night_as_of(0).to_pydatetime()
    evaluate_obligations(as_of, migrated_warehouse)
    summary = nightly_load_summaries(as_of, migrated_warehouse)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["mode"] == "full" and summary["victims"] > 0
    assert 0 <= summary["victim_compliance_rate"] <= 1
