"""Build a force's return from the warehouse, and combine returns into regional tables: what the
CLI and the nightly task call."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from vcpipeline import settings
from vcpipeline.errors import UsageError
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
