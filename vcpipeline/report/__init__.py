"""The compliance report: the board paper, generated from the summary tables.

`build_period_report(warehouse_url, period, out_dir) -> Path` and `periods_due(as_of)` are the
entry points (`run.py`); `data.py` reads, `build.py` renders, `export.py` writes the tables.
Importing this package stays light (no pandas, no SQLAlchemy) for the CLI and DAG parsing.
"""

from __future__ import annotations

from pathlib import Path

from vcpipeline.report.periods import periods_due

__all__ = ["build_period_report", "periods_due"]


def build_period_report(warehouse_url: str | None, period: str, out_dir: Path | str | None = None) -> Path:
    """Write the period's report (and its CSV/Parquet tables) to out_dir; the HTML file's path."""
    from vcpipeline.report.run import build_period_report as build

    return build(warehouse_url, period, out_dir)

