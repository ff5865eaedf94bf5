"""A report section built elsewhere (attrition, breakdowns with disclosure control): the hook.

A module that adds a section returns a `Section` from the period's data and is listed in
`ReportData.extra_sections`; the page renders each in order after the automated-vs-survey
comparison (heading, paragraphs, tables, the how-measured note) and the export writes its frame.
A section is responsible for what it publishes (e.g. suppressing small cells before it is built).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from vcpipeline.report.cells import Table


@dataclass(frozen=True)
class Section:
    key: str                      # anchor and export name, e.g. "attrition"
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    how_measured: str = ""
    frame: pd.DataFrame | None = field(default=None, compare=False)  # exported as CSV/Parquet
