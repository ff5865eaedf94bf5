"""The canonical model: the columns and codes every source is mapped to.

These are the interchange names of `../shared/domain/CONTRACT.md`; the warehouse stores the
same columns plus lineage (which source system and row each came from, and in which batch).
"""

from __future__ import annotations

CRIME_COLUMNS: tuple[str, ...] = (
    "crime_ref", "reported_at", "department", "offence_category", "domestic_abuse", "hate_crime",
)
VICTIM_COLUMNS: tuple[str, ...] = (
    "crime_ref", "victim_id", "age_at_report", "vulnerable", "intimidated", "persistently_targeted",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "crime_ref", "victim_id", "event_type", "occurred_at",
    "in_need", "outcome_code", "court_result", "channel",
)
# Optional victim attributes (who the victims are; for aggregated breakdowns with disclosure
# control only, never in an e-mail or worksheet): empty where a source does not record them.
OPTIONAL_VICTIM_COLUMNS: tuple[str, ...] = ("sex", "ethnicity", "disability")
NOT_STATED = "NOT_STATED"  # the source records the attribute, and none was given (or its code is unknown)
VICTIM_ATTRIBUTE_CODES: dict[str, tuple[str, ...]] = {
    "sex": ("FEMALE", "MALE", NOT_STATED),
    "ethnicity": ("ASIAN", "BLACK", "MIXED", "WHITE", "OTHER", NOT_STATED),  # the ONS 5 broad groups
    "disability": ("YES", "NO", NOT_STATED),
}
# Optional since version 2 (an absent column reads as empty).
OPTIONAL_EVENT_COLUMNS: tuple[str, ...] = ("interval_days",)
OBLIGATION_COLUMNS: tuple[str, ...] = (
    "crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
    "status", "enhanced", "rule_set", "owner", "met_channel", "channel_as_agreed",  # v2: last three
)
SAMPLE_COLUMNS: tuple[str, ...] = (
    "crime_ref", "stratum", "stratum_population", "stratum_sample_size",
    "selection_probability", "design_weight",
)

# Beyond the contract, the crime recording system says who owns a crime (for team alerts):
# its investigating team and officer, and the witness care team of its court area, which owns
# its obligations after charge (RULES.md "Who owns an obligation").
CRIME_OWNER_COLUMNS: tuple[str, ...] = ("team", "officer_collar", "witness_care_team")
# Where each canonical row came from.
LINEAGE_COLUMNS: tuple[str, ...] = ("source_system", "source_row_id")

EVENT_TYPES: frozenset[str] = frozenset({
    "CRIME_REPORTED",
    "WRITTEN_ACKNOWLEDGEMENT",
    "NEEDS_ASSESSMENT", "SUPPORT_REFERRAL", "REFERRAL_DECLINED",
    "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_RELEASED_NO_CHARGE", "SUSPECT_BAILED",
    "BAIL_CONDITIONS_CHANGED", "SUSPECT_CHARGED", "DECISION_NOT_TO_INVESTIGATE",
    "SUSPECT_RELEASED_UNDER_INVESTIGATION",
    "VICTIM_UPDATE",
    "CRIME_FINALISED", "COURT_OUTCOME", "OUTCOME_COMMUNICATED",
    "VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED", "VPS_USED", "VPS_USE_COMMUNICATED",
    "CONTACT_AGREED", "OPTED_OUT", "OPTED_IN",  # version 2: the victim's choices
})

DEPARTMENTS: tuple[str, ...] = (
    "FORCE_CONTACT", "FORCE_RESPONSE", "IIT", "VVA", "PPU",
    "CRIMINAL_JUSTICE", "WITNESS_CARE", "RESTORATIVE_JUSTICE",
)

OUTCOME_CODES: range = range(0, 23)  # Home Office outcome codes; 0 = not yet assigned
COURT_RESULTS: frozenset[str] = frozenset({
    "SENTENCED", "ACQUITTED", "DISCONTINUED", "ADJOURNED", "REMANDED", "COMMITTED_TO_CROWN_COURT",
})
CHANNELS: frozenset[str] = frozenset({"letter", "email", "sms", "phone", "visit"})
STATUSES: tuple[str, ...] = ("MET", "MET_LATE", "BREACHED", "PENDING", "WAIVED")
