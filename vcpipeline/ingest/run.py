"""One source's batch for one data interval: extract → validate → load, all or nothing.

1. Decide what to read (`windows`): the SQL watermark window or the drop files not yet processed.
2. Read the native rows and map them to canonical rows, each remembering its native row.
3. Validate: the native tables first (schema, empty feed) and the batch's size against recent
   nights; any batch-level failure stops here and nothing loads (the batch is recorded as
   failed, with what failed and by how much). Then canonical crimes, and victims and events
   against the crimes known (this batch's plus the warehouse's).
4. Load in one transaction: upsert the rows that passed (latest extract wins), quarantine the
   rest with their reasons and raw row (minus personal data), record the files processed and
   the watermark, close older quarantine entries this extract supersedes, and, when crimes were
   loaded, replay rows that were waiting for those crimes. The batch is marked succeeded only
   if rows extracted = rows loaded + rows quarantined.

Rows: a batch's rows are canonical rows (crimes + victims + events), one per native row read.
`load_batches` stores rows_extracted = rows_loaded + rows_quarantined (`finish_batch` refuses a
batch that does not add up); a later replay moves rows from quarantined to loaded.

Reruns: a rerun of the same interval reuses the batch id, reads the same window (or the same
files) and, because every write is an upsert keyed on natural keys with the batch's interval end
as the extract time (an older night never overwrites a newer extract), leaves the crimes, victims,
events, quarantine, processed files and watermarks as one run would. One thing a backfill cannot
reproduce: a row that first waited in quarantine for a crime that arrived on a later night (then
replayed by that night's crime-recording batch) passes at once when its night is rerun, because
the warehouse now knows the crime; that batch's loaded/quarantined counts then differ from the
first run's, while still reconciling. Running the same night twice in a row changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.ingest.extract import (
    DOOR_REASONS,
    KINDS,
    NATIVE_POSITION,
    NATIVE_TABLE,
    WATERMARK_UNREADABLE,
    canonical_by_origin,
    drop_schema_failures,
    native_schema_failures,
    native_suite,
    native_watermark,
    read_native,
    screen_identifiers,
    source_count_mismatches,
)
from vcpipeline.ingest.privacy import DERIVED_FROM_PII, raw_rows
from vcpipeline.ingest.windows import (
    _FILE_DAY,
    ExtractionWindow,
    files_to_process,
    is_first_batch,
    processed_manifest,
    recent_volumes,
    sql_window,
    stored_watermark,
)
from vcpipeline.parsing import parse_booleans, parse_instants, parse_integers
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.readers import DropFile, foreign_drop_files, read_drop_files
from vcpipeline.warehouse import load
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    crimes,
    load_batches,
    processed_files,
    quarantine,
    source_watermarks,
    victims,
)

log = logging.getLogger(__name__)

CANONICAL_SUITES: Mapping[str, str] = {
    "crimes": "canonical_crimes", "victims": "canonical_victims", "events": "canonical_events",
}
WAREHOUSE_TABLES: Mapping[str, str] = {"crimes": "crimes", "victims": "victims", "events": "case_events"}
CRIME_UNKNOWN_REASON = "crime_ref_known"
VICTIM_UNKNOWN_REASON = "victim_known"


class BatchFailed(RuntimeError):
    """A batch-level validation failure: nothing of the batch was loaded."""


@dataclass
class BatchResult:
    """What one source's batch did (counts are canonical rows: crimes + victims + events)."""

    source: str
    system: str
    batch_id: str
    interval_start: datetime
    interval_end: datetime
    status: str = "running"
    full: bool = False
    read: str = ""
    files: list[str] = field(default_factory=list)
    extracted: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    healed: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # Reported, not failing: files of the wrong kind in the landing folder, source counts that
    # do not match the extract, rows already quarantined for an unreadable watermark.
    notes: list[str] = field(default_factory=list)
    source_rows: dict[str, int] = field(default_factory=dict)

    @property
    def rows_extracted(self) -> int:
        return sum(self.extracted.values())

    @property
    def rows_loaded(self) -> int:
        return sum(self.loaded.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined.values())

    @property
    def message(self) -> str:
        if self.failures:
            return "batch not loaded: " + " | ".join(self.failures)
        mode = "full" if self.full else "incremental"
        return f"{mode}: {self.read}"

    def summary(self) -> dict[str, Any]:
        """JSON-able, no row values: what the Airflow task returns and `vcp ingest` prints."""
        return {
            "source": self.source, "batch_id": self.batch_id, "status": self.status,
            "interval_start": self.interval_start.isoformat(),
            "interval_end": self.interval_end.isoformat(),
            "extract": "full" if self.full else "incremental", "read": self.read,
            "files": list(self.files),
            "rows_extracted": self.rows_extracted, "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "by_entity": {kind: {"extracted": self.extracted.get(kind, 0),
                                 "loaded": self.loaded.get(kind, 0),
                                 "quarantined": self.quarantined.get(kind, 0)} for kind in KINDS},
            "quarantine_reasons": dict(self.reasons),
            "rows_replayed_from_earlier_batches": self.healed,
            "failures": list(self.failures),
            "notes": list(self.notes),
            "source_rows": dict(self.source_rows),
        }


# --- validation ----------------------------------------------------------------------------------


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


# --- loading --------------------------------------------------------------------------------------


def upsert(conn: sa.Connection, kind: str, frame: pd.DataFrame, batch_id: str) -> int:
    """The warehouse's upsert for a canonical kind (looked up at call time)."""
    return getattr(load, f"upsert_{kind}")(conn, frame, batch_id)


def _without_nul(values: pd.Series) -> pd.Series:
    """Text without NUL characters, which PostgreSQL cannot store in text at all."""
    text = values.astype("string")
    has = text.str.contains("\x00", regex=False).fillna(False)
    return text.str.replace("\x00", "", regex=False) if has.any() else values


def typed_canonical(kind: str, frame: pd.DataFrame, extracted_at: datetime) -> pd.DataFrame:
    """Validated canonical string rows as the warehouse's typed columns, extract time stamped.

    Events are ordered by their source's modified time, so that where one batch holds an event
    twice (a correction), the loader's "last row per key" is the latest version.
    """
    out = frame.copy()
    for name in out.columns:
        if name != NATIVE_POSITION:
            out[name] = _without_nul(out[name])
    if kind == "crimes":
        out["reported_at"] = parse_instants(frame["reported_at"])
        for name in ("domestic_abuse", "hate_crime"):
            out[name] = parse_booleans(frame[name]).fillna(False)
    elif kind == "victims":
        out["age_at_report"] = parse_integers(frame["age_at_report"])
        for name in ("vulnerable", "intimidated", "persistently_targeted"):
            out[name] = parse_booleans(frame[name]).fillna(False)
    else:
        out["occurred_at"] = parse_instants(frame["occurred_at"])
        blank = frame["in_need"].astype("string").fillna("").str.strip() == ""
        out["in_need"] = parse_booleans(frame["in_need"]).mask(blank)
        out["outcome_code"] = parse_integers(frame["outcome_code"])
        if "interval_days" in frame.columns:  # validated: digits 0-366 on CONTACT_AGREED, else empty
            out["interval_days"] = parse_integers(frame["interval_days"])
        modified = parse_instants(frame["source_modified_at"])
        order = np.argsort(modified.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")),
                           kind="stable")
        out = out.iloc[order]
    out["extracted_at"] = pd.Series(pd.Timestamp(extracted_at).tz_convert("UTC"), index=out.index,
                                    dtype="datetime64[us, UTC]")
    return out


def quarantine_frame(failed: pd.DataFrame, native: Mapping[str, pd.DataFrame],
                     config: SourceConfig, table: str) -> pd.DataFrame:
    """Failed rows of one native table as `quarantine_rows` wants them: id, reasons, raw row.

    A row id repeated in the batch (a verbatim duplicate that also failed) gets `#2`, `#3`, …
    so each quarantined row keeps its own entry.
    """
    rows = failed[failed[NATIVE_TABLE] == table]
    width = quarantine.c.source_row_id.type.length - 8  # room for a `#n` suffix
    ids = (rows["source_row_id"].astype("string").fillna("").str.replace("\x00", "", regex=False)
           .str.slice(0, width))
    repeat = ids.groupby(ids).cumcount().to_numpy()
    ids = ids.where(repeat == 0, ids + "#" + pd.Series(repeat + 1, index=ids.index).astype("string"))
    derived_columns = list(DERIVED_FROM_PII.get(config.name, {}).get(table, ()))
    derived = rows[derived_columns] if derived_columns else None
    positions = rows[NATIVE_POSITION].to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "source_row_id": ids.to_numpy(),
        "reasons": rows["reasons"].to_numpy(),
        "raw_row": raw_rows(native[table].iloc[positions], config, table, derived),
    })


def _upsert_processed_files(conn: sa.Connection, system: str, files: Sequence[DropFile],
                            batch_id: str) -> None:
    if not files:
        return
    now = datetime.now(UTC)
    statement = load._insert(conn, processed_files)
    statement = statement.on_conflict_do_update(
        index_elements=["source_system", "file_name"],
        set_={"content_sha256": statement.excluded.content_sha256,
              "batch_id": statement.excluded.batch_id,
              "processed_at": statement.excluded.processed_at},
    )
    conn.execute(statement, [
        {"source_system": system, "file_name": drop.name, "content_sha256": drop.sha256,
         "batch_id": batch_id, "processed_at": now} for drop in files
    ])


def _advance_watermark(conn: sa.Connection, system: str, watermark: datetime | None) -> None:
    """Move the source's watermark forward (never back: an older night's rerun keeps it)."""
    if watermark is None:
        return
    current = stored_watermark(conn, system)
    if current is not None and current >= watermark:
        return
    statement = load._insert(conn, source_watermarks).values(
        source_system=system, watermark=watermark, updated_at=datetime.now(UTC))
    conn.execute(statement.on_conflict_do_update(
        index_elements=["source_system"],
        set_={"watermark": statement.excluded.watermark, "updated_at": statement.excluded.updated_at},
    ))


def _row_keys(entries: pd.DataFrame) -> pd.Series:
    """Quarantine entries' source-row keys: native table + row id, without a `#n` repeat suffix."""
    base_ids = entries["source_row_id"].astype("string").str.replace(r"#\d+$", "", regex=True)
    return entries["entity"].astype("string") + "\x1f" + base_ids


def _close_entries(conn: sa.Connection, ids: list[int], superseded_at: datetime) -> None:
    if ids:
        conn.execute(sa.update(quarantine).where(quarantine.c.id.in_(sa.bindparam("ids", expanding=True)))
                     .values(replayed_at=superseded_at), {"ids": ids})


def close_superseded(conn: sa.Connection, system: str, batch_id: str, interval_end: datetime,
                     extracted: pd.DataFrame) -> int:
    """Close the open quarantine entries that a newer extract of the same source row superseded.

    The latest extract of a row decides, for quarantine as for the warehouse. Looking back:
    entries of earlier batches for rows this batch read again are closed (the row loaded, or is
    quarantined again under this batch). Looking forward: this batch's own entries for rows a
    later batch has already read and quarantined (an older night run or rerun after a newer one)
    are closed too. So a bad source row is counted once, whatever order the nights ran in.
    Closed entries get `replayed_at` = the interval end of the batch whose extract superseded
    them (deterministic, so reruns match).
    """
    earlier = sa.select(load_batches.c.batch_id).where(
        load_batches.c.source_system == system, load_batches.c.interval_end < interval_end)
    open_rows = read_frame(conn, sa.select(
        quarantine.c.id, quarantine.c.entity, quarantine.c.source_row_id,
    ).where(
        quarantine.c.source_system == system, quarantine.c.replayed_at.is_(None),
        quarantine.c.batch_id != batch_id, quarantine.c.batch_id.in_(earlier),
    ))
    closed = 0
    if not open_rows.empty and not extracted.empty:
        seen = pd.Index((extracted[NATIVE_TABLE].astype("string") + "\x1f"
                         + extracted["source_row_id"].astype("string")).unique())
        ids = open_rows.loc[_row_keys(open_rows).isin(seen).to_numpy(), "id"].astype(int).tolist()
        _close_entries(conn, ids, interval_end)
        closed += len(ids)
    return closed + _close_own_superseded(conn, system, batch_id, interval_end)


def _close_own_superseded(conn: sa.Connection, system: str, batch_id: str, interval_end: datetime) -> int:
    """Close this batch's open entries for rows a later batch of the source quarantined (open or
    closed: either way it read a newer extract); each gets the first such batch's interval end."""
    own = read_frame(conn, sa.select(quarantine.c.id, quarantine.c.entity, quarantine.c.source_row_id)
                     .where(quarantine.c.batch_id == batch_id, quarantine.c.source_system == system,
                            quarantine.c.replayed_at.is_(None)))
    if own.empty:
        return 0
    later = read_frame(conn, sa.select(quarantine.c.entity, quarantine.c.source_row_id,
                                       load_batches.c.interval_end)
                       .join(load_batches, load_batches.c.batch_id == quarantine.c.batch_id)
                       .where(quarantine.c.source_system == system, load_batches.c.source_system == system,
                              load_batches.c.interval_end > interval_end))
    if later.empty:
        return 0
    first_later = later["interval_end"].groupby(_row_keys(later).to_numpy()).min()
    superseded_at = _row_keys(own).map(first_later)
    closing = own.assign(superseded_at=superseded_at.to_numpy())[superseded_at.notna().to_numpy()]
    for instant, entries in closing.groupby("superseded_at"):
        _close_entries(conn, entries["id"].astype(int).tolist(), pd.Timestamp(instant).to_pydatetime())
    return len(closing)


def warehouse_reported_at(conn: sa.Connection) -> pd.Series:
    """Every crime in the warehouse: report instant by crime_ref (the known crimes)."""
    frame = read_frame(conn, sa.select(crimes.c.crime_ref, crimes.c.reported_at))
    if frame.empty:
        return pd.Series([], dtype="datetime64[us, UTC]", index=pd.Index([], dtype="string"))
    return pd.Series(frame["reported_at"].to_numpy(), index=pd.Index(frame["crime_ref"].astype("string")),
                     dtype="datetime64[us, UTC]")


def warehouse_victims(conn: sa.Connection) -> pd.DataFrame:
    """Every victim in the warehouse, as (crime_ref, victim_id): the known victims."""
    return read_frame(conn, sa.select(victims.c.crime_ref, victims.c.victim_id)).astype("string")


def load_validated(conn: sa.Connection, result: BatchResult, config: SourceConfig,
                   native: Mapping[str, pd.DataFrame], validated: ValidatedBatch,
                   files: Sequence[DropFile]) -> load.BatchCounts:
    """Write a validated batch inside the caller's transaction; its counts."""
    for kind in KINDS:
        passed = validated.passed(kind)
        failed = validated.failed(kind)
        result.extracted[kind] = len(validated.canonical[kind])
        result.loaded[kind] = upsert(conn, kind, typed_canonical(kind, passed, result.interval_end),
                                     result.batch_id)
        quarantined = 0
        for table in failed[NATIVE_TABLE].unique().tolist() if len(failed) else []:
            frame = quarantine_frame(failed, native, config, str(table))
            quarantined += load.quarantine_rows(conn, result.batch_id, config.system, str(table), frame)
        result.quarantined[kind] = quarantined
        if len(failed):
            reasons = failed["reasons"].astype("string").str.split(";").explode().value_counts()
            for reason, count in reasons.items():
                result.reasons[str(reason)] = result.reasons.get(str(reason), 0) + int(count)
    _upsert_processed_files(conn, config.system, files, result.batch_id)
    _advance_watermark(conn, config.system, native_watermark(native, config, result.interval_end))
    everything = pd.concat([validated.canonical[kind][[NATIVE_TABLE, "source_row_id"]] for kind in KINDS])
    close_superseded(conn, config.system, result.batch_id, result.interval_end, everything)
    return load.BatchCounts(result.rows_extracted, result.rows_loaded, result.rows_quarantined)


# --- the batch ------------------------------------------------------------------------------------


def plan_batch(conn: sa.Connection, config: SourceConfig, result: BatchResult
               ) -> tuple[ExtractionWindow | None, list[DropFile], list[int]]:
    """What this batch reads (window or files) and the recent nights' volumes to compare with."""
    first = is_first_batch(conn, config.system, result.interval_start)
    result.full = first
    recent = [] if first else recent_volumes(conn, config.system, result.interval_start,
                                             result.interval_end)
    if config.kind == "sql":
        window = sql_window(result.interval_start, result.interval_end, config.lookback,
                            first_batch=first, watermark=stored_watermark(conn, config.system))
        result.read = window.describe()
        return window, [], recent
    pattern = config.file_pattern or "*"
    for name in foreign_drop_files(config.connection, pattern):
        result.notes.append(f"{name}: not a {pattern} drop: not read")
    dropped, misdated = dated_drops(read_drop_files(config.connection, pattern))
    result.failures += misdated
    files = files_to_process(dropped, result.interval_end, processed_manifest(conn, config.system),
                             result.batch_id)
    result.files = [drop.name for drop in files]
    result.read = (f"{len(files)} file(s): {', '.join(result.files)}" if files
                   else "no new files")
    return None, files, recent


def dated_drops(files: Sequence[DropFile]) -> tuple[list[DropFile], list[str]]:
    """(files whose name holds no date or a real one, one-line failures for impossible dates).

    `referrals_20260231.csv` cannot be placed in time (which night completes it?), so it fails
    the batch by name rather than raising from the date arithmetic.
    """
    good, failures = [], []
    for drop in files:
        match = _FILE_DAY.search(drop.name)
        if match:
            try:
                datetime.strptime(match.group(1), "%Y%m%d")
            except ValueError:
                failures.append(f"{drop.name}: impossible date {match.group(1)} in the file name")
                continue
        good.append(drop)
    return good, failures


def drop_reported_unreadable(conn: sa.Connection, system: str, batch_id: str,
                             canonical: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """The canonical rows minus those whose watermark cannot be read and that an earlier batch
    already quarantined for it (still open): such a row is read by every batch, since no window
    holds it, but quarantined once, not every night. Once fixed, its new extract loads and closes
    the old entry."""
    unreadable = {kind: frame[DOOR_REASONS].astype("string").fillna("")
                  .str.contains(WATERMARK_UNREADABLE, regex=False).to_numpy(dtype=bool)
                  for kind, frame in canonical.items() if DOOR_REASONS in frame.columns}
    if not any(flags.any() for flags in unreadable.values()):
        return canonical, 0
    held = read_frame(conn, sa.select(quarantine.c.entity, quarantine.c.source_row_id).where(
        quarantine.c.source_system == system, quarantine.c.replayed_at.is_(None),
        quarantine.c.batch_id != batch_id,
        quarantine.c.reasons.contains(WATERMARK_UNREADABLE, autoescape=True)))
    if held.empty:
        return canonical, 0
    keys = pd.Index(held["entity"].astype("string") + "\x1f"
                    + held["source_row_id"].astype("string").str.replace(r"#\d+$", "", regex=True))
    out, skipped = {}, 0
    for kind, frame in canonical.items():
        flags = unreadable.get(kind)
        if flags is None or not flags.any():
            out[kind] = frame
            continue
        row_keys = frame[NATIVE_TABLE].astype("string") + "\x1f" + frame["source_row_id"].astype("string")
        known = flags & row_keys.isin(keys).to_numpy(dtype=bool)
        skipped += int(known.sum())
        out[kind] = frame[~known].reset_index(drop=True)
    return out, skipped


def run_source_batch(
    config: SourceConfig,
    interval_start: datetime,
    interval_end: datetime,
    engine: Engine,
    *,
    configs: Sequence[SourceConfig] | None = None,
    data_docs: Path | None = None,
) -> BatchResult:
    """Extract, validate and load one source's batch for a data interval (see module docstring).

    Returns the result with status `succeeded` or `failed` (batch-level validation failure:
    nothing loaded, the batch row says why). An error while reading or loading rolls the whole
    batch back, is recorded on the batch row, and is raised. `configs` (all sources) lets a crime-recording
    batch replay other sources' rows that waited for its crimes. `config` says where the source
    lives as the caller resolved it (the nightly task: its Airflow connection); ingest never asks
    Airflow.
    """
    start = interval_start.astimezone(UTC)
    end = interval_end.astimezone(UTC)
    if end < start:
        raise ValueError("interval_end is before interval_start")
    result = BatchResult(source=config.name, system=config.system,
                         batch_id=load.batch_id_for(config.system, start, end),
                         interval_start=start, interval_end=end)
    try:
        with engine.connect() as conn:
            window, files, recent = plan_batch(conn, config, result)
            known = warehouse_reported_at(conn)
            known_victims = warehouse_victims(conn)
        header_failures = list(result.failures)
        result.failures = []
        header_failures += drop_schema_failures(files, config) if files else []
        native = {config.tables[0]: pd.DataFrame()}
        if not header_failures:
            native = read_native(config, window, files)
            header_failures = native_schema_failures(native, config)
            native = screen_identifiers(native, config)
        if header_failures:
            validated = ValidatedBatch({kind: pd.DataFrame() for kind in KINDS}, {}, [],
                                       header_failures)
        else:
            if window is not None:
                result.source_rows, mismatches = source_count_mismatches(native, config, window)
                result.notes += mismatches
            canonical = canonical_by_origin(native, config)
            with engine.connect() as conn:
                canonical, skipped = drop_reported_unreadable(conn, config.system, result.batch_id,
                                                              canonical)
            if skipped:
                result.notes.append(f"{skipped:,} row(s) with an unreadable watermark, already "
                                    "quarantined by an earlier batch: not extracted again")
            validated = validate_source(config, native, canonical, now=end,
                                        known_reported_at=known, recent=recent,
                                        known_victims=known_victims)
    except Exception as exc:  # the source could not be read: the batch row says so
        _record_failure(engine, config.system, start, end, f"{type(exc).__name__}: {exc}")
        raise
    for note in result.notes:
        log.warning("source %s batch %s: %s", config.name, result.batch_id, note)
    if data_docs is not None:
        _data_docs(validated, data_docs, config.name, result.batch_id)
    if not validated.loadable:
        result.status = "failed"
        result.failures = list(validated.failures)
        result.extracted = {kind: len(validated.canonical[kind]) for kind in KINDS}
        _record_failure(engine, config.system, start, end, result.message)
        log.warning("source %s batch %s failed validation: %s", config.name, result.batch_id,
                    result.message)
        return result
    try:
        with engine.begin() as conn:
            load.start_batch(conn, config.system, start, end)
            counts = load_validated(conn, result, config, native, validated, files)
            if len(validated.passed("crimes")):
                from vcpipeline.ingest.replay import replay_quarantined

                healed = replay_quarantined(
                    conn, configs or [config], reason=CRIME_UNKNOWN_REASON, replayed_at=end,
                    exclude_batch=result.batch_id,
                    crime_refs=set(validated.passed("crimes")["crime_ref"].astype("string")))
                result.healed = healed.replayed
            # Then rows waiting for a victim of those crimes: the batch's victims, or victims the
            # replay above just loaded (a victim that waited for its late crime).
            arrived = pd.concat([validated.passed(kind)["crime_ref"] for kind in ("crimes", "victims")])
            if len(arrived):
                from vcpipeline.ingest.replay import replay_quarantined

                healed = replay_quarantined(
                    conn, configs or [config], reason=VICTIM_UNKNOWN_REASON, replayed_at=end,
                    exclude_batch=result.batch_id, crime_refs=set(arrived.astype("string")))
                result.healed += healed.replayed
            load.finish_batch(conn, result.batch_id, status="succeeded",
                              rows_extracted=counts.rows_extracted, rows_loaded=counts.rows_loaded,
                              rows_quarantined=counts.rows_quarantined, message=result.message)
    except Exception as exc:
        _record_failure(engine, config.system, start, end, f"{type(exc).__name__}: {exc}")
        raise
    result.status = "succeeded"
    log.info("source %s batch %s: %s extracted, %s loaded, %s quarantined", config.name,
             result.batch_id, result.rows_extracted, result.rows_loaded, result.rows_quarantined)
    return result


def _record_failure(engine: Engine, system: str, start: datetime, end: datetime,
                    message: str) -> None:
    """Mark the batch failed in its own transaction; never hides the error that got us here."""
    try:
        with engine.begin() as conn:
            load.record_batch_failure(conn, system, start, end, message)
    except Exception:
        log.exception("could not record the failure of %s's batch", system)


def _data_docs(validated: ValidatedBatch, site: Path, source: str, batch_id: str) -> None:
    """The batch's validations as offline Data Docs (a failure to build them never fails a load)."""
    from vcpipeline.validation.docs import build_data_docs

    validations = [*validated.native_validations, *validated.validations.values()]
    if not validations:
        return
    try:
        # One folder per source, one index of every source's nights at the top (site/index.html).
        build_data_docs(validations, site / source, run_name=batch_id.replace(":", "_"), site_root=site)
    except Exception:  # documentation only
        log.exception("could not build Data Docs for %s", batch_id)
