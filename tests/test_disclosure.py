"""Disclosure control: no small count is published, and none can be recovered from the margins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from vcpipeline.disclosure import (
    DEFAULT_THRESHOLD,
    determined_cells,
    disclosure_threshold,
    margin_relations,
    suppression_mask,
    with_margins,
)

K = DEFAULT_THRESHOLD


def total_row_public(shape: tuple[int, int]) -> np.ndarray:
    public = np.zeros(shape, dtype=bool)
    public[-1, :] = True
    return public


def lines(table: np.ndarray):
    """(cells, total) of every row and column of a table with margins."""
    for i in range(table.shape[0]):
        yield (i, slice(None, -1)), (i, -1)
    for j in range(table.shape[1]):
        yield (slice(None, -1), j), (-1, j)


# Counts skewed towards small numbers, as a breakdown's rare categories are.
tables = st.integers(2, 7).flatmap(lambda rows: st.integers(2, 4).flatmap(
    lambda cols: st.lists(st.lists(st.one_of(st.integers(0, 15), st.integers(0, 400)),
                                   min_size=cols, max_size=cols), min_size=rows, max_size=rows)))


def test_a_cell_below_the_threshold_is_suppressed_and_one_beside_it_too():
    table = with_margins(np.array([[3, 50], [40, 60], [30, 20]]))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    assert hidden[0, 0]
    assert hidden[0, 1] or hidden[0, 2]  # the row would give it back otherwise
    assert hidden[1:3, 0].any()  # and so would the column


def test_the_next_smallest_cell_of_the_line_is_the_secondary():
    table = with_margins(np.array([[3, 500, 40], [300, 400, 200], [300, 400, 11]]))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    assert hidden[0, 0] and hidden[0, 2] and not hidden[0, 1]  # 40, not 500


def test_suppressed_cells_of_a_line_together_count_at_least_the_threshold():
    """Two suppressed cells of 2 and 3 would still say 'these total 5' (and two zeros, 'both 0')."""
    table = with_margins(np.array([[2, 3, 500], [400, 400, 400], [300, 300, 300]]))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    row = table[0, :-1][hidden[0, :-1]]
    assert hidden[0, -1] or row.sum() >= K


def test_public_cells_are_never_suppressed():
    table = with_margins(np.array([[1, 2], [3, 4]]))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    assert not hidden[-1].any()
    assert hidden[:-1].all()


def test_determined_cells_finds_a_lone_suppressed_cell_and_a_bridge():
    table = with_margins(np.array([[5, 20, 30], [20, 20, 20], [20, 20, 20]]))
    lone = np.zeros(table.shape, dtype=bool)
    lone[0, 0] = True
    assert determined_cells(margin_relations(table.shape), lone).reshape(table.shape)[0, 0]
    # Two 2x2 cycles joined by one cell: every line holds 0 or 2+ suppressed cells, yet the joining cell is exact.
    joined = np.zeros((5, 5), dtype=bool)
    for cell in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        joined[cell] = True
    found = determined_cells(margin_relations((5, 5)), joined).reshape(5, 5)
    assert found[1, 2] and not found[0, 0]


@settings(max_examples=150)
@given(tables)
def test_no_published_cell_counts_fewer_victims_than_the_threshold(interior):
    table = with_margins(np.array(interior))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    published = table[~hidden & ~total_row_public(table.shape)]
    assert (published >= K).all()


@settings(max_examples=150)
@given(tables)
def test_no_suppressed_cell_follows_from_the_margins(interior):
    """Every linear combination of the row and column relations (the overall total included)
    leaves each suppressed cell free: published total minus published cells never pins one."""
    table = with_margins(np.array(interior))
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    assert not determined_cells(margin_relations(table.shape), hidden).any()
    for cells, total in lines(table):
        inside = hidden[cells]
        if hidden[total] or not inside.any():
            continue
        assert inside.sum() >= 2
        remainder = table[total] - table[cells][~inside].sum()
        assert remainder == table[cells][inside].sum()
        assert remainder >= K or hidden[cells].sum() == (~total_row_public(table.shape)[cells]).sum()


@settings(max_examples=60)
@given(tables)
def test_an_attacker_with_linear_programming_cannot_pin_a_suppressed_cell(interior):
    """Nonnegative counts and every margin: the smallest and largest value a suppressed cell can
    take differ, whenever its table has any slack (all suppressed cells of a cycle non-zero)."""
    table = with_margins(np.array(interior) + 1)  # no zeros: a cycle can always move
    hidden = suppression_mask(table, K, total_row_public(table.shape))
    relations, flat = margin_relations(table.shape), table.ravel().astype(float)
    unknown = np.flatnonzero(hidden.ravel())
    if unknown.size == 0:
        return
    a_eq, b_eq = relations[:, unknown], -relations[:, ~hidden.ravel()] @ flat[~hidden.ravel()]
    for position in range(unknown.size):
        objective = np.zeros(unknown.size)
        objective[position] = 1
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
        high = -linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun
        assert high - low >= 1


def test_the_threshold_is_configurable(monkeypatch):
    monkeypatch.setenv("VCP_DISCLOSURE_THRESHOLD", "5")
    assert disclosure_threshold() == 5
    monkeypatch.setenv("VCP_DISCLOSURE_THRESHOLD", "0")
    with pytest.raises(ValueError, match="at least 1"):
        disclosure_threshold()
    monkeypatch.delenv("VCP_DISCLOSURE_THRESHOLD")
    assert disclosure_threshold() == 10
