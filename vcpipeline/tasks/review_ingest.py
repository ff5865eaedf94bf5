"""The review-ingest DAG's tasks (`victims_code_review_ingest`), free of Airflow's scheduler.

Which returned worksheets are new, ingest them with their per-row error report, publish the
survey results, remember what was ingested. Every function returns something JSON-able (it
becomes an XCom) made of counts, file names, sample ids and hashes only: never a victim's
details. Heavy imports sit inside the functions, because the sensor imports this module at
every poke.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ERRORS_SUFFIX = "-review-errors.csv"
RESULTS_SUFFIX = "-survey-results.md"
MANIFEST_NAME = ".vcp-ingested.json"
_QUARTER_IN_NAME = re.compile(r"(\d{4})[Qq]([1-4])")


def returned_worksheets(folder: Path) -> list[Path]:
    """The `.xlsx` files in the returns folder, oldest first (so a re-submitted file wins).

    Office's lock files (`~$…`) and hidden files are not worksheets.
    """
    if not folder.is_dir():
        return []
    paths = [p for p in folder.glob("*.xlsx")
             if p.is_file() and not p.name.startswith(("~$", "."))]
    return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))


def arrived_returns(folder: Path, *, everything: bool = False) -> list[str]:
    """The sensor's poke: names of the returned worksheets new or changed since they were last
    ingested (every returned worksheet when `everything`)."""
    if everything:
        return [path.name for path in returned_worksheets(folder)]
    return new_returns(folder)


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
    worksheets (`<quarter>-survey-results.md`), with how many reviews met the rank standard and
    how the automated findings were shown."""
    from vcpipeline.sampling.results import (
        board_table,
        publish_survey_results,
        read_survey_coverage,
        render_markdown,
    )
    from vcpipeline.sampling.reviewer_standard import read_reviewer_standard
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    published: dict[str, Any] = {}
    try:
        for quarter in sorted(sample_ids):
            results = publish_survey_results(engine, quarter)
            reviewers = read_reviewer_standard(engine, quarter)
            path = folder / f"{quarter}{RESULTS_SUFFIX}"
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(render_markdown(
                board_table(results), f"Latest Victims Code Survey Results, {quarter}", reviewers,
                read_survey_coverage(engine, quarter)),
                encoding="utf-8")
            published[quarter] = {"rows": len(results), "table": str(path.resolve()),
                                  "reviewed": reviewers.reviewed, "at_standard": reviewers.at_standard,
                                  "below_standard": reviewers.below_standard}
    finally:
        engine.dispose()
    return published
