"""Demo reviewers: fill in the worksheets as reviewers would, so the demo can run the ingest.

A simulated reviewer mostly agrees with the automated finding (on the worksheet's findings sheet)
(90% by default) and sometimes does not: Yes and No swap, N/A becomes Yes or No. Where the
pipeline has no finding (Q2 good service, a pending obligation, VPS use unknown) the reviewer
judges: Q2 is Yes 85% of the time, the others Yes 70%, No 10%, No data 20%. A share of crimes can
be left unreviewed (`response_rate`) to exercise partial returns.

Every draw is a permanent random number of (seed, question, crime_ref) (`selection.py`), so the
same seed gives the same answers whatever the order of rows or files, and the returned files
keep the worksheets' deterministic bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vcpipeline.sampling.questions import FINDING_ANSWERS, FINDING_CODES
from vcpipeline.sampling.selection import permanent_random_numbers
from vcpipeline.sampling.survey import NO, NO_DATA, NOT_APPLICABLE, YES
from vcpipeline.sampling.worksheets import (
    FINDINGS_SHEET,
    META_SHEET,
    REVIEW_SHEET,
    answer_columns,
    finding_header,
    findings_header,
    reviewer_columns,
    workbook_bytes,
)

DEFAULT_AGREEMENT = 0.9


def _uniform(refs: pd.Series, seed: str, purpose: str) -> np.ndarray:
    return permanent_random_numbers(refs, f"{seed}\x1f{purpose}")


def simulated_answers(refs: pd.Series, findings: pd.Series, question: str, seed: str,
                      agreement_rate: float = DEFAULT_AGREEMENT) -> np.ndarray:
    """One reviewer answer per crime for a question, given the findings shown (module docstring)."""
    automated = findings.map(FINDING_ANSWERS).fillna(NO_DATA).to_numpy(dtype=object)
    agree = _uniform(refs, seed, f"{question}\x1fagree") < agreement_rate
    pick = _uniform(refs, seed, f"{question}\x1fpick")
    disagree = np.select([automated == YES, automated == NO, automated == NOT_APPLICABLE],
                         [NO, YES, np.where(pick < 0.5, YES, NO)], default=NO_DATA)
    if question == "Q2":
        judged = np.where(pick < 0.85, YES, NO)
    else:
        judged = np.select([pick < 0.7, pick < 0.8], [YES, NO], default=NO_DATA)
    return np.where(automated == NO_DATA, judged, np.where(agree, automated, disagree))


DEMO_REVIEWER = ("Demo Reviewer", "Inspector")


def fill_worksheet(source: Path, target: Path, seed: str, agreement_rate: float = DEFAULT_AGREEMENT,
                   response_rate: float = 1.0, reviewer: tuple[str, str] = DEMO_REVIEWER) -> int:
    """Answer one worksheet into `target`; return how many crimes were reviewed.

    The simulated reviewer reads the hidden findings sheet (a real one opens it after answering),
    and signs every answered row with `reviewer` (name, rank) and the worksheet's first review day.
    """
    from datetime import date

    from openpyxl import load_workbook

    workbook = load_workbook(source)
    sheet = workbook[REVIEW_SHEET]
    shown = workbook[FINDINGS_SHEET]
    last = sheet.max_row
    if last < 2:
        target.write_bytes(source.read_bytes())
        return 0

    def column(table, index: int) -> pd.Series:
        return pd.Series([table.cell(row=row, column=index).value or "" for row in range(2, last + 1)],
                         dtype="str")

    refs = column(sheet, 1)
    by_ref = column(shown, 1)
    meta = {key: value for key, value, *_ in workbook[META_SHEET].iter_rows(values_only=True)}
    reviewed_on = date.fromisoformat(str(meta["review_from"]))
    responding = _uniform(refs, seed, "respond") < response_rate
    identity = reviewer_columns()
    for question, answer_column in answer_columns().items():
        texts = column(shown, findings_header().index(finding_header(question)) + 1)
        findings = pd.Series(texts.map(FINDING_CODES).fillna(NO_DATA).to_numpy(), index=by_ref).reindex(refs)
        answers = simulated_answers(refs, findings.reset_index(drop=True), question, seed, agreement_rate)
        for offset in np.flatnonzero(responding):
            sheet.cell(row=int(offset) + 2, column=answer_column, value=str(answers[offset]))
    for offset in np.flatnonzero(responding):
        sheet.cell(row=int(offset) + 2, column=identity["name"], value=reviewer[0])
        sheet.cell(row=int(offset) + 2, column=identity["rank"], value=reviewer[1])
        sheet.cell(row=int(offset) + 2, column=identity["date"], value=reviewed_on)
    created = workbook.properties.created
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(workbook_bytes(workbook, created))
    return int(responding.sum())


def simulate_returns(worksheets: Sequence[Path], returns_folder: Path, seed: str = "demo-reviewers",
                     agreement_rate: float = DEFAULT_AGREEMENT, response_rate: float = 1.0) -> list[Path]:
    """Fill in each worksheet as a demo reviewer would; write them, same names, to `returns_folder`."""
    written = []
    for source in sorted(Path(path) for path in worksheets):
        target = returns_folder / source.name
        fill_worksheet(source, target, seed, agreement_rate, response_rate)
        written.append(target)
    return written

