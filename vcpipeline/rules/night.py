"""A night's evaluation in P partitions: the plan made before any partition runs, and the merge
after all of them (`rules/store.py` evaluates each partition in between).

The plan fixes what the night takes in (full or incremental, the load batches, the last as-of),
so every partition and every retry of one does the same work. Nothing that says "these batches
are evaluated" is written until the merge: a partition's retry, or a rerun of one already
committed, sees the same dirty set, and re-evaluating a crime that is already right writes
nothing. The merge also does the one write that spans partitions, PENDING obligations now due
becoming BREACHED (one indexed UPDATE).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from vcpipeline import instants
from vcpipeline.canonical import STATUSES
from vcpipeline.rules import changes
from vcpipeline.rules.incremental import full_evaluation_reason, rulesets_fingerprint
from vcpipeline.rules.partitions import checked_partitions
from vcpipeline.rules.ruleset import RuleSets


@dataclass(frozen=True)
class NightPlan:
    """What a night's evaluation decided before any partition ran (JSON-able, for XCom): every
    partition and the finish follow it, so a partition's retry does the same work."""

    as_of: str
    full_reason: str | None
    rulesets_sha256: str
    batches: list[tuple[str, str]]  # (batch_id, finished_at ISO)
    since: str | None  # the last evaluation's as-of
    last_total: int
    partitions: int
    started_at: str

    @property
    def full(self) -> bool:
        return self.full_reason is not None

    def instant(self) -> datetime:
        return datetime.fromisoformat(self.as_of)

    def batch_rows(self) -> list[tuple[str, datetime]]:
        return [(batch_id, datetime.fromisoformat(finished)) for batch_id, finished in self.batches]

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "batches": [list(batch) for batch in self.batches]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NightPlan:
        return cls(**{**data, "batches": [tuple(batch) for batch in data["batches"]]})


def utc_stamp(as_of: pd.Timestamp | datetime) -> pd.Timestamp:
    return pd.Timestamp(instants.utc_instant(as_of, "as_of"))


def plan_night(conn: sa.Connection, as_of: pd.Timestamp | datetime, rulesets: RuleSets, *,
               full: bool = False, partitions: int = 1) -> NightPlan:
    """Decide the night: full or incremental, which load batches it takes in, since when."""
    checked_partitions(partitions, "partitions")
    instant = utc_stamp(as_of).to_pydatetime()
    fingerprint = rulesets_fingerprint(rulesets)
    last = changes.last_run(conn)
    reason = full_evaluation_reason(
        requested=full, last_fingerprint=last.rulesets_sha256 if last else None,
        last_as_of=last.as_of if last else None, fingerprint=fingerprint, as_of=instant)
    return NightPlan(
        as_of=instant.isoformat(), full_reason=reason, rulesets_sha256=fingerprint,
        batches=[(batch_id, finished.isoformat()) for batch_id, finished in changes.new_batches(conn)],
        since=last.as_of.isoformat() if last else None,
        last_total=int(last.obligations_total) if last else 0,
        partitions=partitions, started_at=datetime.now(UTC).isoformat())


def finish_night(conn: sa.Connection, plan: NightPlan, results: list[dict[str, Any]],
                 began: float) -> dict[str, Any]:
    """After every partition: PENDING obligations now due become BREACHED (one indexed UPDATE
    over all partitions), remember which batches and events the obligations now reflect, and
    record the run. Returns the night's summary."""
    done = sorted(result["partition"] for result in results)
    if done != list(range(plan.partitions)):
        raise RuntimeError(f"the night has partitions {done}, not 0..{plan.partitions - 1}")
    clock = time.perf_counter()
    instant = plan.instant()
    batch_ids = [batch_id for batch_id, _ in plan.batches]
    advanced = 0 if plan.full else changes.advance_statuses(conn, instant)
    changes.record_event_crimes(conn, batch_ids, full=plan.full)
    changes.record_batches(conn, plan.batch_rows(), full=plan.full)
    if plan.full:
        changes.note_changed_crimes(conn, full=True)

    def total(key: str) -> int:
        return sum(int(result[key]) for result in results)

    replaced, written = total("obligations_replaced"), total("obligations_written")
    # Kept by every write (a partition rerun after its commit writes nothing, and says so).
    obligations_total = changes.obligations_count(conn)
    timings = {key: sum(float(result[key]) for result in results)
               for key in ("read_seconds", "evaluate_seconds", "write_seconds")}
    timings["write_seconds"] += time.perf_counter() - clock
    summary: dict[str, Any] = {
        "as_of": pd.Timestamp(plan.as_of).isoformat(), "mode": "full" if plan.full else "incremental",
        "full_reason": plan.full_reason, "rulesets_sha256": plan.rulesets_sha256,
        "batches": len(plan.batches), "partitions": plan.partitions,
        "crimes_reevaluated": total("crimes_reevaluated"),
        "obligations_evaluated": total("obligations_evaluated"), "obligations_replaced": replaced,
        "obligations_written": written, "statuses_advanced": int(advanced),
        "obligations_total": int(obligations_total),
        "evaluated_by_status": {status: sum(int(r["evaluated_by_status"][status]) for r in results)
                                for status in STATUSES},
    }
    timings["total_seconds"] = time.perf_counter() - began
    changes.record_run(conn, summary, timings, datetime.fromisoformat(plan.started_at))
    return {**summary, **timings}


__all__ = ["NightPlan", "finish_night", "plan_night", "utc_stamp"]
