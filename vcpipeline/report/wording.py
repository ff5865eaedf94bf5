"""Plain words for the report's codes: teams, source systems and failed validation checks.

The board reads "Force Response Team D4", "Victim contact log" and "event type not an allowed
value", never `RESP-D4`, `VCL` or `expect_column_values_to_be_in_set(event_type)`. The team's
name is the alerts' (`team_display_name`), so an e-mail and the report name a team alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from vcpipeline.alerts.wording import team_display_name

# Both spellings a batch may carry: the adapter's system code and its configured name.
SOURCE_NAMES: Mapping[str, str] = {
    "CRS": "Crime recording system", "crime_recording": "Crime recording system",
    "VCL": "Victim contact log", "victim_contact": "Victim contact log",
    "VS": "Victim support referrals", "victim_support": "Victim support referrals",
    "WCU": "Witness care unit", "witness_care": "Witness care unit",
}
ENTITY_NAMES: Mapping[str, str] = {"crimes": "Crimes", "victims": "Victims", "events": "Events"}

# What a failed GX expectation means, with `{0}` (and `{1}`) the column(s) in words.
CHECK_WORDS: Mapping[str, str] = {
    "expect_column_values_to_not_be_null": "{0} missing",
    "expect_column_values_to_match_regex": "{0} not in the expected format",
    "expect_column_values_to_be_in_set": "{0} not an allowed value",
    "expect_column_values_to_be_between": "{0} outside the allowed range",
    "expect_column_values_to_be_unique": "{0} repeated",
    "expect_column_pair_values_a_to_be_greater_than_b": "{0} not after {1}",
    "expect_column_values_to_be_of_type": "{0} of the wrong type",
    "expect_table_columns_to_match_set": "columns not as expected",
    "expect_table_row_count_to_be_between": "number of rows outside the expected range",
}
# Columns whose check reads better as a sentence of its own (`<column> not an allowed value`
# would be odd for a flag the validation derives).
FLAG_WORDS: Mapping[str, str] = {
    "crime_ref_known": "crime reference not known to the crime recording system",
    "victim_known": "victim not known for the crime",
    "repeat_of_earlier_row": "repeat of an earlier row",
}
COLUMN_WORDS: Mapping[str, str] = {
    "crime_ref": "crime reference", "victim_id": "victim reference", "event_id": "event reference",
    "occurred_at_utc": "event time", "occurred_at": "event time", "reported_at_utc": "report time",
    "reported_at": "report time", "crime_reported_at_utc": "the crime's report time",
    "event_type": "event type", "offence_category": "offence category", "outcome_code": "outcome code",
    "court_result": "court result", "in_need": "in-need answer", "age_at_report": "age at report",
    "agreed_interval_days": "agreed update interval", "agreed_channel": "agreed method of contact",
    "channel": "method of contact",
}
_LABEL = re.compile(r"^(expect_[a-z_]+)(?:\(([^)]*)\))?$")


def team_label(department: str, team: str) -> str:
    """`Force Response Team D4` (as the team leads' e-mails name it)."""
    return team_display_name(department, team)


def source_label(code: str) -> str:
    return SOURCE_NAMES.get(code, code.replace("_", " ").capitalize())


def entity_label(entity: str) -> str:
    return ENTITY_NAMES.get(entity, entity.replace("_", " ").capitalize())


def _column_words(column: str) -> str:
    return COLUMN_WORDS.get(column, column.removesuffix("_utc").replace("_", " "))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def check_words(reason: str) -> str:
    """A quarantine reason in plain words: an expectation label (`validation.suites.
    expectation_label`) by what it checks; the data rules' reasons are words already."""
    match = _LABEL.match(reason.strip())
    if match is None:  # a data rule's reason ("unknown event_type"): its column names in words
        return _sentence(re.sub(r"[a-z]+(?:_[a-z]+)+", lambda m: _column_words(m.group(0)), reason.strip()))
    kind, columns = match.group(1), [c for c in (match.group(2) or "").split(",") if c]
    if kind == "expect_column_values_to_be_in_set" and columns and columns[0] in FLAG_WORDS:
        return _sentence(FLAG_WORDS[columns[0]])
    words = [_column_words(c) for c in columns] or ["a value"]
    template = CHECK_WORDS.get(kind)
    if template is None:
        return _sentence(f"failed check: {kind.removeprefix('expect_').replace('_', ' ')}")
    return _sentence(template.format(*words, *([""] * 2)))
