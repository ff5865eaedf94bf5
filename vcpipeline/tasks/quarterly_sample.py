"""The quarterly dip-sample DAG's tasks (`victims_code_quarterly_sample`), free of Airflow's scheduler.

The gate (has the night covering the quarter's end succeeded?), draw the sample, write the
reviewers' worksheets, e-mail the reviewers once. Every function returns something JSON-able (it
becomes an XCom) made of counts, file names, sample ids and hashes only: never a victim's
details. Heavy imports sit inside the functions, because a task body imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vcpipeline import instants
from vcpipeline.orchestration import timetables
from vcpipeline.tasks.runtime import utc_instant

LONDON = ZoneInfo(instants.LONDON)
NIGHTLY_DAG_ID = "victims_code_nightly"
SUCCESS = "success"
# How many of the latest compliance-summary events the gate reads (about four months of nights,
# reruns included): enough for a sample drawn weeks late, bounded for a sample of an old quarter.
EVENTS_TO_SCAN = 120

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- the gate: the night covering the quarter's end -------------------------------------------

@dataclass(frozen=True)
class NightlyRun:
    """What the gate needs to know about one nightly run."""

    run_id: str
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    state: str

    def covers(self, instant: datetime) -> bool:
        """True when the run's data interval holds the instant just before `instant`.

        The quarter's last local day ends at `instant` (local midnight), so the run that covers it
        is the one with start < instant <= end (with the 02:00 schedule: the run at 02:00 on the
        1st, over 02:00 on the last day to 02:00 on the 1st).
        """
        if self.data_interval_start is None or self.data_interval_end is None:
            return False
        return self.data_interval_start < instant <= self.data_interval_end


def succeeded_night_covering(runs: Iterable[NightlyRun], quarter_end: datetime) -> NightlyRun | None:
    """The first run in `runs` that covers the quarter's end and has succeeded; None if none has.

    Lazy: stops at the first match, so a caller may fetch each run's state on demand.
    """
    for run in runs:
        state = getattr(run.state, "value", run.state)  # Airflow's DagRunState is a str Enum
        if run.covers(quarter_end) and state == SUCCESS:
            return run
    return None


def nightly_runs(events: Iterable[Any]) -> Iterator[NightlyRun]:
    """The nightly runs behind Asset events (Airflow's `AssetEventResult`s), in the events' order.

    Lazy: each event's run is fetched from Airflow only when the gate gets to it.
    """
    return (
        NightlyRun(run.run_id, run.data_interval_start, run.data_interval_end, run.state)
        for event in events
        if event.source_dag_id == NIGHTLY_DAG_ID and (run := event.source_dag_run) is not None
    )


def quarter_end_night(events: Iterable[Any], quarter_end: datetime | None) -> NightlyRun | None:
    """The gate: the succeeded nightly run, among the summaries' latest Asset events, that covers
    the quarter's end (the quarterly run's data interval end); None while there is none."""
    return succeeded_night_covering(nightly_runs(events), utc_instant(quarter_end))


def sampled_quarter(data_interval_start: datetime | None) -> str:
    """`2026Q3` for a quarterly run whose data interval starts on 1 July 2026 (local)."""
    return timetables.quarter_name(utc_instant(data_interval_start).astimezone(LONDON).date())


# --- the sample ------------------------------------------------------------------------------

def draw_quarter_sample(warehouse_url: str, quarter: str, *, size: int, minimum: int,
                        force: bool = False, drawn_at: datetime | None = None) -> dict[str, Any]:
    """Draw and store the quarter's dip sample (idempotent: a rerun finds it `unchanged`).

    Raises `SamplingError` (an impossible draw) and `SampleConflictError` (the population changed
    since the stored draw; rerun with force) as `draw_and_store_sample` does.
    """
    from vcpipeline.sampling.store import draw_and_store_sample
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        stored = draw_and_store_sample(engine, quarter, size=size, minimum=minimum, force=force,
                                       drawn_at=drawn_at)
    finally:
        engine.dispose()
    sample = stored.sample
    strata = sample.allocation.set_index("stratum")["stratum_sample_size"]
    return {
        "sample_id": stored.sample_id,
        "quarter": sample.quarter,
        "status": stored.status,
        "population": int(sample.population_size),
        "sampled": len(sample.selected),
        "excluded": int(sample.excluded),
        "seed": sample.seed,
        "population_hash": sample.population_hash,
        "strata": {str(name): int(count) for name, count in strata.items()},
    }


def draw_sample(warehouse_url: str, data_interval_start: datetime | None, *, size: int,
                minimum: int, force: bool) -> dict[str, Any]:
    """The draw task: the run's quarter drawn and stored. An impossible or changed draw fails the
    task at once (`AirflowFailException`): retrying cannot help."""
    from airflow.sdk.exceptions import AirflowFailException

    from vcpipeline.sampling.allocation import SamplingError

    try:
        return draw_quarter_sample(warehouse_url, sampled_quarter(data_interval_start),
                                   size=size, minimum=minimum, force=force)
    except SamplingError as exc:
        raise AirflowFailException(str(exc)) from exc


def write_quarter_worksheets(warehouse_url: str, sample_id: str, folder: Path, *,
                             working_days: int | None = None) -> dict[str, Any]:
    """Write the sample's worksheets into `folder` and delete worksheets of earlier draws of it.

    A forced re-draw can drop a department; its old worksheet must not be sent or filled in.
    The return deadline is `working_days` (default `worksheets.REVIEW_WORKING_DAYS`) working days
    after the draw; the e-mail repeats it.
    """
    from vcpipeline.sampling.worksheets import (
        REVIEW_WORKING_DAYS,
        stored_review_window,
        write_worksheets,
    )
    from vcpipeline.warehouse.db import make_engine

    days = REVIEW_WORKING_DAYS if working_days is None else working_days
    engine = make_engine(warehouse_url)
    try:
        paths = write_worksheets(engine, sample_id, folder, working_days=days)
        deadline = stored_review_window(engine, sample_id, working_days=days).deadline
    finally:
        engine.dispose()
    written = {path.name for path in paths}
    stale = sorted(p for p in folder.glob(f"{sample_id}-*.xlsx") if p.name not in written)
    for path in stale:
        path.unlink()
    return {
        "sample_id": sample_id,
        "folder": str(folder.resolve()),
        "worksheets": sorted(written),
        "removed": [path.name for path in stale],
        "deadline": deadline.isoformat(),
    }


def reviewer_message_key(sample_id: str, population_hash: str) -> str:
    """One reviewers' e-mail per draw: a rerun sends nothing, a forced re-draw sends again."""
    return f"sample/{sample_id}/{population_hash[:16]}"


def reviewers_email(sample: dict[str, Any], worksheets: Sequence[Path], *, recipients: str,
                    deadline: date, returns_folder: Path | None = None) -> EmailMessage:
    """The e-mail asking the reviewers to fill in the worksheets, with the worksheets attached.

    It names each attachment and the deadline and says to reply with the completed workbooks;
    the how-to is in each workbook's Instructions sheet. `returns_folder` (where the returns are
    loaded from) is not shown: a server path means nothing to a reviewer. The worksheets hold
    crime references, departments, dates and automated findings only (no victim's details:
    `sampling/worksheets.py`), so attaching them is safe.
    """
    import html

    import pandas as pd

    from vcpipeline.alerts.messages import build_email
    from vcpipeline.sampling.selection import quarter_bounds
    from vcpipeline.sampling.worksheets import REVIEW_STANDARD, day_label

    sample_id = sample["sample_id"]
    by_department = {department: count for department, count in sorted(sample["strata"].items())}
    names = {path.name: path.name.removeprefix(f"{sample_id}-").removesuffix(".xlsx") for path in worksheets}
    lines = [f"{name} ({by_department.get(department, 0)} crime(s))" for name, department in sorted(names.items())]
    due = day_label(deadline)
    steps = [
        f"Please review them by {due}: one workbook per department is attached.",
        f"Each review is to be done by {REVIEW_STANDARD}. Open the workbook's Instructions sheet "
        "first: it says what each question means, how to answer for a crime with several victims "
        "and how to record your name, rank and the review date on every row you answer.",
        "Answer before you look at the Automated findings sheet (hidden until you unhide it), so "
        "the automated check does not sway your answers.",
        f"Reply to this e-mail with the completed workbooks attached, keeping their file names, by {due}.",
        "Comments are kept in your file but never loaded into the warehouse: do not write "
        "victims' names or contact details in them.",
    ]
    text = "\n".join([
        f"The Victims Code dip sample for {sample_id} is ready: {sample['sampled']} crimes of "
        f"{sample['population']} reported in the quarter.",
        "",
        "Attached:",
        *(f"  {line}" for line in lines),
        "",
        *(line for step in steps for line in (step, "")),
    ])
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = (
        f"<p>The Victims Code dip sample for <b>{html.escape(sample_id)}</b> is ready: "
        f"{sample['sampled']} crimes of {sample['population']} reported in the quarter.</p>"
        f"<p>Attached:</p><ul>{items}</ul>"
        + "".join(f"<p>{html.escape(step)}</p>" for step in steps)
    )
    quarter_end = quarter_bounds(sample["quarter"])[1]
    message = build_email(
        recipients, f"Victims Code dip sample {sample_id}: {sample['sampled']} crimes to review by {due}",
        text, body, reviewer_message_key(sample_id, sample["population_hash"]),
        pd.Timestamp(quarter_end),
    )
    for path in sorted(worksheets):
        message.add_attachment(path.read_bytes(), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                               filename=path.name)
    return message


def send_once(warehouse_url: str, message: EmailMessage,
              send: Callable[[EmailMessage], None]) -> dict[str, Any]:
    """Send through the alert delivery log, so a retried or rerun task never sends it twice.

    Raises `DeliveryError` when the server refused it (Airflow retries; nothing was logged).
    """
    from vcpipeline.alerts.deliver import deliver
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        return deliver([message], engine, send).summary()
    finally:
        engine.dispose()


def email_reviewers(warehouse_url: str, sample: dict[str, Any], worksheets: dict[str, Any], *,
                    recipients: str, returns_folder: Path,
                    send: Callable[[EmailMessage], None]) -> dict[str, Any]:
    """The e-mail task: the reviewers' e-mail with the written worksheets, sent once per draw."""
    folder = Path(worksheets["folder"])
    if "deadline" in worksheets:
        deadline = date.fromisoformat(worksheets["deadline"])
    else:  # an XCom of a run before the deadline was recorded
        from vcpipeline.sampling.worksheets import stored_review_window
        from vcpipeline.warehouse.db import make_engine

        engine = make_engine(warehouse_url)
        try:
            deadline = stored_review_window(engine, sample["sample_id"]).deadline
        finally:
            engine.dispose()
    message = reviewers_email(sample, [folder / name for name in worksheets["worksheets"]],
                              recipients=recipients, deadline=deadline, returns_folder=returns_folder)
    return send_once(warehouse_url, message, send)
