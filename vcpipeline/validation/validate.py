"""Validating one batch with its suite: whether it may load at all, and which rows to quarantine.

GX answers both questions in one pass. Batch expectations (`meta.level = "batch"`: schema,
empty feed, volume band) decide whether the batch loads; row expectations decide which rows
are quarantined, each with the names of the expectations it failed.

Speed: GX's COMPLETE result format is slow only when it is asked for failing rows *by key*
(`unexpected_index_column_names` builds one dict per failing row in Python: ~20x SUMMARY).
Asked for COMPLETE by index alone it costs what SUMMARY costs, so we validate once, over a
frame with a 0..n-1 index, read failing positions, and map them to row ids with numpy
(benchmarks/bench_validate.py, docs/performance.md). The full lists are then dropped from the
result so that Data Docs stay small and show samples only.

The frame GX validates is built in `validation.frame`; failures are worded in `validation.failures`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.validation.failures import (
    REASON_SEPARATOR,
    batch_failure,
    evaluation_error,
    plain_kwargs,
    row_reasons,
    too_many_failed_rows,
)
from vcpipeline.validation.frame import referenced_columns, validation_frame
from vcpipeline.validation.suites import expectation_label, expectation_level, load_suite_dict

DEFAULT_TOLERANCE = 0.2
DEFAULT_MIN_NIGHTS = 3
# Below this many rows a high failure rate is just a small batch, not a broken feed.
MIN_ROWS_FOR_FAILURE_FRACTION = 100
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 20,
}
_FULL_LISTS = ("unexpected_list", "unexpected_index_list", "unexpected_index_query")


@dataclass(frozen=True)
class BatchValidation:
    """What validating one batch found.

    `row_failures` has the caller's row id column (named as `row_id`) and `reasons`: the failed
    row expectations of severity critical, `;`-joined in suite order — the frame
    `warehouse.load.quarantine_rows` takes (pass `row_id="source_row_id"`). Every other row
    passed. `row_warnings` is the same for warning-severity expectations (reported, not
    quarantined). `result` is GX's validation result, trimmed, for Data Docs.
    """

    suite_name: str
    row_id: str
    row_count: int
    batch_failures: list[dict[str, Any]]
    row_failures: pd.DataFrame
    row_warnings: pd.DataFrame
    result: Any
    failed_positions: np.ndarray = field(repr=False)

    @property
    def loadable(self) -> bool:
        """True when no batch expectation failed: the batch may load (minus its failed rows)."""
        return not self.batch_failures

    def passed_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of the validated frame that failed no critical row expectation."""
        keep = np.ones(len(frame), dtype=bool)
        keep[self.failed_positions] = False
        return frame.iloc[keep]

    def failed_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of the validated frame that are quarantined, with their `reasons`."""
        rows = frame.iloc[self.failed_positions].copy()
        rows["reasons"] = self.row_failures["reasons"].to_numpy()
        return rows

    def summary(self) -> dict[str, Any]:
        """Counts for logs and task return values (JSON-able, no row values)."""
        reasons = self.row_failures["reasons"].str.split(REASON_SEPARATOR).explode()
        return {
            "suite": self.suite_name,
            "rows": self.row_count,
            "loadable": self.loadable,
            "batch_failures": [failure["message"] for failure in self.batch_failures],
            "rows_failed": len(self.row_failures),
            "rows_warned": len(self.row_warnings),
            "failures_by_expectation": {str(k): int(v) for k, v in reasons.value_counts().items()},
        }


def volume_band(
    recent_volumes: Iterable[int] | None,
    tolerance: float = DEFAULT_TOLERANCE,
    min_nights: int = DEFAULT_MIN_NIGHTS,
) -> tuple[int, int] | None:
    """The row counts a normal batch falls within, from recent nights' counts.

    From the quietest night less `tolerance` to the busiest plus it (6,000 a night ±20 % gives
    4,800–7,200). None until `min_nights` nights are known: no band is better than a wrong one.
    A small feed varies by chance (a count averaging λ a night varies by about √λ, and a partner
    sending three rows a night sends none some nights), so the low end is never above four such
    deviations below the quietest night: a quiet night of a sparse feed is not a broken feed.
    (The quietest night, not the mean, because a catch-up night after a gap inflates the mean.)
    """
    counts = [int(count) for count in (recent_volumes or []) if count is not None]
    if len(counts) < max(min_nights, 1):
        return None
    quietest = min(counts)
    low = min(quietest * (1 - tolerance), quietest - 4 * math.sqrt(quietest))
    return max(0, math.floor(low)), math.ceil(max(counts) * (1 + tolerance))


def default_parameters() -> dict[str, Any]:
    """Suite parameters every run supplies unless the caller overrides them."""
    return {"departments": list(DEPARTMENTS), "min_rows": 0, "max_rows": None}


def _utc(now: datetime | pd.Timestamp | str) -> pd.Timestamp:
    instant = pd.Timestamp(now)
    if instant.tzinfo is None:
        raise ValueError(f"`now` must be an instant with a zone, got {now!r}")
    return instant.tz_convert("UTC")



def _trim_for_docs(result: Any, row_ids: np.ndarray) -> None:
    """Drop the full failing lists (kept: GX's 20-value samples, with row ids for positions)."""
    for expectation_result in result.results:
        details = expectation_result.result
        for key in _FULL_LISTS:
            details.pop(key, None)
        sample = details.get("partial_unexpected_index_list")
        if sample and all(isinstance(position, (int, np.integer)) for position in sample):
            details["partial_unexpected_index_list"] = [str(row_ids[p]) for p in sample]


def validate_batch(
    frame: pd.DataFrame,
    suite_name: str,
    *,
    row_id: str,
    now: datetime | pd.Timestamp | str,
    known_crime_refs: Collection[str] | None = None,
    recent_volumes: Iterable[int] | None = None,
    crime_reported_at: pd.Series | None = None,
    known_victims: pd.DataFrame | None = None,
    parameters: Mapping[str, Any] | None = None,
    suites_folder: Path | None = None,
) -> BatchValidation:
    """Validate `frame` with the suite `suite_name` as of the instant `now`.

    - `row_id`: the column naming each row in reports and quarantine (`source_row_id` for
      canonical frames, the native key for native ones); positions if the column is absent.
    - `known_crime_refs`: crime references that exist (this batch's crimes and the
      warehouse's); rows whose crime is not among them fail. None = not checked.
    - `crime_reported_at`: report instants indexed by crime_ref (same origin); events before
      their crime's report fail. Its index also counts as known crime references.
    - `known_victims`: (crime_ref, victim_id) rows of the victims that exist (this batch's and
      the warehouse's); an event naming a victim not among its crime's fails. None = not checked.
    - `recent_volumes`: previous batches' row counts; the batch must fall in `volume_band`.
    - `parameters`: override suite parameters (e.g. `departments` from reference data).

    Never raises on bad data: problems are batch or row failures.
    """
    from vcpipeline.validation.gx import dataframe_batch, quiet_gx

    suite_doc = load_suite_dict(suite_name, suites_folder)
    meta = suite_doc.get("meta", {})
    instant = _utc(now)
    vframe = validation_frame(
        frame, meta.get("derive", {}), known_crime_refs=known_crime_refs,
        crime_reported_at=crime_reported_at, known_victims=known_victims,
        columns=referenced_columns(suite_doc),
    )
    row_ids = (frame[row_id].astype("string").fillna("").to_numpy(dtype=object)
               if row_id in frame.columns else np.arange(len(frame)).astype(str).astype(object))

    volume = meta.get("volume", {})
    recent = [int(count) for count in (recent_volumes or []) if count is not None]
    band = volume_band(recent, volume.get("tolerance", DEFAULT_TOLERANCE),
                       volume.get("min_nights", DEFAULT_MIN_NIGHTS))
    values = default_parameters() | {"now": instant}
    if band is not None:
        values |= {"min_rows": band[0], "max_rows": band[1]}
    values |= dict(parameters or {})

    quiet_gx()
    from great_expectations.core.expectation_suite import ExpectationSuite

    suite = ExpectationSuite(**suite_doc)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = dataframe_batch(vframe, str(meta.get("entity", suite_name)))
        result = batch.validate(suite, result_format=_RESULT_FORMAT, expectation_parameters=values)

    order = {expectation_label(e["type"], e.get("kwargs", {})): i
             for i, e in reversed(list(enumerate(suite_doc["expectations"])))}
    present = set(vframe.columns)
    missing_columns = False
    batch_failures: list[dict[str, Any]] = []
    failed: dict[str, list[tuple[int, str, np.ndarray]]] = {"critical": [], "warning": []}
    row_results = []
    for expectation_result in result.results:
        config = expectation_result.expectation_config
        if expectation_level({"meta": config.meta or {}}) == "batch":
            if not expectation_result.success:
                batch_failures.append(batch_failure(expectation_result, len(recent) if band else None))
                missing_columns |= config.type == "expect_table_columns_to_match_set"
            continue
        row_results.append((expectation_result, config))
    for expectation_result, config in row_results:
        if expectation_result.success:
            continue
        kwargs = plain_kwargs(config.kwargs)
        label = expectation_label(config.type, kwargs)
        if evaluation_error(expectation_result):
            needed = {str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs}
            if missing_columns and not needed <= present:
                continue  # the schema failure already stops the batch
            batch_failures.append(batch_failure(expectation_result, None))
            continue
        positions = np.asarray(expectation_result.result.get("unexpected_index_list") or [],
                               dtype=np.int64)
        severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
        bucket = "warning" if severity != "critical" else "critical"
        failed[bucket].append((order.get(label, len(order)), label, positions))

    batch_failures.sort(key=lambda failure: order.get(failure["expectation"], len(order)))

    def table(bucket: str) -> tuple[pd.DataFrame, np.ndarray]:
        entries = sorted(failed[bucket], key=lambda entry: entry[0])
        return row_reasons([e[2] for e in entries], [e[1] for e in entries], row_ids, row_id)

    row_failures, failed_positions = table("critical")
    row_warnings, _ = table("warning")

    limit = meta.get("max_row_failure_fraction")
    if limit is not None and len(frame) >= MIN_ROWS_FOR_FAILURE_FRACTION:
        if len(row_failures) / len(frame) > float(limit):
            batch_failures.append(too_many_failed_rows(len(row_failures), len(frame), float(limit)))

    _trim_for_docs(result, row_ids)
    return BatchValidation(
        suite_name=suite_name, row_id=row_id, row_count=len(frame), batch_failures=batch_failures,
        row_failures=row_failures, row_warnings=row_warnings, result=result,
        failed_positions=failed_positions,
    )

