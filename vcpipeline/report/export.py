"""The report's tables as CSV and Parquet beside it, for analysts who want the numbers.

One file pair per section (`<stem>-data/<section>.csv|.parquet`), each row stamped with the
period. The same frames the page shows, so a figure in the page and the file always agree.
Files are written to a temporary name and renamed: a reader never sees half a file.
People open these files in spreadsheets, so text that could read as a formula (a team or
source name from a source system starting with `=`) is written with a leading `'`
(`textsafety`); numbers stay numbers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from vcpipeline.report.model import ReportData
from vcpipeline.textsafety import formula_safe_frame

SECTIONS: tuple[str, ...] = (
    "overall", "by_rule", "by_department", "by_owner", "agreed_method", "trend", "enhanced", "victims",
    "teams", "survey", "loads", "quarantine",
)
FORMATS: tuple[str, ...] = ("csv", "parquet")


def data_folder_name(stem: str) -> str:
    return f"{stem}-data"


def _sections(data: ReportData) -> list[str]:
    """The built-in sections, then the hooked ones (`ReportData.extra_sections`) with a frame."""
    extra = [s.key for s in data.extra_sections if getattr(s, "frame", None) is not None]
    return [*SECTIONS, "owner_rule", "headline", *extra]


def export_names(stem: str, data: ReportData) -> tuple[str, ...]:
    """The relative paths the export writes (links for the page), in section order."""
    return tuple(f"{data_folder_name(stem)}/{section}.{fmt}"
                 for section in _sections(data) if section_frame(data, section) is not None for fmt in FORMATS)


def _frame_of(data: ReportData, section: str) -> pd.DataFrame | None:
    if section == "owner_rule":
        return data.by_owner_and_rule
    if section == "headline":
        from vcpipeline.report.headline import headline_rows

        return headline_rows(data)
    if section in SECTIONS:
        return getattr(data, section)
    return next((s.frame for s in data.extra_sections if s.key == section), None)


def section_frame(data: ReportData, section: str) -> pd.DataFrame | None:
    """A section's frame with the period first; None for a section without data (no survey)."""
    frame = _frame_of(data, section)
    if frame is None:
        return None
    frame = frame.reset_index(drop=True).copy()
    frame.insert(0, "period", data.period.name)
    for name in frame.columns:  # Parquet wants one type per column: text stays text
        if frame[name].dtype == object:
            frame[name] = frame[name].astype("string")
    return frame


def _replace(path: Path, write) -> None:
    staging = path.with_name(f".{path.name}.tmp")
    write(staging)
    os.replace(staging, path)


def export_tables(data: ReportData, folder: Path, stem: str) -> list[Path]:
    """Write every section's CSV and Parquet under `folder/<stem>-data/`; the paths written.

    The folder is rebuilt whole: written beside it, then swapped in, so a file of an earlier
    build (a section since dropped, a survey since withdrawn) never outlives the page that
    linked it, and a reader sees the old folder or the new one, never a mixture.
    """
    final = folder / data_folder_name(stem)
    target = folder / f".{data_folder_name(stem)}.new"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written: list[Path] = []
    for section in _sections(data):
        frame = section_frame(data, section)
        if frame is None:
            continue
        frame = formula_safe_frame(frame)
        csv_path, parquet_path = target / f"{section}.csv", target / f"{section}.parquet"
        _replace(csv_path, lambda p, f=frame: f.to_csv(p, index=False, lineterminator="\n"))
        _replace(parquet_path, lambda p, f=frame: f.to_parquet(p, index=False))
        written += [final / csv_path.name, final / parquet_path.name]
    old = folder / f".{data_folder_name(stem)}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(target, final)
    shutil.rmtree(old, ignore_errors=True)
    return written
