"""Produce a period's report: read the warehouse, export the tables, write the page and the index.

`build_period_report` is what the CLI and the Airflow task call; `periods_due` tells the nightly
run which reports are due on a night (a month on the 1st, a quarter too on a quarter's 1st).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from vcpipeline import settings
from vcpipeline.report.periods import Period, parse_period, periods_due

REPORT_PREFIX = "victims-code-"
_REPORT_NAME = re.compile(r"^victims-code-(\d{4}Q[1-4]|\d{4}-\d{2})\.html$")

__all__ = ["build_period_report", "list_reports", "periods_due", "report_stem"]


def report_stem(period: Period) -> str:
    return f"{REPORT_PREFIX}{period.name}"


def data_docs_href(out_dir: Path) -> str:
    """The Data Docs index relative to the report folder (out/data_docs/index.html by default)."""
    docs = (settings.out_dir() / "data_docs" / "index.html").resolve()
    return Path(os.path.relpath(docs, out_dir.resolve())).as_posix()


def build_period_report(warehouse_url: str | None, period: str, out_dir: Path | str | None = None,
                        *, generated_at: datetime | None = None) -> Path:
    """Write `victims-code-<period>.html` (and its CSV/Parquet tables) to `out_dir`
    (default `out/report`) from the warehouse's summary tables; the page's path."""
    from vcpipeline.report.build import render_report
    from vcpipeline.report.data import read_report_data
    from vcpipeline.report.export import export_names, export_tables
    from vcpipeline.warehouse.db import make_engine

    parsed = parse_period(period)
    folder = Path(out_dir) if out_dir is not None else settings.out_dir() / "report"
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(warehouse_url)
    try:
        with engine.connect() as conn, conn.begin():
            data = read_report_data(conn, parsed, generated_at or datetime.now(UTC), data_docs_href(folder))
    finally:
        engine.dispose()
    stem = report_stem(parsed)
    from vcpipeline.report.commentary import commentary_path, read_commentary

    commentary_file = commentary_path(folder, parsed.name)
    data = replace(data, commentary=read_commentary(folder, parsed.name),
                   commentary_file=_shown_path(commentary_file, folder))
    data = replace(data, exports=export_names(stem, data))
    export_tables(data, folder, stem)
    page = folder / f"{stem}.html"
    staging = folder / f".{page.name}.tmp"
    staging.write_text(render_report(data), encoding="utf-8")
    os.replace(staging, page)
    write_index(folder)
    return page


def _shown_path(path: Path, folder: Path) -> str:
    """The commentary file as the page names it: relative to the report folder when inside it."""
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.name


def list_reports(folder: Path) -> list[tuple[str, str]]:
    """(file name, period) of the reports in `folder`, newest period first (quarters after months
    of the same quarter's end)."""
    if not folder.is_dir():
        return []
    found = [(path.name, match.group(1)) for path in folder.iterdir()
             if path.is_file() and (match := _REPORT_NAME.match(path.name))]

    def order(item: tuple[str, str]) -> tuple:
        named = parse_period(item[1])
        return (named.after, named.kind == "quarter")

    return sorted(found, key=order, reverse=True)


def write_index(folder: Path) -> Path:
    """`index.html`: the latest report first, then all of them (for reading the folder offline)."""
    from vcpipeline.report.build import render_index

    entries = [(name, parse_period(period).label) for name, period in list_reports(folder)]
    index = folder / "index.html"
    staging = folder / ".index.html.tmp"
    staging.write_text(render_index(entries, "Victims Code compliance reports"), encoding="utf-8")
    os.replace(staging, index)
    return index
