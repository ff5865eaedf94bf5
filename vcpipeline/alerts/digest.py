"""The data-engineering digest: one e-mail a night when the data itself needs attention.

Sent when a source's batch failed (a GX batch-level failure, or the load), a source delivered
nothing, a source's quarantine rate is above the threshold, or crimes could not be routed to any
team lead. Pure, like `compose` (templates are handed in or the packaged ones, read once): it names sources, counts and expectation names, never rows.

Batches carry the source's system code (`CRS`), people and the DAG name sources (`crime_recording`):
`sources.toml` holds both, and every batch is named through that one mapping before anything is
compared, so a source that delivered is never reported as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.alerts.messages import DEFAULT_SENDER, build_email, utc_instant
from vcpipeline.alerts.render import Templates, packaged_templates
from vcpipeline.alerts.wording import local_day_label
from vcpipeline.calendar import local_dates

DEFAULT_QUARANTINE_THRESHOLD = 0.02
DIGEST_KEY_PREFIX = "data-engineering"
QUARANTINE_REASON_COLUMNS = ("source_system", "reason", "rows")


def source_names_by_system(sources_file: Path | None = None) -> dict[str, str]:
    """System code → source name (`{"CRS": "crime_recording", ...}`), as `sources.toml` declares them."""
    from vcpipeline.sources.config import load_source_config

    return {config.system: config.name for config in load_source_config(sources_file)}


def quarantine_list_command(source: str, batch_id: str | None = None) -> str:
    """The command that lists a source's open quarantined rows (of one night's batch when
    `batch_id` is given) by entity and reason."""
    return f"vcp quarantine list --source {source}" + (f" --batch {batch_id}" if batch_id else "")


def digest_message_key(as_of: pd.Timestamp) -> str:
    """`data-engineering/2026-04-02`: one digest per night."""
    day = local_dates(pd.DatetimeIndex([utc_instant(as_of)]))[0]
    return f"{DIGEST_KEY_PREFIX}/{np.datetime_as_string(day, unit='D')}"


def compose_data_engineering_digest(
    batches: pd.DataFrame,
    quarantine_rates: Mapping[str, float] | pd.Series | None = None,
    threshold: float = DEFAULT_QUARANTINE_THRESHOLD,
    data_docs_url: str = "",
    *,
    recipient: str,
    as_of: pd.Timestamp,
    expected_sources: Iterable[str] = (),
    unrouted_crimes: int = 0,
    quarantine_reasons: pd.DataFrame | None = None,
    source_names: Mapping[str, str] | None = None,
    sender: str = DEFAULT_SENDER,
    templates: Templates | None = None,
) -> EmailMessage | None:
    """The night's digest for `recipient`, or None when there is nothing to report.

    `batches`: the night's load batches (source_system, status, rows_extracted, rows_loaded,
    rows_quarantined; optionally `failed_expectations`, names only). `quarantine_rates` by
    source default to rows_quarantined / rows_extracted. A source in `expected_sources` (names)
    with no batch counts as having delivered nothing. `source_names` maps system codes to
    source names (default: `sources.toml`); a code it does not know is shown as it is.
    `quarantine_reasons` (source_system, reason, rows; optionally batch_id): the night's
    quarantined rows counted by failed expectation, shown with the command that lists them.
    """
    names = dict(source_names if source_names is not None else source_names_by_system())
    rows = _batch_rows(batches, quarantine_rates, names)
    problems = _problems(rows, threshold, expected_sources, unrouted_crimes)
    if not problems:
        return None
    templates = templates or packaged_templates()
    as_of = utc_instant(as_of)
    today = local_dates(pd.DatetimeIndex([as_of]))[0]
    reasons = _reason_rows(quarantine_reasons, names)
    context = {
        "as_of_date": local_day_label(today),
        "problems": problems,
        "data_docs_url": data_docs_url or "(not configured)",
        "batches": [
            {**row, "quarantine_rate": _share(row["quarantine_rate"])} for row in rows.to_dict("records")
        ],
        "quarantine_reasons": reasons.to_dict("records"),
        "quarantine_commands": [quarantine_list_command(source, batch or None) for source, batch
                                in reasons.loc[:, ["source", "batch_id"]].drop_duplicates().itertuples(index=False)],
        "threshold": _share(threshold),
    }
    noun = "problem" if len(problems) == 1 else "problems"
    subject = f"Victims Code pipeline: {len(problems)} data {noun} in the night to {context['as_of_date']}"
    return build_email(
        recipient, subject,
        templates.render("data_engineering_digest.txt.j2", context),
        templates.render("data_engineering_digest.html.j2", context),
        digest_message_key(as_of), as_of, sender,
    )


def _source_names(systems: pd.Series, names: Mapping[str, str]) -> pd.Series:
    """Each system code as its source name; a value that is not a known code stays as it is."""
    codes = systems.astype(str)
    return codes.map(dict(names)).fillna(codes).astype(str)


def _batch_rows(batches: pd.DataFrame, quarantine_rates: Mapping[str, float] | pd.Series | None,
                names: Mapping[str, str]) -> pd.DataFrame:
    rows = pd.DataFrame({
        "source": _source_names(batches["source_system"], names),
        "status": batches["status"].astype(str),
        **{c: pd.to_numeric(batches[c]).fillna(0).astype(int)
           for c in ("rows_extracted", "rows_loaded", "rows_quarantined")},
    })
    computed = rows["rows_quarantined"] / rows["rows_extracted"].where(rows["rows_extracted"] > 0)
    given = pd.Series(dict(quarantine_rates or {}), dtype=float)
    rows["quarantine_rate"] = rows["source"].map(given).fillna(computed).fillna(0.0)
    if "failed_expectations" in batches.columns:
        rows["failed_expectations"] = batches["failed_expectations"].map(_names).to_numpy()
    else:
        rows["failed_expectations"] = ""
    return rows.sort_values("source", ignore_index=True)


def _problems(rows: pd.DataFrame, threshold: float, expected_sources: Iterable[str],
              unrouted_crimes: int) -> list[str]:
    problems = []
    for row in rows.itertuples(index=False):  # one row per source: a handful
        if row.status == "failed":
            failed = f" ({row.failed_expectations})" if row.failed_expectations else ""
            problems.append(f"{row.source}: the batch failed and was not loaded{failed}")
        elif row.status == "running":
            problems.append(f"{row.source}: the batch never finished")
        elif row.rows_extracted == 0:
            problems.append(f"{row.source}: delivered no rows")
        if row.quarantine_rate > threshold:
            problems.append(f"{row.source}: {_share(row.quarantine_rate)} of rows quarantined "
                            f"({row.rows_quarantined} of {row.rows_extracted}), above {_share(threshold)}")
    problems.extend(f"{source}: delivered nothing (no batch this night)"
                    for source in sorted(set(expected_sources) - set(rows["source"])))
    if unrouted_crimes:
        problems.append(f"{unrouted_crimes} crime(s) with something to alert have no team lead and no "
                        "department default lead in the team reference data")
    return problems


def _reason_rows(reasons: pd.DataFrame | None, names: Mapping[str, str]) -> pd.DataFrame:
    """The night's quarantined rows by source and failed expectation, most rows first."""
    if reasons is None or reasons.empty:
        return pd.DataFrame({"source": pd.Series([], dtype=str), "batch_id": pd.Series([], dtype=str),
                             "reason": pd.Series([], dtype=str), "rows": pd.Series([], dtype=int)})
    frame = pd.DataFrame({
        "source": _source_names(reasons["source_system"], names),
        "batch_id": (reasons["batch_id"].fillna("").astype(str) if "batch_id" in reasons.columns
                     else pd.Series("", index=reasons.index)),
        "reason": reasons["reason"].astype(str),
        "rows": pd.to_numeric(reasons["rows"]).fillna(0).astype(int),
    })
    frame = frame.groupby(["source", "batch_id", "reason"], as_index=False, sort=False)["rows"].sum()
    return frame.sort_values(["rows", "source", "reason"], ascending=[False, True, True], ignore_index=True)


def _names(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    return ", ".join(str(v) for v in value)  # type: ignore[union-attr]


def _share(value: float) -> str:
    return f"{100 * value:.1f}%"
