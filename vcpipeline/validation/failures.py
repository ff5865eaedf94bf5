"""What a batch failed, in words: batch failures with their messages, and each failing row's reasons.

Read from GX's validation result: a batch failure names its expectation, what was observed and
what was expected (a volume band says how far outside it the count is); a failing row lists the
expectations it failed, `;`-joined in suite order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.validation.suites import expectation_label

REASON_SEPARATOR = ";"


def plain_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if key != "batch_id"}


def evaluation_error(result: Any) -> str | None:
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


def batch_failure(result: Any, nights: int | None) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = plain_kwargs(config.kwargs)
    label = expectation_label(config.type, kwargs)
    observed = result.result.get("observed_value")
    error = evaluation_error(result)
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


def row_reasons(positions: list[np.ndarray], labels: list[str], row_ids: np.ndarray,
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


def too_many_failed_rows(failed: int, rows: int, limit: float) -> dict[str, Any]:
    """The batch failure of a feed whose share of failing rows is over `limit`: a broken feed."""
    fraction = failed / rows
    return {
        "expectation": "max_row_failure_fraction", "observed": round(fraction, 4),
        "expected": float(limit),
        "message": (f"max_row_failure_fraction: {failed:,} of {rows:,} rows "
                    f"({fraction:.0%}) fail row expectations, more than {float(limit):.0%}: "
                    "the feed itself looks broken"),
    }
