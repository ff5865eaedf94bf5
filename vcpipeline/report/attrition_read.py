"""The attrition section's one warehouse read: codes, instants and statuses of the crimes
finalised in the period (no victim's details), handed to the pure analysis in `attrition.py`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.calendar import start_of_local_day
from vcpipeline.report.attrition import (
    UPDATE_RULES,
    attrition_by_offence,
    attrition_min_group,
    attrition_section,
    final_outcomes,
    in_period,
    victim_updates_and_outcomes,
)
from vcpipeline.report.periods import Period
from vcpipeline.report.sections import Section
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import case_events, crimes, obligations, victims


def read_attrition_inputs(conn: sa.Connection, period: Period) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(finalisations, victims, obligations) of the crimes finalised in the period: every
    `CRIME_FINALISED` up to the period's end, the victims with their crime's offence category,
    and their update obligations. Codes, instants and statuses only: no victim's details."""
    low, high = (t.to_pydatetime() for t in start_of_local_day(
        np.array([period.first, period.after], dtype="datetime64[D]")))
    finalised = case_events.c.event_type == "CRIME_FINALISED"
    in_period = (sa.select(case_events.c.crime_ref).distinct()
                 .where(finalised, case_events.c.occurred_at >= low, case_events.c.occurred_at < high))
    finalisations = read_frame(conn, sa.select(
        case_events.c.crime_ref, case_events.c.victim_id, case_events.c.event_id, case_events.c.occurred_at,
        case_events.c.outcome_code)
        .where(finalised, case_events.c.occurred_at < high, case_events.c.crime_ref.in_(in_period)))
    people = read_frame(conn, sa.select(victims.c.crime_ref, victims.c.victim_id, crimes.c.offence_category)
                        .select_from(victims.join(crimes, crimes.c.crime_ref == victims.c.crime_ref))
                        .where(victims.c.crime_ref.in_(in_period)))
    owed = read_frame(conn, sa.select(obligations.c.crime_ref, obligations.c.victim_id, obligations.c.rule,
                                      obligations.c.trigger_at, obligations.c.status, obligations.c.enhanced,
                                      obligations.c.department)
                      .where(obligations.c.rule.in_(UPDATE_RULES), obligations.c.crime_ref.in_(in_period)))
    return finalisations, people, owed


def read_attrition(conn: sa.Connection, period: Period, min_group: int | None = None) -> Section:
    """The attrition section of the period's report, read from the warehouse."""
    minimum = attrition_min_group() if min_group is None else min_group
    finalisations, people, owed = read_attrition_inputs(conn, period)
    outcomes = in_period(final_outcomes(finalisations, people), period)
    frame = attrition_by_offence(victim_updates_and_outcomes(outcomes, owed), minimum)
    return attrition_section(frame, minimum)
