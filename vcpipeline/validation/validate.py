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
from vcpipeline.parsing import parse_instants
from vcpipeline.validation.suites import expectation_label, expectation_level, load_suite_dict

REASON_SEPARATOR = ";"
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


def _referenced_columns(suite: Mapping[str, Any]) -> set[str]:
    columns: set[str] = set()
    for expectation in suite["expectations"]:
        kwargs = expectation.get("kwargs", {})
        columns.update(str(kwargs[key]) for key in ("column", "column_A", "column_B") if key in kwargs)
        columns.update(map(str, kwargs.get("column_list") or []))
    derive = suite.get("meta", {}).get("derive", {})
    columns.update(derive.get("instants", []))
    columns.update(derive.get("repeat_key", []))
    if "crime_ref" in derive:
        columns.add(derive["crime_ref"])
    columns.update(derive.get("victim", {}).values())
    for spec in derive.get("on_event_type", {}).values():
        columns.update((spec["column"], "event_type"))
    return columns


def _blank_as_missing(values: pd.Series) -> pd.Series:
    """Empty text is a missing value (the canonical and native frames write missing as "")."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        return values.mask((values.astype("string") == "").fillna(False).astype(bool))
    return values


def _instants(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return parse_instants(values)


def _positions(values: pd.Series, keys: pd.Index) -> np.ndarray:
    """Where each value is among `keys` (-1 when absent or missing), by Arrow's hash lookup.

    pandas' `Index.get_indexer` takes ~2.4 s for a million strings; Arrow's `index_in`, 0.4 s.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(text: Any) -> Any:
        return pc.cast(pa.array(pd.Series(text, dtype="string"), from_pandas=True), pa.large_string())

    found = pc.index_in(arrow(values), value_set=arrow(keys))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def _crime_lookup(values: pd.Series, known_crime_refs: Collection[str] | None,
                  crime_reported_at: pd.Series | None) -> tuple[pd.Series, pd.Series]:
    """Per row: is its crime known (<NA> when missing or nothing is known), and its report instant.

    Known crimes are `known_crime_refs` and the index of `crime_reported_at`. One Arrow hash
    lookup serves both answers.
    """
    known_flags = pd.Series(pd.NA, index=values.index, dtype="boolean")
    reported = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us, UTC]")
    if known_crime_refs is None and crime_reported_at is None:
        return known_flags, reported
    refs = values.astype("string")
    if crime_reported_at is None:
        crime_reported_at = pd.Series([], dtype="string")
    times = _instants(crime_reported_at)
    times.index = pd.Index(crime_reported_at.index.astype("string"))
    times = times[~times.index.duplicated(keep="last")]
    extra = pd.Index(list(known_crime_refs or ()), dtype="string").unique().difference(times.index)
    crimes = times.index.append(extra)
    instants = np.concatenate([times.dt.tz_localize(None).to_numpy("datetime64[us]"),
                               np.full(len(extra) + 1, np.datetime64("NaT"), "datetime64[us]")])
    positions = _positions(refs, crimes)  # -1 when unknown: the last instant, NaT
    known_flags = pd.Series(positions >= 0, index=values.index, dtype="boolean").mask(refs.isna())
    reported = pd.Series(instants[positions], index=values.index).dt.tz_localize("UTC")
    return known_flags, reported


VICTIM_KEY_SEPARATOR = "\x1f"


def victim_keys(crime_refs: pd.Series, victim_ids: pd.Series) -> pd.Series:
    """One text key per (crime_ref, victim_id): a victim is a victim *of a crime*."""
    return (crime_refs.astype("string").fillna("") + VICTIM_KEY_SEPARATOR
            + victim_ids.astype("string").fillna(""))


def _victim_lookup(refs: pd.Series, victims: pd.Series, known_victims: pd.DataFrame | None) -> pd.Series:
    """Per row: is its named victim a victim of its crime (<NA>: no victim named, i.e. the event
    concerns every victim of the crime, or nothing is known: not checked)."""
    flags = pd.Series(pd.NA, index=refs.index, dtype="boolean")
    if known_victims is None:
        return flags
    keys = victim_keys(known_victims["crime_ref"], known_victims["victim_id"])
    found = _positions(victim_keys(refs, victims), pd.Index(keys.unique(), dtype="string")) >= 0
    return pd.Series(found, index=refs.index, dtype="boolean").mask(victims.isna())


def _on_event_type(frame: pd.DataFrame, event_type: str, column: str, required: bool = False) -> pd.Series:
    """`column` on rows of `event_type`, missing elsewhere (RULES.md v2: a column is read and
    validated only on the event type it belongs to); all missing when the column is absent.

    `required`: on rows of `event_type` a missing value is "" rather than missing, so that the
    column's value check fails it (GX skips missing values): RULES.md v2, an empty
    `outcome_code` on CRIME_FINALISED or `court_result` on COURT_OUTCOME is not valid.
    """
    if "event_type" not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    on_type = (frame["event_type"].astype("string") == event_type).fillna(False).astype(bool)
    values = (frame[column].astype("string") if column in frame.columns
              else pd.Series(pd.NA, index=frame.index, dtype="string"))
    if required:
        values = values.fillna("")
    return values.where(on_type)


def _repeats(frame: pd.DataFrame, key: list[str]) -> pd.Series:
    """True for the second and later copies of a key in the batch; <NA> where the key is missing."""
    columns = [column for column in key if column in frame.columns]
    if not columns:
        return pd.Series(pd.NA, index=frame.index, dtype="boolean")
    repeated = pd.Series(frame[columns].duplicated(keep="first").to_numpy(), index=frame.index,
                         dtype="boolean")
    return repeated.mask(frame[columns[0]].isna())


def validation_frame(
    frame: pd.DataFrame,
    derive: Mapping[str, Any],
    *,
    known_crime_refs: Collection[str] | None = None,
    crime_reported_at: pd.Series | None = None,
    known_victims: pd.DataFrame | None = None,
    columns: Collection[str] = (),
) -> pd.DataFrame:
    """The frame GX validates: `columns` with "" as missing, plus the columns `derive` asks for.

    - `instants`: `<column>_utc`, the column parsed as a UTC instant (null if missing/unparseable);
    - `crime_ref`: `crime_ref_known` (is the crime in the batch or the warehouse) and
      `crime_reported_at_utc` (its report instant, when known);
    - `repeat_key`: `repeat_of_earlier_row` (an earlier row of the batch has the same key);
    - `victim` (`{"crime_ref": ..., "victim_id": ...}`): `victim_known`, is the named victim one
      of `known_victims` (crime_ref, victim_id) — <NA> when none is named or none are given;
    - `on_event_type` (`{name: {"event_type": ..., "column": ..., "required": bool}}`): `name`,
      the column's value on rows of that event type, missing on others (where `required`, an
      empty value on that type is "", which the value check fails);
    - `optional` (column names): a column a source may not provide, all missing when absent.

    The index is 0..n-1, so GX's failing indexes are row positions.
    """
    base = frame.reset_index(drop=True)
    out = pd.DataFrame(index=base.index)
    for column in base.columns:
        out[column] = _blank_as_missing(base[column]) if column in columns else base[column]
    for column in derive.get("optional", []):
        if column not in out.columns:
            out[column] = pd.Series(pd.NA, index=out.index, dtype="string")
    for column in derive.get("instants", []):
        if column in out.columns:
            out[f"{column}_utc"] = _instants(out[column])
    crime_ref = derive.get("crime_ref")
    if crime_ref and crime_ref in out.columns:
        out["crime_ref_known"], out["crime_reported_at_utc"] = _crime_lookup(
            out[crime_ref], known_crime_refs, crime_reported_at)
    if derive.get("repeat_key"):
        out["repeat_of_earlier_row"] = _repeats(out, list(derive["repeat_key"]))
    victim = derive.get("victim")
    if victim and {victim["crime_ref"], victim["victim_id"]} <= set(out.columns):
        out["victim_known"] = _victim_lookup(out[victim["crime_ref"]], out[victim["victim_id"]],
                                             known_victims)
    for name, spec in derive.get("on_event_type", {}).items():
        out[name] = _on_event_type(out, spec["event_type"], spec["column"], bool(spec.get("required")))
    return out


# --- reading GX's result ------------------------------------------------------------------------


def _plain(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if key != "batch_id"}


def _exception_message(result: Any) -> str | None:
    info = result.exception_info or {}
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():  # keyed by metric when a metric failed
        if isinstance(value, Mapping) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _row_count_message(label: str, observed: int, kwargs: Mapping[str, Any],
                       nights: int | None) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if high is None and low == 1 and observed == 0:
        return f"{label}: 0 rows, expected at least 1 (empty feed)"
    expected = (f"{low:,}–{high:,}" if low is not None and high is not None
                else f"at least {low:,}" if low is not None else f"at most {high:,}")
    source = f" from the last {nights} nights" if nights else ""
    if low is not None and observed < low:
        gap = f"{(low - observed) / low:.0%} below the band" if low else ""
    elif high is not None and observed > high:
        gap = f"{(observed - high) / max(high, 1):.0%} above the band"
    else:
        gap = ""
    return f"{label}: {observed:,} rows, expected {expected}{source}" + (f" ({gap})" if gap else "")


def _batch_failure(result: Any, nights: int | None) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = _plain(config.kwargs)
    label = expectation_label(config.type, kwargs)
    observed = result.result.get("observed_value")
    error = _exception_message(result)
    if error:
        message = f"{label}: could not be evaluated: {error}"
    elif config.type == "expect_table_row_count_to_be_between":
        message = _row_count_message(config.type, int(observed or 0), kwargs, nights)
    elif config.type == "expect_table_columns_to_match_set":
        mismatched = (result.result.get("details") or {}).get("mismatched") or {}
        parts = []
        if mismatched.get("missing"):
            parts.append(f"missing column(s): {', '.join(map(str, mismatched['missing']))}")
        if mismatched.get("unexpected") and kwargs.get("exact_match"):
            parts.append(f"unexpected column(s): {', '.join(map(str, mismatched['unexpected']))}")
        message = f"{config.type}: " + ("; ".join(parts) or f"observed {observed}")
    else:
        message = f"{label}: observed {observed!r}, expected {kwargs}"
    return {"expectation": label, "observed": observed, "expected": kwargs, "message": message}


def _reasons(positions: list[np.ndarray], labels: list[str], row_ids: np.ndarray,
             row_id: str) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per failing position with its failed expectations `;`-joined, in suite order."""
    if not positions:
        return pd.DataFrame({row_id: pd.Series([], dtype="string"),
                             "reasons": pd.Series([], dtype="string")}), np.array([], dtype=np.int64)
    failing = np.unique(np.concatenate(positions))
    reasons = np.full(len(failing), "", dtype=object)
    for found, label in zip(positions, labels, strict=True):
        hit = np.isin(failing, found)
        reasons[hit] = reasons[hit] + (label + REASON_SEPARATOR)
    text = pd.Series(reasons, dtype="string").str.removesuffix(REASON_SEPARATOR)
    ids = pd.Series(row_ids[failing], dtype="string")
    return pd.DataFrame({row_id: ids, "reasons": text}), failing


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
        columns=_referenced_columns(suite_doc),
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
                batch_failures.append(_batch_failure(expectation_result, len(recent) if band else None))
                missing_columns |= config.type == "expect_table_columns_to_match_set"
            continue
        row_results.append((expectation_result, config))
    for expectation_result, config in row_results:
        if expectation_result.success:
            continue
        kwargs = _plain(config.kwargs)
        label = expectation_label(config.type, kwargs)
        if _exception_message(expectation_result):
            needed = {str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs}
            if missing_columns and not needed <= present:
                continue  # the schema failure already stops the batch
            batch_failures.append(_batch_failure(expectation_result, None))
            continue
        positions = np.asarray(expectation_result.result.get("unexpected_index_list") or [],
                               dtype=np.int64)
        severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
        bucket = "warning" if severity != "critical" else "critical"
        failed[bucket].append((order.get(label, len(order)), label, positions))

    batch_failures.sort(key=lambda failure: order.get(failure["expectation"], len(order)))

    def table(bucket: str) -> tuple[pd.DataFrame, np.ndarray]:
        entries = sorted(failed[bucket], key=lambda entry: entry[0])
        return _reasons([e[2] for e in entries], [e[1] for e in entries], row_ids, row_id)

    row_failures, failed_positions = table("critical")
    row_warnings, _ = table("warning")

    limit = meta.get("max_row_failure_fraction")
    if limit is not None and len(frame) >= MIN_ROWS_FOR_FAILURE_FRACTION:
        fraction = len(row_failures) / len(frame)
        if fraction > float(limit):
            batch_failures.append({
                "expectation": "max_row_failure_fraction", "observed": round(fraction, 4),
                "expected": float(limit),
                "message": (f"max_row_failure_fraction: {len(row_failures):,} of {len(frame):,} rows "
                            f"({fraction:.0%}) fail row expectations, more than {float(limit):.0%}: "
                            "the feed itself looks broken"),
            })

    _trim_for_docs(result, row_ids)
    return BatchValidation(
        suite_name=suite_name, row_id=row_id, row_count=len(frame), batch_failures=batch_failures,
        row_failures=row_failures, row_warnings=row_warnings, result=result,
        failed_positions=failed_positions,
    )

