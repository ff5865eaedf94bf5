"""Who did a quarter's reviews, by rank against the board's standard (an Inspector or police staff
equivalent or above), never by name, and how the automated findings were shown to them: the
lines the published survey results carry beside the board table (`results.render_markdown`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.sampling.layout import (
    EARLIER_FINDINGS_DESIGN,
    FINDINGS_DESIGN,
    FORMAT,
    REVIEW_STANDARD,
)
from vcpipeline.sampling.store import sample_id_for, transaction
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import sample_reviewers, sample_reviews


@dataclass(frozen=True)
class ReviewerStandard:
    """Who did a quarter's reviews, by rank (never by name), and how findings were shown."""

    reviewed: int        # sampled crimes with at least one answer
    at_standard: int     # reviewed by an Inspector / police staff equivalent or above
    below_standard: int
    unrecorded: int      # answered on a worksheet that did not ask who reviewed it (formats 1-2)
    designs: tuple[str, ...]  # how the automated findings were shown, one line per design used

    def lines(self) -> list[str]:
        counted = (f"Reviews: {self.reviewed} crime(s) reviewed; {self.at_standard} by {REVIEW_STANDARD} "
                   f"(the board's standard), {self.below_standard} below that standard")
        if self.unrecorded:
            counted += f", {self.unrecorded} with no reviewer recorded"
        return [counted + ".", *(f"Automated findings: {design}." for design in self.designs)]


def reviewer_standard(reviews: pd.DataFrame, reviewers: pd.DataFrame) -> ReviewerStandard:
    """Count reviews by rank against the standard. `reviews` has crime_ref (the answers);
    `reviewers` crime_ref, at_required_rank and worksheet_format (`sample_reviewers`)."""
    answered = pd.Index(reviews["crime_ref"].astype("str").unique())
    known = reviewers[reviewers["crime_ref"].astype("str").isin(answered)]
    at = known["at_required_rank"].astype("bool")
    unrecorded = int((~answered.isin(known["crime_ref"].astype("str"))).sum())
    formats = set(known["worksheet_format"].astype("str"))
    designs = tuple(([FINDINGS_DESIGN] if FORMAT in formats else [])
                    + ([EARLIER_FINDINGS_DESIGN] if unrecorded or formats - {FORMAT} else []))
    return ReviewerStandard(len(answered), int(at.sum()), int((~at).sum()), unrecorded, designs)


def read_reviewer_standard(engine_or_conn: Engine | sa.Connection, quarter: str) -> ReviewerStandard:
    """`reviewer_standard` of a quarter's stored reviews and reviewers."""
    sample_id = sample_id_for(quarter)
    with transaction(engine_or_conn) as conn:
        reviews = read_frame(conn, sa.select(sample_reviews.c.crime_ref).distinct()
                             .where(sample_reviews.c.sample_id == sample_id))
        reviewers = read_frame(conn, sa.select(sample_reviewers.c.crime_ref, sample_reviewers.c.at_required_rank,
                                               sample_reviewers.c.worksheet_format)
                               .where(sample_reviewers.c.sample_id == sample_id))
    return reviewer_standard(reviews, reviewers)
