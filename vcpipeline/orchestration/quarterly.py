"""Task bodies of the two quarterly DAGs, free of Airflow, so the DAGs, the demo and tests share them.

`victims_code_quarterly_sample`: the gate (has the night covering the quarter's end succeeded?),
draw the sample, write the reviewers' worksheets, e-mail the reviewers once.
`victims_code_review_ingest`: which returned worksheets are new, ingest them with their per-row
error report, publish the survey results, remember what was ingested.

Every function returns something JSON-able (it becomes an XCom) made of counts, file names,
sample ids and hashes only: never a victim's details. Heavy imports sit inside the functions,
because the DAG processor imports this module's DAG files often.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from vcpipeline.orchestration import timetables

LONDON = ZoneInfo("Europe/London")
NIGHTLY_DAG_ID = "victims_code_nightly"
SUCCESS = "success"
# How many of the latest compliance-summary events the gate reads (about four months of nights,
# reruns included): enough for a sample drawn weeks late, bounded for a sample of an old quarter.
EVENTS_TO_SCAN = 120

ERRORS_SUFFIX = "-review-errors.csv"
RESULTS_SUFFIX = "-survey-results.md"
MANIFEST_NAME = ".vcp-ingested.json"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
_QUARTER_IN_NAME = re.compile(r"(\d{4})[Qq]([1-4])")


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


def sampled_quarter(data_interval_start: datetime) -> str:
    """`2026Q3` for a quarterly run whose data interval starts on 1 July 2026 (local)."""
    return timetables.quarter_name(data_interval_start.astimezone(LONDON).date())


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


def write_quarter_worksheets(warehouse_url: str, sample_id: str, folder: Path) -> dict[str, Any]:
    """Write the sample's worksheets into `folder` and delete worksheets of earlier draws of it.

    A forced re-draw can drop a department; its old worksheet must not be sent or filled in.
    """
    from vcpipeline.sampling.worksheets import write_worksheets
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        paths = write_worksheets(engine, sample_id, folder)
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
    }


def reviewer_message_key(sample_id: str, population_hash: str) -> str:
    """One reviewers' e-mail per draw: a rerun sends nothing, a forced re-draw sends again."""
    return f"sample/{sample_id}/{population_hash[:16]}"


def reviewers_email(sample: dict[str, Any], worksheets: Sequence[Path], *, recipients: str,
                    returns_folder: Path) -> EmailMessage:
    """The e-mail asking the reviewers to fill in the worksheets, with the worksheets attached.

    The worksheets hold crime references, departments, dates and automated findings only (no
    victim's details: `sampling/worksheets.py`), so attaching them is safe.
    """
    import html

    import pandas as pd

    from vcpipeline.alerts.compose import build_email
    from vcpipeline.sampling.selection import quarter_bounds

    sample_id = sample["sample_id"]
    lines = [f"{department}: {count} crime(s)" for department, count in sorted(sample["strata"].items())]
    text = "\n".join([
        f"The Victims Code dip sample for {sample_id} is ready: {sample['sampled']} crimes of "
        f"{sample['population']} reported in the quarter, by department:",
        "",
        *(f"  {line}" for line in lines),
        "",
        "One worksheet per department is attached. For each crime, answer every question in its "
        "answer column (Yes, No, N/A or No data) beside the automated finding; leave a question "
        "blank if you have not reviewed it yet. Do not add, remove or rename columns.",
        "",
        f"Save the completed worksheets, keeping their names, in: {returns_folder}",
        "They are loaded automatically; problems are listed in "
        f"{sample_id}{ERRORS_SUFFIX} in the same folder.",
        "",
        "Comments are kept in your file but never loaded into the warehouse: do not write "
        "victims' names or contact details in them.",
    ])
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = (
        f"<p>The Victims Code dip sample for <b>{html.escape(sample_id)}</b> is ready: "
        f"{sample['sampled']} crimes of {sample['population']} reported in the quarter.</p>"
        f"<ul>{items}</ul>"
        "<p>One worksheet per department is attached. For each crime, answer every question in "
        "its answer column (Yes, No, N/A or No data) beside the automated finding; leave a "
        "question blank if you have not reviewed it yet. Do not add, remove or rename columns.</p>"
        f"<p>Save the completed worksheets, keeping their names, in: "
        f"<code>{html.escape(str(returns_folder))}</code>. They are loaded automatically; problems "
        f"are listed in <code>{html.escape(sample_id + ERRORS_SUFFIX)}</code> in the same folder.</p>"
        "<p>Comments are kept in your file but never loaded into the warehouse: do not write "
        "victims' names or contact details in them.</p>"
    )
    quarter_end = quarter_bounds(sample["quarter"])[1]
    message = build_email(
        recipients, f"Victims Code dip sample {sample_id}: {sample['sampled']} crimes to review",
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


# --- the returns -----------------------------------------------------------------------------

def returned_worksheets(folder: Path) -> list[Path]:
    """The `.xlsx` files in the returns folder, oldest first (so a re-submitted file wins).

    Office's lock files (`~$…`) and hidden files are not worksheets.
    """
    if not folder.is_dir():
        return []
    paths = [p for p in folder.glob("*.xlsx")
             if p.is_file() and not p.name.startswith(("~$", "."))]
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))


def fingerprints(paths: Iterable[Path]) -> dict[str, str]:
    """File name → sha256 of its bytes."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def read_manifest(folder: Path) -> dict[str, str]:
    """What was ingested before: file name → sha256 (empty before the first ingest)."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return {}
    return {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def remember_ingested(folder: Path, ingested: dict[str, str]) -> dict[str, str]:
    """Add the ingested files' fingerprints to the manifest (atomically); the new manifest."""
    manifest = {**read_manifest(folder), **ingested}
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f"{MANIFEST_NAME}.tmp"
    staging.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(staging, folder / MANIFEST_NAME)
    return manifest


def new_returns(folder: Path) -> list[str]:
    """Names of the returned worksheets that are new or changed since they were last ingested."""
    done = read_manifest(folder)
    return [name for name, digest in fingerprints(returned_worksheets(folder)).items()
            if done.get(name) != digest]


def worksheet_sample_id(path: Path) -> str | None:
    """The sample a returned worksheet belongs to: its hidden sheet says, else its file name."""
    from vcpipeline.sampling.worksheets import read_worksheet

    try:
        sample_id = read_worksheet(path).meta.get("sample_id", "")
    except ValueError:
        sample_id = ""
    if _QUARTER_IN_NAME.fullmatch(sample_id):
        return sample_id.upper()
    match = _QUARTER_IN_NAME.match(path.name)
    return f"{match.group(1)}Q{match.group(2)}" if match else None


def returns_by_sample(paths: Sequence[Path], stored: Sequence[str]) -> dict[str, list[Path]]:
    """Group returned files by sample; a file of no stored sample goes to the latest sample,
    whose ingest then refuses it with the reason (so it shows in that error report)."""
    latest = max(stored) if stored else None  # `2026Q3` names sort by time
    groups: dict[str, list[Path]] = {}
    for path in paths:
        sample_id = worksheet_sample_id(path)
        if sample_id not in stored:
            sample_id = latest
        if sample_id is not None:
            groups.setdefault(sample_id, []).append(path)
    return groups


def stored_sample_ids(warehouse_url: str) -> list[str]:
    import sqlalchemy as sa

    from vcpipeline.warehouse.db import make_engine
    from vcpipeline.warehouse.schema import samples

    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            return sorted(conn.scalars(sa.select(samples.c.sample_id)))
    finally:
        engine.dispose()


def ingest_review_returns(warehouse_url: str, folder: Path, *, everything: bool = False,
                          ingested_at: datetime | None = None) -> dict[str, Any]:
    """Ingest the returned worksheets of every sample with a new or changed file (all samples
    with files when `everything`), each sample's files together, and write each sample's error
    report (`<sample>-review-errors.csv`) into the returns folder.

    A sample's files are always ingested together and oldest first, so its error report is
    complete and a rerun gives the same answers and the same report (idempotent).
    Returns per-sample counts and the fingerprints of the files read, for `remember_ingested`.
    """
    from vcpipeline.sampling.reviews import ingest_returns
    from vcpipeline.warehouse.db import make_engine

    paths = returned_worksheets(folder)
    prints = fingerprints(paths)
    done = read_manifest(folder)
    changed = {name for name, digest in prints.items() if done.get(name) != digest}
    groups = returns_by_sample(paths, stored_sample_ids(warehouse_url))
    if not everything:
        groups = {sid: files for sid, files in groups.items() if changed & {p.name for p in files}}
    engine = make_engine(warehouse_url)
    summary: dict[str, Any] = {}
    try:
        for sample_id, files in sorted(groups.items()):
            report = ingest_returns(engine, sample_id, files, ingested_at)
            errors_file = folder / f"{sample_id}{ERRORS_SUFFIX}"
            report.write_errors(errors_file)
            summary[sample_id] = {
                "files": report.files, "files_refused": report.files_rejected,
                "rows_loaded": report.rows_loaded, "answers_loaded": report.answers_loaded,
                "problems": len(report.errors), "error_report": str(errors_file.resolve()),
            }
    finally:
        engine.dispose()
    ingested = {p.name: prints[p.name] for files in groups.values() for p in files}
    return {"samples": summary, "ingested": ingested}


def publish_quarter_results(warehouse_url: str, sample_ids: Iterable[str], folder: Path) -> dict[str, Any]:
    """Publish each sample's survey results in the warehouse and write the board table beside the
    worksheets (`<quarter>-survey-results.md`)."""
    from vcpipeline.sampling.results import board_table, publish_survey_results, render_markdown
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    published: dict[str, Any] = {}
    try:
        for quarter in sorted(sample_ids):
            results = publish_survey_results(engine, quarter)
            path = folder / f"{quarter}{RESULTS_SUFFIX}"
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(render_markdown(
                board_table(results), f"Latest Victims Code Survey Results, {quarter}"), encoding="utf-8")
            published[quarter] = {"rows": len(results), "table": str(path.resolve())}
    finally:
        engine.dispose()
    return published
