"""Statistical disclosure control for published counts about who the victims are (pure, no I/O).

A breakdown (victims by age band, sex, ethnicity or disability) is published as a table with
its margins: each category's row sums to its total, each column sums to the table's total row.
A small cell could identify a victim, so a cell counting fewer victims than the threshold is
suppressed (primary). Margins are linear relations, so suppressing that cell alone is not enough:
a published total minus the published cells of its line would give it back. Secondary
suppression therefore adds cells until no suppressed value is determined by the relations:

- in every line (row or column with its total) either nothing is suppressed or at least two
  cells are, and when the line's total is published the suppressed cells of the line together
  count at least the threshold (so what the total reveals, their sum, is not itself a small
  count, and is never 0, which would give away every one of them);
- and, checked exactly by linear algebra (`determined_cells`), no suppressed cell is the
  unique solution of the relations (a 2-way table's suppressed cells must each lie on a cycle,
  which the line rule alone does not guarantee).

Cells already published elsewhere (the table's total row: the force's figures) are `public`:
never chosen for secondary suppression and known to the audit. Secondary cells are the next
smallest in their line, so the least information is withheld.

The same function serves the compliance report and (later) the quarterly return.
"""

from __future__ import annotations

import numpy as np

from vcpipeline import settings

DEFAULT_THRESHOLD = 10
_TOLERANCE = 1e-9


def disclosure_threshold() -> int:
    """The fewest victims a published breakdown cell may count (`VCP_DISCLOSURE_THRESHOLD`,
    default 10)."""
    return settings.positive_whole_number("VCP_DISCLOSURE_THRESHOLD", DEFAULT_THRESHOLD)


def with_margins(interior: np.ndarray) -> np.ndarray:
    """The table with a total column after each row and a total row under it (the grand total
    in the corner): the shape `suppression_mask` protects."""
    interior = np.asarray(interior, dtype=np.int64)
    rows = np.column_stack([interior, interior.sum(axis=1)])
    return np.vstack([rows, rows.sum(axis=0)])


def margin_relations(shape: tuple[int, int]) -> np.ndarray:
    """The linear relations of a table with margins, one per line (row, then column), over its
    cells in row-major order: each line's cells minus its total is 0."""
    n_rows, n_cols = shape
    relations = []
    for i in range(n_rows):
        line = np.zeros(shape)
        line[i, :-1], line[i, -1] = 1, -1
        relations.append(line.ravel())
    for j in range(n_cols):
        line = np.zeros(shape)
        line[:-1, j], line[-1, j] = 1, -1
        relations.append(line.ravel())
    return np.array(relations)


def determined_cells(relations: np.ndarray, suppressed: np.ndarray) -> np.ndarray:
    """Which suppressed cells the relations determine from the published ones (flat mask).

    The suppressed values `u` solve `A_S u = -A_P p`; `u_i` is unique exactly when every
    solution of `A_S v = 0` has `v_i = 0`, i.e. the null space of `A_S` is 0 at `i`.
    """
    suppressed = np.asarray(suppressed, dtype=bool).ravel()
    determined = np.zeros_like(suppressed)
    columns = np.flatnonzero(suppressed)
    if columns.size == 0:
        return determined
    restricted = np.asarray(relations, dtype=float)[:, columns]
    _, singular, vt = np.linalg.svd(restricted, full_matrices=True)
    rank = int((singular > _TOLERANCE * max(1.0, singular.max(initial=0.0))).sum())
    null = vt[rank:]
    free = (np.abs(null) > 1e-7).any(axis=0) if null.size else np.zeros(columns.size, dtype=bool)
    determined[columns] = ~free
    return determined


def _lines(shape: tuple[int, int]) -> list[tuple[np.ndarray, int]]:
    """Each line as (its flat cell indices, the position of its total among them)."""
    n_rows, n_cols = shape
    index = np.arange(n_rows * n_cols).reshape(shape)
    return [(index[i, :], n_cols - 1) for i in range(n_rows)] + [(index[:, j], n_rows - 1) for j in range(n_cols)]


def _line_needs_more(values: np.ndarray, hidden: np.ndarray, total_at: int, threshold: int) -> bool:
    count = int(hidden.sum())
    if count == 0:
        return False
    if count == 1:
        return True
    return not hidden[total_at] and int(values[hidden].sum()) < threshold


def _next_smallest(values: np.ndarray, cells: np.ndarray, hidden: np.ndarray, public: np.ndarray) -> int | None:
    """The smallest cell of `cells` still published and not public (first in order on a tie)."""
    candidates = cells[~hidden[cells] & ~public[cells]]
    if candidates.size == 0:
        return None
    return int(candidates[np.argmin(values[candidates])])


def suppression_mask(table: np.ndarray, threshold: int = DEFAULT_THRESHOLD,
                     public: np.ndarray | None = None) -> np.ndarray:
    """Which cells of a table with margins (`with_margins`) must not be published.

    Primary: every cell below `threshold` that is not `public`. Secondary: see the module; a
    table that cannot be protected (a line whose other cells are all public) keeps what it can.
    """
    values = np.asarray(table, dtype=np.int64)
    shape = values.shape
    flat = values.ravel()
    public_flat = (np.zeros(flat.size, dtype=bool) if public is None
                   else np.asarray(public, dtype=bool).ravel())
    hidden = (flat < threshold) & ~public_flat
    relations = margin_relations(shape)
    lines = _lines(shape)
    while True:
        changed = False
        for cells, total_at in lines:
            while _line_needs_more(flat[cells], hidden[cells], total_at, threshold):
                extra = _next_smallest(flat, cells, hidden, public_flat)
                if extra is None:
                    break
                hidden[extra] = changed = True
        if changed:
            continue
        exposed = np.flatnonzero(determined_cells(relations, hidden))
        for cell in exposed:  # break the chain: hide one more cell beside it
            row, col = divmod(int(cell), shape[1])
            neighbours = np.concatenate([lines[row][0], lines[shape[0] + col][0]])
            extra = _next_smallest(flat, neighbours, hidden, public_flat)
            if extra is not None:
                hidden[extra] = changed = True
                break
        if not changed:
            return hidden.reshape(shape)
