"""Benchmark: compose and deliver one morning's team alerts for a whole force.

Builds the obligations the alert task reads (due from the start of last month to a fortnight
ahead) for 8 departments × 48 teams, 1 % of crimes without a known team, statuses in the
synthetic force's proportions, then times

1. `compose_team_alerts` (routing, new-item selection against the log, rates, rendering), and
2. `deliver` of every message to a real SMTP server on loopback (the project's MailSink),
   each logged in an embedded SQLite warehouse in its own transaction, and
3. composing the same night again against that log (the re-run: nothing to send).

Prints wall and CPU time: on the shared 2-core machine the CPU figure is the fair one.

Usage: .venv/bin/python benchmarks/bench_alerts.py [--obligations 250000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.deliver import deliver, smtp_sender
from vcpipeline.alerts.reference import synthetic_team_reference
from vcpipeline.alerts.store import read_already_alerted
from vcpipeline.calendar import start_of_local_day
from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.orchestration.mailsink import MailSink
from vcpipeline.warehouse.db import make_engine
from vcpipeline.warehouse.migrate import upgrade

AS_OF = pd.Timestamp("2026-04-02T01:00:00Z")  # 02:00 BST, Thursday before Easter
RULES = ("acknowledgement", "needs_referral", "investigation_update", "outcome_notification",
         "vps_offer", "vps_feedback")


def synthetic_obligations(count: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Obligations due 1 March – 16 April 2026 and the (department, team) pairs they name."""
    rng = np.random.default_rng(seed)
    crimes = max(count // 3, 1)
    units = [f"U{i}" for i in range(len(DEPARTMENTS))]
    team_codes = np.array([f"{u}-{chr(65 + j // 6)}{j % 6 + 1}" for u in units for j in range(48)])
    team_department = np.repeat(np.array(DEPARTMENTS), 48)
    crime_team = rng.integers(0, len(team_codes), crimes)
    crime_refs = np.char.add("CR", np.arange(crimes).astype(str))
    crime = rng.integers(0, crimes, count)
    due_day = np.datetime64("2026-03-01") + rng.integers(0, 47, count).astype("timedelta64[D]")
    due_at = start_of_local_day(due_day + np.timedelta64(1, "D"))
    passed = due_at <= AS_OF
    draw = rng.random(count)
    status = np.where(passed, np.select([draw < 0.87, draw < 0.95], ["MET", "MET_LATE"], "BREACHED"),
                      np.where(draw < 0.4, "MET", "PENDING"))
    team = team_codes[crime_team[crime]]
    team = np.where(rng.random(count) < 0.01, "", team)
    obligations = pd.DataFrame({
        "crime_ref": crime_refs[crime],
        "victim_id": "V" + pd.Series(rng.integers(1, 3, count)).astype(str),
        "rule": np.array(RULES)[rng.integers(0, len(RULES), count)],
        "trigger_event_id": "EV" + pd.Series(np.arange(count)).astype(str),
        "trigger_at": due_at - pd.Timedelta(days=7),
        "due_at": due_at,
        "met_at": pd.NaT,
        "status": status,
        "enhanced": rng.random(count) < 0.3,
        "rule_set": "vcop-2020",
        "department": team_department[crime_team[crime]],
        "team": team,
        "officer_collar": pd.Series(rng.integers(1000, 9999, count)).astype(str),
    })
    teams = pd.DataFrame({"department": team_department, "team": team_codes})
    return obligations, teams


def timed(label: str, func):
    wall, cpu = time.perf_counter(), time.process_time()
    result = func()
    print(f"{label}: {time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--obligations", type=int, default=250_000)
    args = parser.parse_args()
    obligations, teams = synthetic_obligations(args.obligations)
    reference = synthetic_team_reference(teams, seed=1)
    no_log = pd.DataFrame(columns=["kind", "crime_ref", "victim_id", "rule", "trigger_event_id",
                                   "risk_due_date"])
    print(f"{len(obligations):,} obligations, {len(reference):,} reference rows")
    alerts = timed("compose_team_alerts", lambda: compose_team_alerts(obligations, reference, no_log, AS_OF))
    print(f"  {len(alerts)} messages, {sum(a.new_breaches for a in alerts):,} new breaches, "
          f"{sum(a.at_risk for a in alerts):,} at risk")
    with tempfile.TemporaryDirectory() as folder, MailSink(Path(folder) / "mail") as sink:
        url = f"sqlite:///{folder}/warehouse.db"
        upgrade(url)
        engine = make_engine(url)
        report = timed("deliver (SMTP on loopback + SQLite log)",
                       lambda: deliver(alerts, engine, smtp_sender(sink.host, sink.port)))
        print(f"  {len(report.sent)} sent, {len(sink.files())} received")
        with engine.connect() as conn:
            log = timed("read the alert log", lambda: read_already_alerted(conn))
        rerun = timed("compose the same night again",
                      lambda: compose_team_alerts(obligations, reference, log, AS_OF))
        print(f"  {len(rerun)} messages on the re-run")
        engine.dispose()


if __name__ == "__main__":
    main()
