"""Benchmark: build the quarterly compliance report over a 1M-crime quarter (target ≤ 60 s).

Builds a warehouse at that scale synthetically (not timed): a year of summary rows, and for the
quarter 1,000,000 crimes with teams, ~1.1 victims each, ~4.6 obligations per victim in the
`obligations` table (the teams section reads it), `victim_compliance` per victim, the daily /
monthly / quarterly compliance tables rolled up from those obligations by the summaries'
own functions, load batches with quarantined rows, and a published survey. Then times
`build_period_report` (read every section, render, export CSV + Parquet) and each section's
query on its own.

Usage: .venv/bin/python benchmarks/bench_report.py [--crimes 1000000] [--url URL] [--keep]
       .venv/bin/python benchmarks/bench_report.py --reuse --url sqlite:////tmp/<kept>/warehouse.db
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.rules import summaries
from vcpipeline.warehouse import schema
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.io import insert_rows
from vcpipeline.warehouse.migrate import upgrade

PERIOD = "2026Q1"
START = pd.Timestamp("2026-01-01", tz="Europe/London").tz_convert("UTC")
DAYS = 90
RULES = ("acknowledgement", "needs_referral", "investigation_update", "outcome_notification",
         "vps_offer", "vps_feedback")
STATUSES = np.array(["MET", "MET_LATE", "BREACHED", "PENDING"])


def synthetic_quarter(crimes_count: int, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Crimes, obligations and per-victim rows of one quarter, vectorised."""
    rng = np.random.default_rng(seed)
    refs = np.char.add("BR", np.char.zfill(np.arange(crimes_count).astype(str), 8))
    shares = np.array([0.24, 0.26, 0.14, 0.12, 0.10, 0.05, 0.04, 0.05])
    department = np.array(DEPARTMENTS)[rng.choice(len(DEPARTMENTS), crimes_count, p=shares)]
    team = np.char.add(np.char.add(np.char.replace(department, "_", "")[:], "-"),
                       rng.integers(1, 40, crimes_count).astype(str))
    reported_s = START.value // 10**9 + rng.integers(0, DAYS * 86400, crimes_count)
    reported = pd.to_datetime(reported_s, unit="s", utc=True)
    crimes = pd.DataFrame({
        "crime_ref": refs, "reported_at": reported, "department": department,
        "offence_category": "theft", "domestic_abuse": False, "hate_crime": False, "team": team,
        "officer_collar": "1234", "source_system": "CRS", "source_row_id": refs,
        "load_batch_id": "bench", "extracted_at": START,
    })
    victims_per_crime = rng.choice([1, 2, 3], crimes_count, p=[0.92, 0.06, 0.02])
    crime_of_victim = np.repeat(np.arange(crimes_count), victims_per_crime)
    victim_id = np.char.add("V", np.arange(len(crime_of_victim)).astype(str))
    # Obligations per victim: acknowledgement, needs_referral, 0-3 updates, maybe outcome / VPS.
    kinds = [("acknowledgement", np.ones(len(crime_of_victim), int)),
             ("needs_referral", np.ones(len(crime_of_victim), int)),
             ("investigation_update", rng.integers(0, 4, len(crime_of_victim))),
             ("outcome_notification", (rng.random(len(crime_of_victim)) < 0.5).astype(int)),
             ("vps_offer", (rng.random(len(crime_of_victim)) < 0.1).astype(int)),
             ("vps_feedback", (rng.random(len(crime_of_victim)) < 0.05).astype(int))]
    parts = []
    for rule, count in kinds:
        victim = np.repeat(np.arange(len(crime_of_victim)), count)
        within = np.arange(len(victim)) - np.repeat(np.cumsum(count) - count, count)
        parts.append(pd.DataFrame({"victim": victim, "rule": rule, "n": within}))
    owed = pd.concat(parts, ignore_index=True)
    crime = crime_of_victim[owed["victim"].to_numpy()]
    trigger_s = reported_s[crime] + rng.integers(0, 20 * 86400, len(owed))
    trigger = pd.to_datetime(trigger_s, unit="s", utc=True)
    # due_at: the local midnight ending the due date, 1-7 days after the trigger's local date.
    due = (trigger.tz_convert("Europe/London").normalize().tz_localize(None)
           + pd.to_timedelta(rng.integers(2, 9, len(owed)), unit="D")).tz_localize("Europe/London").tz_convert("UTC")
    status = STATUSES[rng.choice(4, len(owed), p=[0.82, 0.1, 0.06, 0.02])]
    met = pd.Series(np.where(status == "MET", due - pd.Timedelta(hours=30), due + pd.Timedelta(hours=20)))
    met = met.where(np.isin(status, ["MET", "MET_LATE"]))
    obligations = pd.DataFrame({
        "crime_ref": refs[crime], "victim_id": victim_id[owed["victim"].to_numpy()],
        "rule": owed["rule"].to_numpy(),
        "trigger_event_id": np.where(np.isin(owed["rule"], ["acknowledgement", "needs_referral"]), "",
                                     np.char.add(np.char.add("E", owed.index.astype(str)), "")),
        "trigger_at": trigger, "due_at": due, "met_at": pd.to_datetime(met, utc=True),
        "status": status, "enhanced": rng.random(len(owed)) < 0.15, "rule_set": "vcop-2020",
        "department": department[crime],
    })
    return {"crimes": crimes, "obligations": obligations}


def summary_rows(obligations: pd.DataFrame, crimes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The summary tables the summaries loader would write, by its own pure functions."""
    daily = summaries.daily_compliance(obligations[["due_at", "department", "rule", "enhanced", "status"]])
    counted = obligations.assign(**{name: (obligations["status"] == status).astype("int64")
                                    for status, name in summaries.STATUS_COUNTS.items()})
    per_victim = counted.groupby(["crime_ref", "victim_id"], as_index=False, sort=False).agg(
        department=("department", "first"), enhanced=("enhanced", "max"),
        **{name: (name, "sum") for name in summaries.STATUS_COUNTS.values()})
    per_victim = per_victim.merge(crimes[["crime_ref", "reported_at"]], on="crime_ref")
    return {"compliance_daily": daily,
            "compliance_monthly": summaries.rollup(daily, "due_month"),
            "compliance_quarterly": summaries.rollup(daily, "due_quarter"),
            "victim_compliance": summaries.victim_compliance_rows(per_victim)}


def earlier_months(rng: np.random.Generator) -> pd.DataFrame:
    """Nine months of monthly summary rows before the quarter (for the 12-month trend)."""
    rows = []
    for month in pd.period_range("2025-04", "2025-12", freq="M").astype(str):
        for department in DEPARTMENTS:
            for rule in RULES:
                for enhanced in (False, True):
                    counts = rng.integers(50, 5000, 4)
                    rows.append({"due_month": month, "department": department, "rule": rule,
                                 "enhanced": enhanced, "met_on_time": counts[0], "met_late": counts[1] // 8,
                                 "breached": counts[2] // 12, "pending": 0})
    frame = pd.DataFrame(rows)
    frame["due"] = frame[["met_on_time", "met_late", "breached", "pending"]].sum(axis=1)
    frame["compliance_rate"] = summaries.compliance_rate(frame["met_on_time"], frame["met_late"], frame["breached"])
    return frame


def batches_and_quarantine(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    batches, bad = [], []
    for source in ("CRS", "VCL", "VS", "WCU"):
        for day in range(DAYS):
            start = START + pd.Timedelta(days=day)
            batch_id = f"{source}-{day}"
            quarantined = int(rng.integers(0, 60))
            batches.append({"batch_id": batch_id, "source_system": source, "interval_start": start,
                            "interval_end": start + pd.Timedelta(days=1), "status": "succeeded",
                            "started_at": start, "finished_at": start, "rows_extracted": 40_000,
                            "rows_loaded": 40_000 - quarantined, "rows_quarantined": quarantined})
            reasons = rng.choice(["expect_column_values_to_not_be_null",
                                  "expect_column_values_to_be_in_set",
                                  "expect_column_values_to_match_strftime_format;expect_column_values_to_be_in_set"],
                                 quarantined)
            bad += [{"batch_id": batch_id, "source_system": source, "entity": "events",
                     "source_row_id": f"{batch_id}-{i}", "reasons": reason, "quarantined_at": start}
                    for i, reason in enumerate(reasons)]
    return pd.DataFrame(batches), pd.DataFrame(bad)


def build_warehouse(url: str, crimes_count: int) -> dict[str, int]:
    rng = np.random.default_rng(11)
    upgrade(url)
    quarter = synthetic_quarter(crimes_count)
    tables = summary_rows(quarter["obligations"], quarter["crimes"])
    monthly = pd.concat([earlier_months(rng), tables["compliance_monthly"]], ignore_index=True)
    batches, bad = batches_and_quarantine(rng)
    engine = make_engine(url)
    sizes = {}
    with engine.begin() as conn:
        for name, frame in (("crimes", quarter["crimes"]), ("obligations", quarter["obligations"]),
                            ("compliance_daily", tables["compliance_daily"]),
                            ("compliance_monthly", monthly),
                            ("compliance_quarterly", tables["compliance_quarterly"]),
                            ("victim_compliance", tables["victim_compliance"]),
                            ("load_batches", batches), ("quarantine", bad)):
            sizes[name] = insert_rows(conn, schema.metadata.tables[name], frame)
        now = datetime.now(UTC)
        conn.execute(schema.obligation_runs.insert().values(
            as_of=(START + pd.Timedelta(days=DAYS + 14)).to_pydatetime(), mode="full", rulesets_sha256="bench",
            batches=0, crimes_reevaluated=crimes_count, obligations_replaced=0,
            obligations_written=sizes["obligations"], statuses_advanced=0,
            obligations_total=sizes["obligations"], started_at=now, finished_at=now))
        survey = [{"quarter": PERIOD, "question": f"Q{q}", "domain": domain, "estimate": 0.8,
                   "variance": 0.001, "standard_error": 0.03, "ci_lower": 0.74, "ci_upper": 0.86,
                   "reviewed": 240, "applicable": 200, "yes": 160, "previous_estimate": 0.75, "change": 0.05,
                   "p_value": 0.2, "significant": False, "agreement_compared": 180, "percent_agreement": 90.0,
                   "kappa": 0.7, "published_at": now}
                  for q in range(1, 10) for domain in ("FORCE", *DEPARTMENTS)]
        conn.execute(schema.survey_results.insert(), survey)
    engine.dispose()
    return sizes


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=1_000_000)
    parser.add_argument("--url", help="warehouse URL (default: a temporary SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--reuse", action="store_true",
                        help="time against --url as it is (a warehouse an earlier --keep run built)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="vcp-bench-report-"))
    url = args.url or f"sqlite:///{folder / 'warehouse.db'}"

    if not args.reuse:
        started = time.perf_counter()
        sizes = build_warehouse(url, args.crimes)
        print(f"built warehouse in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{name} {count:,}" for name, count in sizes.items()), flush=True)

    from vcpipeline.report import data
    from vcpipeline.report.periods import parse_period
    from vcpipeline.report.run import build_period_report

    period = parse_period(PERIOD)
    engine = make_engine(url)
    with engine.connect() as conn:
        for name in ("read_overall", "read_by_rule", "read_by_department", "read_trend", "read_enhanced",
                     "read_victims", "read_teams", "read_loads", "read_quarantine", "read_survey"):
            wall, used = time.perf_counter(), cpu()
            getattr(data, name)(conn, period)
            print(f"  {name:20s} {time.perf_counter() - wall:6.2f} s wall {cpu() - used:6.2f} s CPU", flush=True)
    engine.dispose()

    wall, used = time.perf_counter(), cpu()
    page = build_period_report(url, PERIOD, folder / "report")
    took, took_cpu = time.perf_counter() - wall, cpu() - used
    print(f"build_period_report {PERIOD}: {took:.2f} s wall, {took_cpu:.2f} s CPU "
          f"({page.stat().st_size / 1024:.0f} KiB page) -> {'OK' if took <= 60 else 'OVER'} (target 60 s)")
    if not args.keep:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    else:
        print(f"kept {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
