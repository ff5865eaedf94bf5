"""Compliance summaries of the stored obligations, rebuilt after each evaluation.

- `compliance_daily`: obligations per local due date x department x rule x service level
  (enhanced or standard) by status, and the compliance rate. "Day" is the obligation's due
  date: the last local day on which meeting it was on time (the day before `due_at`).
- `compliance_monthly`, `compliance_quarterly`: the same, rolled up by the due date's period.
- `victim_compliance`: per victim, the board paper's Q1 (compliant when none of its obligations
  is BREACHED or MET_LATE), with the crime report's local date, month and quarter.

Compliance rate = met_on_time / (met_on_time + met_late + breached): the share of *decided*
obligations met on time. PENDING ones are neither a success nor a failure yet, and WAIVED ones
(the victim opted out, RULES.md v2) are not judged, so both are counted on their own but left
out of the rate; with nothing decided the rate is NULL, not 0 or 1. The compliance tables are
keyed by the crime's department and by the obligation's owner (who must meet it), and count
the updates by the victim's agreed method (`agreed_method_compared`, `agreed_method_kept`). It is
defined once in Python (`compliance_rate`, which the summaries and the report use) and once in
SQL (`v_compliance_base`, which the other compliance views select from).

Each night recounts only what the evaluation changed: the due days in `obligation_changed_days`
(one GROUP BY over those days' obligations, by the `due_at` index) and the months and quarters
they fall in, and the victims of the crimes in `obligation_changes`; everything is rebuilt
when most crimes changed (a full evaluation). The reporting views in `sql/` read these tables.

A full rebuild streams its two queries and writes as it reads, `CHUNK_ROWS` rows at a time (the
status counts a few whole due quarters at a time, `whole_quarters`), so memory holds one chunk
however many victims there are (5M: ~0.4 GB).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.calendar import local_dates
from vcpipeline.warehouse.frames import read_frames
from vcpipeline.warehouse.io import insert_rows, read_frame
from vcpipeline.warehouse.schema import (
    compliance_daily,
    compliance_monthly,
    compliance_quarterly,
    obligation_changed_days,
    obligation_changes,
    summary_runs,
    victim_compliance,
)

# The newest reporting views: one SELECT per file, the view named after the file. The migrations
# create them from frozen copies of this text; a test requires the two to agree.
SQL_DIRS: tuple[Path, ...] = (
    Path(__file__).resolve().parents[1] / "sql",  # inside the package, when built into a wheel
    Path(__file__).resolve().parents[2] / "sql",  # the repository's sql/
)
STATUS_COUNTS: dict[str, str] = {
    "MET": "met_on_time", "MET_LATE": "met_late", "BREACHED": "breached", "PENDING": "pending",
    "WAIVED": "waived",
}
# Of the met obligations (these statuses) with an agreed method to compare, those met by it.
MET_STATUSES: tuple[str, ...] = ("MET", "MET_LATE")
AGREED_COLUMNS: tuple[str, ...] = ("agreed_method_compared", "agreed_method_kept")
COUNT_COLUMNS: tuple[str, ...] = ("due", *STATUS_COUNTS.values(), "compliance_rate", *AGREED_COLUMNS)
KEY_COLUMNS: tuple[str, ...] = ("department", "owner", "rule", "enhanced")
# When more than this share of the stored victims changed, rebuild them all in one pass.
FULL_REBUILD_SHARE = 0.25
# Rows of victims or of status counts read (and written) at a time: ~0.2 GB at a time.
CHUNK_ROWS = 200_000


def _sql_dir() -> Path:
    for folder in SQL_DIRS:
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"no sql/ folder with the reporting views in {SQL_DIRS}")


def view_names() -> tuple[str, ...]:
    """The reporting views shipped in `sql/`, in a stable order."""
    return tuple(sorted(path.stem for path in _sql_dir().glob("v_*.sql")))


def view_sql(name: str) -> str:
    """The SELECT behind a reporting view."""
    return (_sql_dir() / f"{name}.sql").read_text(encoding="utf-8").strip().rstrip(";")



# ----------------------------------------------------------------------------- pure functions

def decided_obligations(met_on_time: Any, met_late: Any, breached: Any) -> Any:
    """The obligations a compliance rate is judged on (MET + MET_LATE + BREACHED; WAIVED and
    PENDING are in neither part): counts, Series or arrays alike."""
    return met_on_time + met_late + breached


def compliance_rate(met_on_time: Any, met_late: Any, breached: Any) -> np.ndarray:
    """met_on_time / decided obligations, NaN where nothing is decided: the one Python definition
    of the compliance rate (its SQL twin is the view `v_compliance_base`)."""
    on_time = np.asarray(met_on_time, dtype=float)
    decided = decided_obligations(on_time, np.asarray(met_late, dtype=float), np.asarray(breached, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(decided > 0, on_time / decided, np.nan)


def victim_compliance_rate(compliant: Any, victims: Any) -> np.ndarray:
    """The board paper's Q1 share: compliant victims / victims, NaN where there are no victims."""
    whole = np.asarray(victims, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(whole > 0, np.asarray(compliant, dtype=float) / whole, np.nan)


def periods(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A date array as YYYY-MM-DD, YYYY-MM and YYYYQn text."""
    days = np.asarray(dates, dtype="datetime64[D]")
    months = days.astype("datetime64[M]")
    month_number = months.astype(np.int64) % 12  # 0 = January
    years = months.astype("datetime64[Y]").astype(str)
    quarters = np.char.add(np.char.add(years, "Q"), (month_number // 3 + 1).astype(str))
    return days.astype(str), months.astype(str), quarters


def due_dates_of(due_at: pd.Series) -> np.ndarray:
    """The local due date of each obligation: the local day before `due_at` (a local midnight)."""
    return local_dates(pd.DatetimeIndex(due_at)) - np.timedelta64(1, "D")


def _with_counts(grouped: pd.DataFrame) -> pd.DataFrame:
    """Counts per status as columns (0 where absent), `due` (every status) and the compliance
    rate (WAIVED and PENDING in neither part)."""
    for column in (*STATUS_COUNTS.values(), *AGREED_COLUMNS):
        if column not in grouped:
            grouped[column] = 0
        grouped[column] = grouped[column].fillna(0).astype("int64")
    grouped["due"] = grouped[list(STATUS_COUNTS.values())].sum(axis=1).astype("int64")
    grouped["compliance_rate"] = compliance_rate(
        grouped["met_on_time"], grouped["met_late"], grouped["breached"])
    return grouped


def _agreed_flags(obligations: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per obligation row: 1 where `channel_as_agreed` is not NULL (`compared`), 1 where true."""
    if "channel_as_agreed" not in obligations:
        zeros = np.zeros(len(obligations), dtype=np.int64)
        return {"compared": zeros, "kept": zeros}
    flags = obligations["channel_as_agreed"].astype("boolean")
    return {"compared": flags.notna().to_numpy(dtype=np.int64),
            "kept": flags.fillna(False).to_numpy(dtype=np.int64)}


def daily_compliance(status_counts: pd.DataFrame) -> pd.DataFrame:
    """`compliance_daily` rows from obligation counts by (due_at, department, owner, rule,
    enhanced, status) in column `n`, with `compared` and `kept` (obligations whose
    `channel_as_agreed` is not NULL, true); or from obligation rows themselves when there is no `n`."""
    frame = (status_counts if "n" in status_counts
             else status_counts.assign(n=1, **_agreed_flags(status_counts)))
    if frame.empty:
        return pd.DataFrame(columns=["due_date", *KEY_COLUMNS, "due_month", "due_quarter",
                                     *COUNT_COLUMNS])
    day = due_dates_of(frame["due_at"]).astype(str)
    met = frame["status"].astype(str).isin(MET_STATUSES).to_numpy()
    keyed = pd.DataFrame({
        "due_date": day, "department": frame["department"].astype(str).to_numpy(),
        "owner": frame["owner"].astype(str).to_numpy(),
        "rule": frame["rule"].astype(str).to_numpy(),
        "enhanced": frame["enhanced"].astype(bool).to_numpy(),
        "column": frame["status"].astype(str).map(STATUS_COUNTS).to_numpy(),
        "n": frame["n"].astype("int64").to_numpy(),
        "agreed_method_compared": np.where(met, frame["compared"].astype("int64").to_numpy(), 0),
        "agreed_method_kept": np.where(met, frame["kept"].astype("int64").to_numpy(), 0),
    })
    index = ["due_date", *KEY_COLUMNS]
    wide = keyed.pivot_table(index=index, columns="column", values="n", aggfunc="sum", fill_value=0)
    wide.columns.name = None
    wide = wide.join(keyed.groupby(index, sort=True)[list(AGREED_COLUMNS)].sum())
    daily = _with_counts(wide.reset_index())
    _, daily["due_month"], daily["due_quarter"] = periods(daily["due_date"].to_numpy())
    return daily[["due_date", *KEY_COLUMNS, "due_month", "due_quarter", *COUNT_COLUMNS]]


def rollup(daily: pd.DataFrame, period: str) -> pd.DataFrame:
    """`compliance_monthly` (period `due_month`) or `compliance_quarterly` (`due_quarter`)."""
    counts = [*STATUS_COUNTS.values(), *AGREED_COLUMNS]
    if daily.empty:
        return pd.DataFrame(columns=[period, *KEY_COLUMNS, *COUNT_COLUMNS])
    summed = daily.groupby([period, *KEY_COLUMNS], as_index=False, sort=True)[counts].sum()
    return _with_counts(summed)[[period, *KEY_COLUMNS, *COUNT_COLUMNS]]


def victim_compliance_rows(per_victim: pd.DataFrame) -> pd.DataFrame:
    """`victim_compliance` rows from per-victim status counts and the crime's `reported_at`."""
    frame = per_victim.copy()
    for column in STATUS_COUNTS.values():
        frame[column] = frame[column].astype("int64")
    frame["obligations"] = frame[list(STATUS_COUNTS.values())].sum(axis=1).astype("int64")
    frame["enhanced"] = frame["enhanced"].astype(bool)
    frame["compliant"] = (frame["breached"] == 0) & (frame["met_late"] == 0)
    if len(frame):
        day, month, quarter = periods(local_dates(pd.DatetimeIndex(frame["reported_at"])))
    else:
        day = month = quarter = np.array([], dtype=str)
    frame["report_date"], frame["report_month"], frame["report_quarter"] = day, month, quarter
    return frame[["crime_ref", "victim_id", "department", "enhanced", "report_date",
                  "report_month", "report_quarter", "obligations", *STATUS_COUNTS.values(),
                  "compliant"]]


# ----------------------------------------------------------------------------- warehouse side

_STATUS_COUNTS_SQL = """
SELECT due_at, department, owner, rule, enhanced, status, COUNT(*) AS n,
       SUM(CASE WHEN channel_as_agreed IS NULL THEN 0 ELSE 1 END) AS compared,
       SUM(CASE WHEN channel_as_agreed THEN 1 ELSE 0 END) AS kept
FROM obligations
{changed}
GROUP BY due_at, department, owner, rule, enhanced, status
"""

_PER_VICTIM_SQL = """
SELECT o.crime_ref, o.victim_id, MIN(o.department) AS department,
       MAX(CASE WHEN o.enhanced THEN 1 ELSE 0 END) AS enhanced,
       SUM(CASE WHEN o.status = 'MET' THEN 1 ELSE 0 END) AS met_on_time,
       SUM(CASE WHEN o.status = 'MET_LATE' THEN 1 ELSE 0 END) AS met_late,
       SUM(CASE WHEN o.status = 'BREACHED' THEN 1 ELSE 0 END) AS breached,
       SUM(CASE WHEN o.status = 'PENDING' THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN o.status = 'WAIVED' THEN 1 ELSE 0 END) AS waived,
       MIN(c.reported_at) AS reported_at
FROM {source}
JOIN crimes c ON c.crime_ref = o.crime_ref
{where}
GROUP BY o.crime_ref, o.victim_id
"""
# The changed crimes drive the join (SQLite takes CROSS JOIN as "this order": no history scan).
_CHANGED_FIRST = "obligation_changes ch CROSS JOIN obligations o"


def _load_victims(conn: sa.Connection, *, full: bool, chunk_rows: int) -> int:
    """Rewrite `victim_compliance` (all of it, or the changed crimes' victims), `chunk_rows`
    victims at a time as the query gives them; the rows written."""
    if full:
        conn.execute(sa.delete(victim_compliance))
        sql = _PER_VICTIM_SQL.format(source="obligations o", where="")
    else:
        conn.execute(sa.delete(victim_compliance).where(
            victim_compliance.c.crime_ref.in_(sa.select(obligation_changes.c.crime_ref))))
        sql = _PER_VICTIM_SQL.format(source=_CHANGED_FIRST, where="WHERE o.crime_ref = ch.crime_ref")
    return sum(insert_rows(conn, victim_compliance, victim_compliance_rows(per_victim))
               for per_victim in read_frames(conn, sql, chunk_rows=chunk_rows))


def whole_quarters(chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Status counts in order of `due_at` regrouped so that no chunk splits a due quarter (its
    last quarter's rows wait for the next): a chunk's daily, monthly and quarterly rows are whole."""
    carried: pd.DataFrame | None = None
    for chunk in chunks:
        frame = chunk if carried is None else pd.concat([carried, chunk], ignore_index=True)
        quarters = periods(due_dates_of(frame["due_at"]))[2]
        cut = int(np.argmax(quarters == quarters[-1]))  # the last quarter's first row
        carried = frame.iloc[cut:]
        if cut:
            yield frame.iloc[:cut]
    if carried is not None:
        yield carried


def _load_daily(conn: sa.Connection, *, full: bool, chunk_rows: int) -> int:
    """Recount the daily table (all of it, a few due quarters at a time, or the due days in
    `obligation_changed_days`) and roll the touched months and quarters up; the daily rows."""
    if full:
        for table in (compliance_daily, compliance_monthly, compliance_quarterly):
            conn.execute(sa.delete(table))
        written = 0
        for counts in whole_quarters(read_frames(
                conn, _STATUS_COUNTS_SQL.format(changed="") + "ORDER BY due_at", chunk_rows=chunk_rows)):
            counts["enhanced"] = counts["enhanced"].astype(bool)
            daily = daily_compliance(counts)
            written += insert_rows(conn, compliance_daily, daily)
            insert_rows(conn, compliance_monthly, rollup(daily, "due_month"))
            insert_rows(conn, compliance_quarterly, rollup(daily, "due_quarter"))
        return written
    counts = read_frame(conn, _STATUS_COUNTS_SQL.format(
        changed="WHERE due_at IN (SELECT due_at FROM obligation_changed_days)"))
    days = read_frame(conn, "SELECT due_at FROM obligation_changed_days")
    counts["enhanced"] = counts["enhanced"].astype(bool)
    daily = daily_compliance(counts)
    if days.empty:
        return 0
    dates, months, quarters = (sorted(set(p)) for p in periods(due_dates_of(days["due_at"])))
    conn.execute(sa.delete(compliance_daily).where(compliance_daily.c.due_date.in_(dates)))
    insert_rows(conn, compliance_daily, daily)
    for table, period, touched in ((compliance_monthly, "due_month", months),
                                   (compliance_quarterly, "due_quarter", quarters)):
        rows = read_frame(conn, sa.select(compliance_daily).where(
            compliance_daily.c[period].in_(touched)))
        rows["enhanced"] = rows["enhanced"].astype(bool)
        conn.execute(sa.delete(table).where(table.c[period].in_(touched)))
        insert_rows(conn, table, rollup(rows, period))
    return len(daily)


def load_summaries(engine: sa.Engine, as_of: pd.Timestamp | datetime, *,
                   full_share: float = FULL_REBUILD_SHARE, chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Bring the summary tables up to date with the stored obligations, in one transaction; a
    JSON-able summary. Only changed days and crimes are recounted, unless the changed crimes
    outnumber `full_share` x the stored victims (then, or the first time, all of it), reading
    `chunk_rows` rows at a time (the result does not depend on it)."""
    began = time.perf_counter()
    started_at = datetime.now(UTC)
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # fresh statistics, so the joins start from them
            conn.exec_driver_sql("ANALYZE obligation_changes, obligation_changed_days")
        changed = conn.execute(sa.select(sa.func.count()).select_from(obligation_changes)).scalar_one()
        stored = conn.execute(sa.select(sa.func.count()).select_from(victim_compliance)).scalar_one()
        full = stored == 0 or changed > full_share * stored
        daily_rows = _load_daily(conn, full=full, chunk_rows=chunk_rows)
        written = _load_victims(conn, full=full, chunk_rows=chunk_rows)
        conn.execute(sa.delete(obligation_changes))
        conn.execute(sa.delete(obligation_changed_days))

        summary = {
            "as_of": as_of.isoformat(), "mode": "full" if full else "incremental",
            "crimes_changed": int(changed), "daily_rows": int(daily_rows),
            "victim_rows_written": int(written),
        }
        exists = conn.execute(sa.select(summary_runs.c.as_of).where(
            summary_runs.c.as_of == as_of.to_pydatetime())).first()
        took = time.perf_counter() - began
        if exists is None:
            conn.execute(summary_runs.insert().values(
                **{k: v for k, v in summary.items() if k != "as_of"}, as_of=as_of.to_pydatetime(),
                total_seconds=took, started_at=started_at, finished_at=datetime.now(UTC)))
    victims = force_victim_compliance(engine)
    return {**summary, **victims, "total_seconds": round(time.perf_counter() - began, 3)}


def force_victim_compliance(engine: sa.Engine) -> dict[str, Any]:
    """Force-wide Q1: victims, compliant victims and their share (for the run's summary)."""
    table = victim_compliance
    with engine.connect() as conn:
        victims, compliant = conn.execute(sa.select(
            sa.func.count(), sa.func.sum(sa.case((table.c.compliant, 1), else_=0)))).one()
    victims, compliant = int(victims or 0), int(compliant or 0)
    return {"victims": victims, "victims_compliant": compliant,
            "victim_compliance_rate": round(float(victim_compliance_rate(compliant, victims)), 6)
            if victims else None}
