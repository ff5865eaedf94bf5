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

The pieces: `checks` (validation and reasons), `typed` (typed canonical frames), `batches`
(bookkeeping and load) and `replay`, which this runner calls once a batch has loaded new crimes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.ingest.batches import (
    BatchFailed,
    BatchResult,
    drop_reported_unreadable,
    load_validated,
    record_failure,
    warehouse_reported_at,
    warehouse_victims,
)
from vcpipeline.ingest.checks import (
    CRIME_UNKNOWN_REASON,
    VICTIM_UNKNOWN_REASON,
    ValidatedBatch,
    validate_source,
)
from vcpipeline.ingest.extract import (
    KINDS,
    canonical_by_origin,
    drop_schema_failures,
    native_schema_failures,
    read_native,
    screen_identifiers,
    source_count_mismatches,
)
from vcpipeline.ingest.replay import replay_quarantined
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
from vcpipeline.sources.config import SourceConfig
from vcpipeline.sources.drop_files import DropFile, foreign_drop_files, read_drop_files
from vcpipeline.warehouse import load

log = logging.getLogger(__name__)

__all__ = ["BatchFailed", "BatchResult", "dated_drops", "plan_batch", "run_source_batch"]


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
        record_failure(engine, config.system, start, end, f"{type(exc).__name__}: {exc}")
        raise
    for note in result.notes:
        log.warning("source %s batch %s: %s", config.name, result.batch_id, note)
    if data_docs is not None:
        _data_docs(validated, data_docs, config.name, result.batch_id)
    if not validated.loadable:
        result.status = "failed"
        result.failures = list(validated.failures)
        result.extracted = {kind: len(validated.canonical[kind]) for kind in KINDS}
        record_failure(engine, config.system, start, end, result.message)
        log.warning("source %s batch %s failed validation: %s", config.name, result.batch_id,
                    result.message)
        return result
    try:
        with engine.begin() as conn:
            load.start_batch(conn, config.system, start, end)
            counts = load_validated(conn, result, config, native, validated, files)
            if len(validated.passed("crimes")):
                healed = replay_quarantined(
                    conn, configs or [config], reason=CRIME_UNKNOWN_REASON, replayed_at=end,
                    exclude_batch=result.batch_id,
                    crime_refs=set(validated.passed("crimes")["crime_ref"].astype("string")))
                result.healed = healed.replayed
            # Then rows waiting for a victim of those crimes: the batch's victims, or victims the
            # replay above just loaded (a victim that waited for its late crime).
            arrived = pd.concat([validated.passed(kind)["crime_ref"] for kind in ("crimes", "victims")])
            if len(arrived):
                healed = replay_quarantined(
                    conn, configs or [config], reason=VICTIM_UNKNOWN_REASON, replayed_at=end,
                    exclude_batch=result.batch_id, crime_refs=set(arrived.astype("string")))
                result.healed += healed.replayed
            load.finish_batch(conn, result.batch_id, status="succeeded",
                              rows_extracted=counts.rows_extracted, rows_loaded=counts.rows_loaded,
                              rows_quarantined=counts.rows_quarantined, message=result.message)
    except Exception as exc:
        record_failure(engine, config.system, start, end, f"{type(exc).__name__}: {exc}")
        raise
    result.status = "succeeded"
    log.info("source %s batch %s: %s extracted, %s loaded, %s quarantined", config.name,
             result.batch_id, result.rows_extracted, result.rows_loaded, result.rows_quarantined)
    return result


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
