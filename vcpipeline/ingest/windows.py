"""What one batch of a source reads: a watermark window (SQL) or a set of drop files.

Work is keyed on the run's data interval, so a rerun or a backfill of a night reads what that
night read the first time:

- SQL: `[interval_start − look-back, interval_end)` on the source's modified-at column. The
  look-back catches rows that arrive late. When the watermark (the latest modified-at loaded)
  is older than that, nights were missed or failed: the window then starts at the watermark
  less the look-back, so the gap is caught up. The first batch of a source (no succeeded batch
  of an earlier interval) reads everything before `interval_end`.
- Drops: every file whose day has ended by `interval_end` (the date in its name; else its
  arrival time) and that was not processed before with the same content (sha256). A changed
  re-delivery is read again; a file this same batch processed before is read again on a rerun.

The bounds may come straight from Airflow (pendulum DateTimes) or the CLI; each public function
takes them through `instants.utc_instant`, the one conversion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from vcpipeline.instants import LONDON, utc_instant
from vcpipeline.sources.drop_files import DropFile
from vcpipeline.warehouse.schema import load_batches, processed_files, source_watermarks

# The start of the interval of `vcp ingest --all-until`: a batch that reads everything.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FILE_DAY = re.compile(r"_(\d{8})(?:_v\d+)?\.[^.]+$")


@dataclass(frozen=True)
class ExtractionWindow:
    """The watermark bounds a SQL batch reads: `[since, until)`; `since` None = from the start."""

    since: datetime | None
    until: datetime

    @property
    def full(self) -> bool:
        return self.since is None

    def describe(self) -> str:
        since = "the start" if self.since is None else f"{self.since:%Y-%m-%dT%H:%M:%SZ}"
        return f"modified from {since} to {self.until:%Y-%m-%dT%H:%M:%SZ}"


def sql_window(
    interval_start: datetime,
    interval_end: datetime,
    lookback: timedelta,
    *,
    first_batch: bool,
    watermark: datetime | None = None,
) -> ExtractionWindow:
    """The modified-at window of a SQL source's batch for a data interval (see module docstring)."""
    start, end = utc_instant(interval_start, "interval_start"), utc_instant(interval_end, "interval_end")
    if end < start:
        raise ValueError("interval_end is before interval_start")
    if first_batch:
        return ExtractionWindow(since=None, until=end)
    since = start - lookback
    if watermark is not None and utc_instant(watermark, "watermark") < since:
        since = utc_instant(watermark, "watermark") - lookback  # a gap longer than the look-back
    return ExtractionWindow(since=since, until=end)


def file_ready_at(drop: DropFile, local_tz: str = LONDON) -> datetime:
    """When a drop file's rows are complete: the end of the local day in its name.

    `referrals_20260704.csv` (and its `_v2`) hold rows last updated on 4 July, so they are
    complete at local midnight starting 5 July. A name without a date falls back to the file's
    arrival (modification) time.
    """
    match = _FILE_DAY.search(drop.name)
    if match:
        day = datetime.strptime(match.group(1), "%Y%m%d")
        next_day = (day + timedelta(days=1)).replace(tzinfo=ZoneInfo(local_tz))
        return next_day.astimezone(UTC)
    return datetime.fromtimestamp(drop.path.stat().st_mtime, tz=UTC)


@dataclass(frozen=True)
class ProcessedFile:
    content_sha256: str
    batch_id: str


def files_to_process(
    files: Sequence[DropFile],
    interval_end: datetime,
    processed: Mapping[str, ProcessedFile],
    batch_id: str,
) -> list[DropFile]:
    """The drop files a batch reads, in name order (a `_v2` re-delivery after its original)."""
    end = utc_instant(interval_end, "interval_end")
    chosen = []
    for drop in sorted(files, key=lambda f: f.name):
        if file_ready_at(drop) > end:
            continue
        seen = processed.get(drop.name)
        if seen is None or seen.batch_id == batch_id or seen.content_sha256 != drop.sha256:
            chosen.append(drop)
    return chosen


def nightly_intervals(start: datetime, end: datetime, local_tz: str = LONDON
                      ) -> list[tuple[datetime, datetime]]:
    """`[start, end)` cut into local days at start's local wall time (02:00 → 02:00, across DST).

    The last interval is cut short at `end` when the range is not whole days.
    """
    zone = ZoneInfo(local_tz)
    first, last = utc_instant(start, "start"), utc_instant(end, "end")
    local = first.astimezone(zone)
    out = []
    day = 0
    lower = first
    while lower < last:
        day += 1
        upper = min((local + timedelta(days=day)).astimezone(UTC), last)  # wall-clock days
        out.append((lower, upper))
        lower = upper
    return out


# --- bookkeeping read from the warehouse ------------------------------------------------------


def is_first_batch(conn: sa.Connection, source_system: str, interval_start: datetime) -> bool:
    """True when no batch of the source over an earlier interval has succeeded.

    "Earlier" is by interval, not by run time, so a rerun of the first night is a first batch again.
    """
    earlier = conn.execute(
        sa.select(sa.func.count()).select_from(load_batches).where(
            load_batches.c.source_system == source_system,
            load_batches.c.status == "succeeded",
            load_batches.c.interval_start < utc_instant(interval_start, "interval_start"),
        )
    ).scalar_one()
    return earlier == 0


def stored_watermark(conn: sa.Connection, source_system: str) -> datetime | None:
    """The latest modified-at instant a succeeded batch of the source loaded, if any."""
    return conn.execute(
        sa.select(source_watermarks.c.watermark).where(
            source_watermarks.c.source_system == source_system)
    ).scalar_one_or_none()


def processed_manifest(conn: sa.Connection, source_system: str) -> dict[str, ProcessedFile]:
    """The drop files already processed for a source: name → (sha256, batch)."""
    rows = conn.execute(
        sa.select(processed_files.c.file_name, processed_files.c.content_sha256,
                  processed_files.c.batch_id)
        .where(processed_files.c.source_system == source_system)
    ).all()
    return {name: ProcessedFile(sha, batch) for name, sha, batch in rows}


def recent_volumes(conn: sa.Connection, source_system: str, interval_start: datetime,
                   interval_end: datetime, nights: int = 14) -> list[int]:
    """Rows extracted by the source's last incremental batches of the same length, before this one.

    Only batches over earlier intervals count (so a rerun sees the same history) and only
    incremental ones (a first, full extract is no yardstick for a night).
    """
    start, end = utc_instant(interval_start, "interval_start"), utc_instant(interval_end, "interval_end")
    length = end - start
    rows = conn.execute(
        sa.select(load_batches.c.rows_extracted, load_batches.c.interval_start,
                  load_batches.c.interval_end)
        .where(
            load_batches.c.source_system == source_system,
            load_batches.c.status == "succeeded",
            load_batches.c.interval_end <= start,
            load_batches.c.message.like("incremental%"),
        )
        .order_by(load_batches.c.interval_end.desc())
        .limit(nights)
    ).all()
    similar = timedelta(hours=2)  # a night is 23, 24 or 25 hours long
    return [int(count) for count, low, high in rows if abs((high - low) - length) <= similar]
