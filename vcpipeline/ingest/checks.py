"""Canonical validation and each row's reasons: what decides whether a batch loads and which of
its rows go to quarantine, and why.

The native suites judge the batch (schema, empty feed), the volume band judges its size against
recent nights, and the canonical suites judge each row: crimes first, then victims and events
against the crimes known (this batch's plus the warehouse's) and events against the victims
known. A row's reasons are its door reasons (`extract.DOOR_REASONS`) if it has any, else its
failed critical expectations, then any value too wide for its warehouse column. The replay
(`replay.py`) judges quarantined rows again with the same functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.ingest.extract import (
    DOOR_REASONS,
    native_suite,
)
from vcpipeline.parsing import parse_instants
from vcpipeline.sources.config import SourceConfig

CANONICAL_SUITES: Mapping[str, str] = {
    "crimes": "canonical_crimes", "victims": "canonical_victims", "events": "canonical_events",
}
WAREHOUSE_TABLES: Mapping[str, str] = {"crimes": "crimes", "victims": "victims", "events": "case_events"}
CRIME_UNKNOWN_REASON = "crime_ref_known"
VICTIM_UNKNOWN_REASON = "victim_known"


def oversized_values(kind: str, frame: pd.DataFrame) -> np.ndarray:
    """Per row, `value_too_long(column)` reasons for text wider than its warehouse column.

    The suites do not check widths, SQLite does not enforce them and PostgreSQL refuses the
    whole statement: such a row must be quarantined, not crash the batch.
    """
    from vcpipeline.warehouse.schema import metadata

    reasons = np.full(len(frame), "", dtype=object)
    table = metadata.tables[WAREHOUSE_TABLES[kind]]
    for column in table.columns:
        width = getattr(column.type, "length", None)
        if width is None or column.name not in frame.columns:
            continue
        long = (frame[column.name].astype("string").str.len() > width).fillna(False).to_numpy(bool)
        if long.any():
            label = f"value_too_long({column.name})"
            before = reasons[long]
            reasons[long] = np.where(before == "", label, before + ";" + label)
    return reasons


def row_reasons(kind: str, frame: pd.DataFrame, validation: Any | None) -> np.ndarray:
    """Why each row of a canonical frame fails ("" = it passes): its door reasons (a row refused
    at the door is judged on those alone: its values are blank or not trusted), else the suite's
    critical row expectations, then any value too wide for the warehouse."""
    reasons = np.full(len(frame), "", dtype=object)
    if validation is not None and len(validation.failed_positions):
        reasons[validation.failed_positions] = validation.row_failures["reasons"].to_numpy(dtype=object)
    wide = oversized_values(kind, frame)
    both = (reasons != "") & (wide != "")
    reasons = np.where(both, reasons + ";" + wide, np.where(reasons != "", reasons, wide))
    if DOOR_REASONS in frame.columns:
        door = frame[DOOR_REASONS].astype("string").fillna("").to_numpy(dtype=object)
        reasons = np.where(door != "", door, reasons)
    return reasons.astype(object)


@dataclass
class ValidatedBatch:
    """The batch's canonical rows and what validating them found."""

    canonical: dict[str, pd.DataFrame]
    validations: dict[str, Any]                     # kind → BatchValidation
    native_validations: list[Any]
    failures: list[str]
    _reasons: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def loadable(self) -> bool:
        return not self.failures

    def reasons(self, kind: str) -> np.ndarray:
        if kind not in self._reasons:
            self._reasons[kind] = row_reasons(kind, self.canonical[kind], self.validations.get(kind))
        return self._reasons[kind]

    def passed(self, kind: str) -> pd.DataFrame:
        return self.canonical[kind][self.reasons(kind) == ""]

    def failed(self, kind: str) -> pd.DataFrame:
        reasons = self.reasons(kind)
        failing = reasons != ""
        return self.canonical[kind][failing].assign(
            reasons=pd.Series(reasons[failing], dtype="string").to_numpy())


def volume_failure(rows: int, recent: Sequence[int], tolerance: float = 0.5,
                   min_nights: int = 3) -> str | None:
    """Too few rows against recent nights (`validation.volume_band`'s lower end): a message, or None.

    Only the low side fails a batch: a broken or partial feed delivers too little. More rows than
    usual is a busy night, or the catch-up after a gap or a failed night (the window then reaches
    back to the watermark), and refusing it would keep the source stuck. The tolerance is the
    native suites' `meta.volume` (0.5: half the quietest recent night), because a small daily
    feed varies by a third from one day to the next.
    """
    from vcpipeline.validation.validate import volume_band

    band = volume_band(recent, tolerance, min_nights)
    if band is None or rows >= band[0]:
        return None
    low, high = band
    return (f"source volume: {rows:,} rows, expected {low:,}–{high:,} from the last "
            f"{len(recent)} nights ({(low - rows) / low:.0%} below the band)")


def volume_settings(config: SourceConfig) -> tuple[float, int]:
    """(tolerance, nights) for the source's volume band, from its first native suite's meta."""
    from vcpipeline.validation.suites import load_suite_dict

    volume = load_suite_dict(native_suite(config, config.tables[0])).get("meta", {}).get("volume", {})
    return float(volume.get("tolerance", 0.5)), int(volume.get("min_nights", 3))


def crimes_reported_at(passed_crimes: pd.DataFrame, known: pd.Series | None) -> pd.Series:
    """Report instants by crime_ref: the warehouse's, overridden by this batch's passed crimes."""
    parts = [known.astype("datetime64[us, UTC]")] if known is not None and len(known) else []
    if len(passed_crimes):
        parts.append(pd.Series(parse_instants(passed_crimes["reported_at"]).to_numpy(),
                               index=pd.Index(passed_crimes["crime_ref"].astype("string")),
                               dtype="datetime64[us, UTC]"))
    if not parts:
        return pd.Series([], dtype="datetime64[us, UTC]", index=pd.Index([], dtype="string"))
    return pd.concat(parts)


def known_victim_keys(passed_victims: pd.DataFrame, known: pd.DataFrame | None) -> pd.DataFrame | None:
    """(crime_ref, victim_id) of the warehouse's victims and this batch's passed ones (None: not checked)."""
    if known is None:
        return None
    parts = [known.loc[:, ["crime_ref", "victim_id"]]]
    if len(passed_victims):
        parts.append(passed_victims.loc[:, ["crime_ref", "victim_id"]])
    return pd.concat(parts, ignore_index=True).astype("string")


def validate_canonical(canonical: dict[str, pd.DataFrame], *, now: datetime,
                       known_reported_at: pd.Series | None,
                       known_victims: pd.DataFrame | None = None) -> tuple[dict[str, Any], list[str]]:
    """Canonical crimes, then victims and events against the known crimes, and events against the
    known victims (`known_victims`: the warehouse's; None = not checked); (validations, failures)."""
    from vcpipeline.validation.validate import validate_batch

    validations: dict[str, Any] = {}
    failures: list[str] = []
    if len(canonical["crimes"]):
        validations["crimes"] = validate_batch(canonical["crimes"], CANONICAL_SUITES["crimes"],
                                               row_id="source_row_id", now=now)
    crimes_frame = canonical["crimes"]
    passed_crimes = (validations["crimes"].passed_rows(crimes_frame) if "crimes" in validations
                     else crimes_frame)
    reported = crimes_reported_at(passed_crimes, known_reported_at)
    for kind in ("victims", "events"):
        if kind == "events" and known_victims is not None:
            victims_frame = canonical["victims"]
            passed_victims = (validations["victims"].passed_rows(victims_frame)
                              if "victims" in validations else victims_frame)
            known_victims = known_victim_keys(passed_victims, known_victims)
        if len(canonical[kind]):
            validations[kind] = validate_batch(
                canonical[kind], CANONICAL_SUITES[kind], row_id="source_row_id", now=now,
                crime_reported_at=reported, known_victims=known_victims if kind == "events" else None,
            )
    for kind, validation in validations.items():
        failures += [f"{kind}: {failure['message']}" for failure in validation.batch_failures]
    return validations, failures


def validate_source(config: SourceConfig, native: Mapping[str, pd.DataFrame],
                    canonical: dict[str, pd.DataFrame], *, now: datetime,
                    known_reported_at: pd.Series | None, recent: Sequence[int] = (),
                    known_victims: pd.DataFrame | None = None) -> ValidatedBatch:
    """Native batch checks (schema, empty feed), the volume band, then the canonical suites.

    Native row expectations are warnings (Data Docs only): a row's fate is decided on its
    canonical form, where the reason is in the domain's words.
    """
    from vcpipeline.validation.suites import load_suite_dict
    from vcpipeline.validation.validate import validate_batch

    failures: list[str] = []
    native_validations = []
    for table, frame in native.items():
        if frame.empty:
            continue  # nothing new in this table: the volume band judges the batch as a whole
        suite = native_suite(config, table)
        row_id = load_suite_dict(suite).get("meta", {}).get("row_id", "")
        validation = validate_batch(frame, suite, row_id=row_id, now=now)
        native_validations.append(validation)
        failures += [f"{table}: {failure['message']}" for failure in validation.batch_failures]
    total = sum(len(frame) for frame in canonical.values())
    volume = volume_failure(total, recent, *volume_settings(config))
    if volume:
        failures.append(volume)
    if failures:
        return ValidatedBatch(canonical, {}, native_validations, failures)
    validations, canonical_failures = validate_canonical(canonical, now=now,
                                                         known_reported_at=known_reported_at,
                                                         known_victims=known_victims)
    return ValidatedBatch(canonical, validations, native_validations, canonical_failures)
