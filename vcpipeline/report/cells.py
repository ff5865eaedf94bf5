"""The cells and tables every report section is drawn with (pure, no I/O).

A figure's cell carries its key (`section:key:column`) and its machine-readable value, which the
page prints as `data-figure` / `data-value`: how the tests read every printed figure back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vcpipeline.report import charts


@dataclass
class Cell:
    text: str
    header: bool = False
    scope: str | None = None
    figure: str | None = None
    value: str | None = None
    numeric: bool = False
    # "n of N" under a share: the two counts it is computed from, each a figure of its own.
    n_of: tuple[Cell, Cell] | None = None
    note: str | None = None  # a small line under the figure, in words
    # ...or made of figures (an interval: lower – upper), each a figure of its own
    note_parts: tuple[Cell, ...] = ()
    note_prefix: str = ""
    prose: bool = False  # a sentence, not a figure: wraps at the table's width
    css: str | None = None  # an extra class (e.g. "lowest")
    marker: str | None = None  # words beside the figure that say what a highlight means


@dataclass
class Table:
    table_id: str
    caption: str
    columns: list[Cell]
    rows: list[list[Cell]] = field(default_factory=list)


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def is_true(value: Any) -> bool:
    """A stored flag: missing (NULL read back as None or NaN) is not true (bool(NaN) would be)."""
    return not is_missing(value) and bool(value)


def data_value(value: Any) -> str:
    """The machine-readable value of a figure: integers exactly, floats unrounded, '' for none."""
    if hasattr(value, "item") and not isinstance(value, int | float):  # numpy scalar
        value = value.item()
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def count_cell(figure: str, value: Any) -> Cell:
    text = "n/a" if is_missing(value) else f"{int(value):,}"
    return Cell(text, figure=figure, value=data_value(None if is_missing(value) else int(value)),
                numeric=True)


def rate_cell(figure: str, value: Any, digits: int = 1, missing: str = "n/a") -> Cell:
    text = missing if is_missing(value) else charts.percent(float(value), digits)
    return Cell(text, figure=figure, value=data_value(value), numeric=True)


def share_cell(prefix: str, rate: Any, part: Any, whole: Any, names: tuple[str, str, str]) -> Cell:
    """A share with the counts under it ("83.3%" over "50 of 60"): figures `prefix:<name>` for
    the rate, the part and the whole (`names`, in that order)."""
    rate_name, part_name, whole_name = names
    cell = rate_cell(f"{prefix}:{rate_name}", rate)
    cell.n_of = (count_cell(f"{prefix}:{part_name}", part), count_cell(f"{prefix}:{whole_name}", whole))
    return cell


def header(text: str, scope: str = "col") -> Cell:
    return Cell(text, header=True, scope=scope)


def row_header(text: str) -> Cell:
    return Cell(text, header=True, scope="row")
