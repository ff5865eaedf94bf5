"""Build a force's return from the warehouse, and combine returns into regional tables: what the
CLI and the nightly task call."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from vcpipeline import settings
from vcpipeline.calendar import LONDON, next_working_day
from vcpipeline.errors import UsageError
from vcpipeline.instants import utc_instant
from vcpipeline.periods import PeriodError, parse_period
from vcpipeline.returns.table import FORCE_CODE


def force_code(given: str | None = None) -> str:
    """The force's code: `given` (--force), else `VCP_FORCE_CODE`; upper case letters, digits, - and _."""
    code = (given or os.environ.get("VCP_FORCE_CODE", "")).strip()
    if not code:
        raise UsageError("no force code: pass --force or set VCP_FORCE_CODE")
    if not FORCE_CODE.fullmatch(code):
        raise UsageError(f"force code {code!r} must be upper case letters, digits, - or _ (at most 32)")
    return code


def returns_dir() -> Path:
    return settings.out_dir() / "returns"


def build_return(warehouse_url: str | None, quarter: str, force: str,
                 out_dir: Path | str | None = None) -> Path:
    """Write the force's return for `quarter`; the manifest's path."""
    from vcpipeline.returns.build import read_return
    from vcpipeline.returns.files import write_return
    from vcpipeline.warehouse.db import make_engine

    try:
        period = parse_period(quarter)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    if period.kind != "quarter":
        raise UsageError(f"a return is for a quarter (e.g. 2026Q3), not {quarter!r}")
    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn, conn.begin():
            frame = read_return(conn, period, force)
    finally:
        engine.dispose()
    return write_return(frame, Path(out_dir) if out_dir is not None else returns_dir(), force, period.name)


def combine_files(paths: Sequence[Path], out_dir: Path) -> Path:
    """Verify every return, refuse a mixture, write `combined-<quarter>.csv` and `.html`; the page's path.

    Raises ReturnError (one line) on the first return that cannot be trusted."""
    from vcpipeline.returns.combine import check_combinable, combine_returns
    from vcpipeline.returns.files import csv_bytes_of, read_manifest, verify_return
    from vcpipeline.returns.page import combined_page

    manifests = [read_manifest(Path(p)) for p in paths]
    check_combinable(manifests, [Path(p).name for p in paths])
    verified = [verify_return(Path(p)) for p in paths]
    combined = combine_returns([v.rows for v in verified])
    quarter = verified[0].manifest["quarter"]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"combined-{quarter}.csv").write_bytes(csv_bytes_of(combined))
    page = out_dir / f"combined-{quarter}.html"
    page.write_text(combined_page(combined, [v.manifest for v in verified]), encoding="utf-8")
    return page


def quarter_ended_on(day: date) -> str | None:
    """The quarter just ended when `day` (a local date) is the first working day after it, else None."""
    start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    first = next_working_day(np.array([start - timedelta(days=1)], dtype="datetime64[D]"))[0].astype(date)
    if day != first:
        return None
    ended = start - timedelta(days=1)
    return f"{ended.year}Q{(ended.month - 1) // 3 + 1}"


def returns_due(as_of: datetime, warehouse_url: str | None, force: str, folder: Path) -> list[str]:
    """The quarters whose return is due on the night of `as_of`: the quarter just ended on the
    first working day after it (its own dip sample is drawn that day, so the return carries the
    latest published survey), and again, as the next issue, on the night its own survey is first
    published (the latest issue carries an earlier survey)."""
    from vcpipeline.returns.build import latest_survey_quarter
    from vcpipeline.returns.files import MANIFEST, PREFIX
    from vcpipeline.warehouse.db import make_engine

    today = utc_instant(as_of, "as_of").astimezone(ZoneInfo(LONDON)).date()
    ended = quarter_ended_on(today)
    if ended is not None:
        return [ended]
    before = date(today.year, (today.month - 1) // 3 * 3 + 1, 1) - timedelta(days=1)
    quarter = f"{before.year}Q{(before.month - 1) // 3 + 1}"
    issues = sorted(folder.glob(f"{PREFIX}{force}-{quarter}-v*{MANIFEST}"),
                    key=lambda p: int(p.name.removesuffix(MANIFEST).rsplit("-v", 1)[1]))
    if not issues or json.loads(issues[-1].read_text(encoding="utf-8")).get("survey_quarter") == quarter:
        return []
    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            published = latest_survey_quarter(conn, quarter)
    finally:
        engine.dispose()
    return [quarter] if published == quarter else []
