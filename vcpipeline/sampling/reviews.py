"""Ingest the returned reviewer worksheets: validate every row, load the good ones, report the rest.

A worksheet as a whole is refused when it is not ours or has been altered where it must not be:
no hidden `_vcp` sheet, another sample or an earlier draw of this one, a header row that differs
from the format, or a hidden checksum that does not match (`worksheets.py`). One error line at
row 1 says why, and none of its rows load: with the columns in doubt, no answer can be trusted.

Within an accepted worksheet each row is checked on its own and a bad row never stops the good:

- `missing crime_ref`: answers on a row without a crime reference;
- `unknown crime_ref`: a reference the warehouse has never seen (a typo, most likely);
- `not in sample`: a real crime, but not one sampled for this quarter;
- `duplicate row`: the same crime on two rows of one worksheet (every such row is refused, since
  nothing says which is meant);
- `invalid answer`: anything but Yes, No, N/A or No data (any case) in an answer cell;
- `missing reviewer`: answers without the reviewer's name, rank and review date (the audit
  trail: an answer nobody owns is not loaded);
- `invalid reviewer`: a rank not on the worksheet's list, a name over 100 characters, or a review
  date that is no date or outside the worksheet's review window.

Blank answer cells are simply not answered yet (partial returns are fine), so a row with no answers
loads nothing and is no error. A loaded answer replaces any earlier answer to the same crime and
question (a re-submitted worksheet wins); across the files of one call, the later file wins.
Comments are never loaded: free text may name people, and the returned file remains the record.
The reviewer's name, rank, review date and whether the rank meets the board's standard are kept
per crime in `sample_reviewers` (staff data); the survey results count ranks, never names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.sampling.questions import QUESTION_IDS
from vcpipeline.sampling.store import read_sample, transaction
from vcpipeline.sampling.survey import ANSWERS
from vcpipeline.sampling.worksheets import (
    FORMAT,
    RANKS_AT_STANDARD,
    REVIEWER_NAME_LIMIT,
    REVIEWER_RANKS,
    WorksheetContent,
    answer_columns,
    header_checksum,
    read_worksheet,
    reviewer_columns,
    worksheet_header,
)
from vcpipeline.textsafety import formula_safe_frame
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import crimes, sample_crimes, sample_reviewers, sample_reviews

ERROR_COLUMNS: tuple[str, ...] = ("file", "row", "crime_ref", "kind", "problem")
ANSWER_COLUMNS: tuple[str, ...] = ("crime_ref", "question", "answer")
UNREADABLE, TAMPERED_HEADER, WRONG_SAMPLE = "unreadable file", "tampered header", "wrong sample"
MISSING_CRIME_REF, UNKNOWN_CRIME, NOT_IN_SAMPLE = "missing crime_ref", "unknown crime_ref", "not in sample"
DUPLICATE_ROW, INVALID_ANSWER = "duplicate row", "invalid answer"
MISSING_REVIEWER, INVALID_REVIEWER = "missing reviewer", "invalid reviewer"
REVIEWER_COLUMNS: tuple[str, ...] = ("crime_ref", "reviewer_name", "reviewer_rank", "reviewed_on")
_RANK_SPELLINGS = {rank.lower(): rank for rank in REVIEWER_RANKS}
_ANSWER_SPELLINGS = {answer.lower(): answer for answer in ANSWERS}
_EXPECTED = ", ".join(ANSWERS[:-1]) + " or " + ANSWERS[-1]


@dataclass(frozen=True)
class IngestReport:
    """What one ingest call did: counts, and one line per refused file or row."""

    sample_id: str
    files: int
    files_rejected: int
    rows_loaded: int      # rows with at least one answer loaded (each with its reviewer)
    answers_loaded: int   # (crime, question) answers written
    errors: pd.DataFrame  # ERROR_COLUMNS, sorted by file, row

    def write_errors(self, path: Path) -> None:
        """The error report as CSV (header only when clean); reviewers open it in a spreadsheet,
        so text that could read as a formula is marked as text (`textsafety`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        formula_safe_frame(self.errors).to_csv(path, index=False, lineterminator="\n")

    def summary(self) -> str:
        return (f"{self.sample_id}: {self.files} worksheet(s), {self.files_rejected} refused; "
                f"{self.rows_loaded} row(s) with {self.answers_loaded} answer(s) loaded; "
                f"{len(self.errors)} problem(s)")


def _errors(file: str, rows: pd.Series, refs: pd.Series, kind: str, problems: pd.Series | str) -> pd.DataFrame:
    return pd.DataFrame({"file": file, "row": rows.to_numpy(dtype="int64"), "crime_ref": refs.to_numpy(),
                         "kind": kind, "problem": problems if isinstance(problems, str) else problems.to_numpy()})


def _no_errors() -> pd.DataFrame:
    return pd.DataFrame({"file": pd.Series(dtype="str"), "row": pd.Series(dtype="int64"),
                         "crime_ref": pd.Series(dtype="str"), "kind": pd.Series(dtype="str"),
                         "problem": pd.Series(dtype="str")})


def worksheet_problem(content: WorksheetContent, sample_id: str, population_hash: str) -> tuple[str, str] | None:
    """(kind, problem) when the worksheet as a whole cannot be trusted for this sample; else None."""
    meta = content.meta
    if meta.get("format") != FORMAT:
        if meta.get("format", "").startswith(FORMAT.rsplit("/", 1)[0] + "/"):
            return WRONG_SAMPLE, (f"a worksheet of an earlier format ({meta['format']}, now {FORMAT}): "
                                  "write and send the current one")
        return TAMPERED_HEADER, "the hidden _vcp sheet is missing or altered: not a dip-sample worksheet from vcp"
    if meta.get("sample_id") != sample_id:
        return WRONG_SAMPLE, f"worksheet of sample {meta.get('sample_id')!r}, not {sample_id!r}"
    if meta.get("population_hash") != population_hash:
        return WRONG_SAMPLE, f"worksheet from an earlier draw of sample {sample_id}: write and send the current one"
    expected = worksheet_header()
    window = tuple(meta.get(key, "") for key in ("deadline", "review_from", "review_to"))
    if meta.get("header_sha256") != header_checksum(sample_id, meta.get("department", ""), population_hash,
                                                    expected, window):
        return TAMPERED_HEADER, "the hidden header checksum does not match"
    if content.header != expected:
        for position, wanted in enumerate(expected):
            found = content.header[position] if position < len(content.header) else ""
            if found != wanted:
                return TAMPERED_HEADER, f"column {position + 1} reads {found!r}, expected {wanted!r}"
        return TAMPERED_HEADER, f"{len(content.header) - len(expected)} column(s) added after {expected[-1]!r}"
    return None


def returned_rows(content: WorksheetContent) -> pd.DataFrame:
    """A worksheet's rows as `row`, `crime_ref`, one raw answer column per question and the
    reviewer's raw `reviewer_name`, `reviewer_rank` and `reviewed_on`."""
    frame = pd.DataFrame({"row": content.rows["row"], "crime_ref": content.rows[0]})
    for question, column in answer_columns().items():
        frame[question] = content.rows[column - 1]
    for name, column in zip(REVIEWER_COLUMNS[1:], reviewer_columns().values(), strict=True):
        frame[name] = content.rows[column - 1]
    return frame


def review_dates_window(content: WorksheetContent) -> tuple[date, date] | None:
    """The review dates a worksheet accepts (its hidden sheet, covered by the checksum)."""
    try:
        return (date.fromisoformat(content.meta["review_from"]), date.fromisoformat(content.meta["review_to"]))
    except (KeyError, ValueError):
        return None


def _reviewer_problems(rows: pd.DataFrame, window: tuple[date, date] | None) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """(missing: no name, rank or date; invalid: the problem in words, '' when none; the reviewer
    columns normalised: rank as listed, reviewed_on a date)."""
    name, rank, day = (rows[column].fillna("") for column in REVIEWER_COLUMNS[1:])
    missing = name.eq("") | rank.eq("") | day.eq("")
    listed = rank.str.lower().map(_RANK_SPELLINGS)
    parsed = pd.to_datetime(day.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    inside = parsed.notna()
    if window is not None:
        inside &= parsed.between(pd.Timestamp(window[0]), pd.Timestamp(window[1]))
    span = "" if window is None else f" from {window[0].isoformat()} to {window[1].isoformat()}"
    problems = pd.concat([
        pd.Series(np.where(rank.ne("") & listed.isna(), "rank " + rank.map(repr) + " is not on the list", ""),
                  index=rows.index),
        pd.Series(np.where(name.str.len() > REVIEWER_NAME_LIMIT, f"name over {REVIEWER_NAME_LIMIT} characters", ""),
                  index=rows.index),
        pd.Series(np.where(day.ne("") & ~inside, "reviewed on " + day.map(repr) + f" is not a date{span}", ""),
                  index=rows.index),
    ], axis=1).apply(lambda parts: "; ".join(part for part in parts if part), axis=1)
    normal = pd.DataFrame({"crime_ref": rows["crime_ref"], "reviewer_name": name, "reviewer_rank": listed,
                           "reviewed_on": parsed.dt.date})
    return missing, problems.astype("str").where(~missing, ""), normal


def validate_rows(rows: pd.DataFrame, file: str, sampled: pd.Index, known: pd.Index,
                  window: tuple[date, date] | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(answers: ANSWER_COLUMNS of the good rows, errors: ERROR_COLUMNS, reviewers:
    REVIEWER_COLUMNS of the good rows) for one worksheet's rows.

    `rows` is `returned_rows` output; `sampled` the sample's crime refs; `known` every other crime
    ref the warehouse knows (to tell a typo from a crime of another sample or quarter); `window`
    the review dates accepted (None: any date).
    """
    raw = rows[list(QUESTION_IDS)]
    answered = raw.ne("")
    blank = ~answered.any(axis=1) & rows["crime_ref"].eq("")
    rows, raw, answered = rows[~blank], raw[~blank], answered[~blank]
    normal = raw.apply(lambda column: column.str.lower().map(_ANSWER_SPELLINGS))
    invalid = answered & normal.isna()
    refs = rows["crime_ref"]
    missing = refs.eq("") & answered.any(axis=1)
    present = refs.ne("")
    outside = present & ~refs.isin(sampled)
    duplicate = present & refs.duplicated(keep=False)
    bad_answer = invalid.any(axis=1)
    no_reviewer, reviewer_problem, reviewers = _reviewer_problems(rows, window)
    judged = answered.any(axis=1) & present & ~(outside | duplicate)  # those reported already stay so
    no_reviewer &= judged
    bad_reviewer = reviewer_problem.ne("") & judged

    found: list[pd.DataFrame] = []
    if missing.any():
        found.append(_errors(file, rows["row"][missing], refs[missing], MISSING_CRIME_REF,
                             "answers on a row without a crime reference"))
    if outside.any():
        is_known = refs[outside].isin(known)
        found.append(_errors(file, rows["row"][outside], refs[outside], "",
                             pd.Series(np.where(is_known, "crime is not in this sample",
                                                "no such crime in the warehouse"), index=is_known.index)
                             ).assign(kind=np.where(is_known, NOT_IN_SAMPLE, UNKNOWN_CRIME)))
    if duplicate.any():
        where = rows["row"][duplicate].astype("str").groupby(refs[duplicate]).agg(", ".join)
        found.append(_errors(file, rows["row"][duplicate], refs[duplicate], DUPLICATE_ROW,
                             "the crime appears on rows " + refs[duplicate].map(where)
                             + " of this worksheet; none of them loaded"))
    if bad_answer.any():
        cells = raw[bad_answer].where(invalid[bad_answer])
        described = cells.apply(lambda row: "; ".join(f"{question} {value!r}" for question, value
                                                      in row.dropna().items()), axis=1)
        found.append(_errors(file, rows["row"][bad_answer], refs[bad_answer], INVALID_ANSWER,
                             described + f" (expected {_EXPECTED})"))
    if no_reviewer.any():
        found.append(_errors(file, rows["row"][no_reviewer], refs[no_reviewer], MISSING_REVIEWER,
                             "answers without the reviewer's name, rank and review date; not loaded"))
    if bad_reviewer.any():
        found.append(_errors(file, rows["row"][bad_reviewer], refs[bad_reviewer], INVALID_REVIEWER,
                             reviewer_problem[bad_reviewer] + "; not loaded"))
    good = ~(missing | outside | duplicate | bad_answer | no_reviewer | bad_reviewer) & present
    answers = (normal[good].assign(crime_ref=refs[good])
               .melt(id_vars="crime_ref", var_name="question", value_name="answer")
               .dropna(subset=["answer"]))
    errors = pd.concat(found, ignore_index=True) if found else _no_errors()
    reviewers = reviewers[good & answered.any(axis=1)]
    return (answers[list(ANSWER_COLUMNS)].reset_index(drop=True), errors,
            reviewers[list(REVIEWER_COLUMNS)].reset_index(drop=True))


def _known_crimes(conn: sa.Connection, refs: list[str]) -> pd.Index:
    """Which of `refs` the warehouse knows as crimes or as crimes of any sample."""
    if not refs:
        return pd.Index([], dtype="str")
    found = pd.concat([
        read_frame(conn, sa.select(crimes.c.crime_ref).where(crimes.c.crime_ref.in_(refs)))["crime_ref"],
        read_frame(conn, sa.select(sample_crimes.c.crime_ref).where(sample_crimes.c.crime_ref.in_(refs)))["crime_ref"],
    ])
    return pd.Index(found.astype("str").unique())


def upsert_answers(conn: sa.Connection, sample_id: str, answers: pd.DataFrame, ingested_at: datetime) -> int:
    """Write answers (ANSWER_COLUMNS + source_file), each replacing the same crime and question's."""
    if answers.empty:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(sample_reviews)
    statement = statement.on_conflict_do_update(
        index_elements=["sample_id", "crime_ref", "question"],
        set_={name: statement.excluded[name] for name in ("answer", "source_file", "ingested_at")},
    )
    conn.execute(statement, [{"sample_id": sample_id, "ingested_at": ingested_at, **row}
                             for row in answers.to_dict(orient="records")])
    return len(answers)


def upsert_reviewers(conn: sa.Connection, sample_id: str, reviewers: pd.DataFrame, ingested_at: datetime) -> int:
    """Write each answered crime's reviewer (REVIEWER_COLUMNS + source_file, worksheet_format),
    replacing the crime's earlier one; whether the rank meets the standard is derived here."""
    if reviewers.empty:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(sample_reviewers)
    columns = ("reviewer_name", "reviewer_rank", "at_required_rank", "reviewed_on", "worksheet_format",
               "source_file", "ingested_at")
    statement = statement.on_conflict_do_update(index_elements=["sample_id", "crime_ref"],
                                                set_={name: statement.excluded[name] for name in columns})
    rows = reviewers.assign(at_required_rank=reviewers["reviewer_rank"].isin(RANKS_AT_STANDARD))
    conn.execute(statement, [{"sample_id": sample_id, "ingested_at": ingested_at, **row}
                             for row in rows.to_dict(orient="records")])
    return len(rows)


def ingest_returns(engine_or_conn: Engine | sa.Connection, sample_id: str, files: Sequence[Path],
                   ingested_at: datetime | None = None) -> IngestReport:
    """Validate returned worksheets of a stored sample and load their good answers (module docstring).

    Raises LookupError when the sample is not in the warehouse; everything else is reported.
    """
    ingested_at = ingested_at or datetime.now(UTC)
    with transaction(engine_or_conn) as conn:
        record = read_sample(conn, sample_id)
        sampled = pd.Index(record.crimes["crime_ref"].astype("str"))
        found: list[pd.DataFrame] = []
        loaded: list[pd.DataFrame] = []
        identities: list[pd.DataFrame] = []
        rejected = 0
        for path in files:
            file = Path(path).name
            try:
                content = read_worksheet(Path(path))
            except ValueError as exc:
                found.append(_errors(file, pd.Series([1]), pd.Series([""]), UNREADABLE, str(exc)))
                rejected += 1
                continue
            problem = worksheet_problem(content, sample_id, record.header["population_hash"])
            if problem is not None:
                found.append(_errors(file, pd.Series([1]), pd.Series([""]), *problem))
                rejected += 1
                continue
            rows = returned_rows(content)
            outside = rows["crime_ref"][(rows["crime_ref"] != "") & ~rows["crime_ref"].isin(sampled)]
            answers, errors, reviewers = validate_rows(rows, file, sampled, _known_crimes(conn, sorted(set(outside))),
                                                       review_dates_window(content))
            found.append(errors)
            loaded.append(answers.assign(source_file=file))
            identities.append(reviewers.assign(source_file=file, worksheet_format=content.meta["format"]))
        answers = pd.concat(loaded, ignore_index=True) if loaded else pd.DataFrame(
            columns=[*ANSWER_COLUMNS, "source_file"])
        answers = answers.drop_duplicates(["crime_ref", "question"], keep="last")
        count = upsert_answers(conn, sample_id, answers, ingested_at)
        if identities:
            upsert_reviewers(conn, sample_id, pd.concat(identities, ignore_index=True)
                             .drop_duplicates("crime_ref", keep="last"), ingested_at)
    errors = pd.concat([_no_errors(), *found], ignore_index=True)
    errors = errors.sort_values(["file", "row", "kind"], kind="stable", ignore_index=True)
    return IngestReport(sample_id, len(files), rejected, int(answers["crime_ref"].nunique()), count, errors)
