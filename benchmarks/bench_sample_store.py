"""Benchmark: the stored dip sample end to end on a realistic quarter.

Loads N crimes for one quarter (8 departments, 30%…1% each, one victim each) into a fresh
SQLite warehouse (and PostgreSQL with --postgres), six obligations per crime in an indexed
`obligations` table, then times: drawing and storing the sample of 240, re-drawing it (the
idempotent path), writing the eight worksheets, simulating the reviewers, ingesting the
returns and publishing the survey results.

    .venv/bin/python benchmarks/bench_sample_store.py --crimes 200000 \\
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/vcp_sample_bench]

The PostgreSQL database must exist; its `public` schema is dropped and recreated.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.sampling.results import publish_survey_results
from vcpipeline.sampling.reviews import ingest_returns
from vcpipeline.sampling.simulate import simulate_returns
from vcpipeline.sampling.store import draw_and_store_sample
from vcpipeline.sampling.worksheets import write_worksheets
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.load import start_batch, upsert_crimes, upsert_victims
from vcpipeline.warehouse.migrate import upgrade

QUARTER = "2026Q1"
SHARES = np.array([0.30, 0.25, 0.15, 0.12, 0.08, 0.05, 0.04, 0.01])
RULES = ("acknowledgement", "needs_referral", "investigation_update", "outcome_notification",
         "vps_offer", "vps_feedback")
STATUSES = np.array(["MET", "MET", "MET", "MET_LATE", "BREACHED", "PENDING"])


def force(n: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    refs = np.char.add("C", np.arange(n).astype(str))
    reported = pd.Timestamp("2026-01-01T00:00:00Z") + pd.to_timedelta(rng.integers(0, 89 * 86400, n), unit="s")
    departments = np.array(DEPARTMENTS)[rng.choice(len(DEPARTMENTS), n, p=SHARES / SHARES.sum())]
    extracted = pd.Timestamp("2026-04-02T01:00:00Z")
    crimes = pd.DataFrame({"crime_ref": refs, "reported_at": reported, "department": departments,
                           "offence_category": "burglary", "domestic_abuse": False, "hate_crime": False,
                           "source_system": "crs", "source_row_id": refs, "extracted_at": extracted})
    victims = pd.DataFrame({"crime_ref": refs, "victim_id": "V1", "age_at_report": 40, "vulnerable": False,
                            "intimidated": False, "persistently_targeted": False, "source_system": "crs",
                            "source_row_id": refs, "extracted_at": extracted})
    repeat = np.repeat(np.arange(n), len(RULES))
    trigger = reported[repeat]
    obligations = pd.DataFrame({
        "crime_ref": refs[repeat], "victim_id": "V1", "rule": np.tile(RULES, n),
        "trigger_at": trigger.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "due_at": (trigger + pd.Timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "met_at": None, "status": STATUSES[rng.integers(0, len(STATUSES), len(repeat))],
    })
    return crimes, victims, obligations


def timed(label: str, action):
    start, cpu = time.perf_counter(), time.process_time()
    result = action()
    print(f"| {label} | {time.perf_counter() - start:.2f} s | {time.process_time() - cpu:.2f} s |", flush=True)
    return result


def run(url: str, n: int, folder: Path) -> None:
    upgrade(url)
    engine = make_engine(url)
    crimes, victims, obligations = force(n)
    with engine.begin() as conn:
        batch = start_batch(conn, "crs", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        upsert_crimes(conn, crimes, batch)
        upsert_victims(conn, victims, batch)
        table = sa.Table("obligations", sa.MetaData(),
                         *(sa.Column(name, sa.String(64)) for name in obligations.columns),
                         sa.Index("ix_obligations_crime_ref", "crime_ref"))
        table.create(conn)
        conn.execute(table.insert(), obligations.to_dict(orient="records"))
    print(f"\n{engine.dialect.name}, {n:,} crimes in {QUARTER}\n\n| step | wall | CPU |\n|---|---|---|")
    timed("draw and store the sample of 240", lambda: draw_and_store_sample(engine, QUARTER))
    timed("draw again (unchanged: recomputed and compared)", lambda: draw_and_store_sample(engine, QUARTER))
    sheets = timed("write 8 worksheets (findings + XLSX)",
                   lambda: write_worksheets(engine, QUARTER, folder / "sample"))
    returns = timed("simulate reviewers", lambda: simulate_returns(sheets, folder / "returns"))
    timed("ingest 8 returned worksheets", lambda: ingest_returns(engine, QUARTER, returns))
    timed("publish survey results (9 questions × 9 domains)", lambda: publish_survey_results(engine, QUARTER))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crimes", type=int, default=200_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to run against as well")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{Path(folder) / 'warehouse.db'}", args.crimes, Path(folder) / "sqlite")
        if args.postgres:
            admin = sa.create_engine(args.postgres)
            with admin.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
            admin.dispose()
            run(args.postgres, args.crimes, Path(folder) / "postgres")


if __name__ == "__main__":
    main()
