"""How the alerts read: each rule, trigger, department and date in plain English (pure).

The deadline in a rule's wording comes from the rule set (`deadline_table`), so it is never
restated here; the rule sets are read once, by the caller (see `render.packaged_deadlines`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.alerts.messages import DEFAULT_TEAM
from vcpipeline.rules.ruleset import RuleSets

# Each rule in plain English: what the team must do, and (when the trigger type is not known)
# what starts the clock. The deadline itself comes from the rule set, so it is never restated.
RULE_PLAIN_NAMES: Mapping[str, tuple[str, str]] = {
    "acknowledgement": ("Acknowledge the crime report in writing", "the crime report"),
    "needs_referral": ("Assess the victim's needs and refer them to support if in need",
                       "the crime report"),
    "investigation_update": ("Update the victim", "a development in the investigation"),
    "outcome_notification": ("Tell the victim the outcome of the case", "the outcome"),
    "vps_offer": ("Offer the victim a Victim Personal Statement", "the first charge"),
    "vps_feedback": ("Tell the victim how their Victim Personal Statement was used",
                     "its use in court"),
}
TRIGGER_PHRASES: Mapping[str, str] = {
    "SUSPECT_ARRESTED": "an arrest",
    "SUSPECT_INTERVIEWED": "an interview",
    "SUSPECT_RELEASED_NO_CHARGE": "a release without charge",
    "SUSPECT_BAILED": "a suspect's bail",
    "BAIL_CONDITIONS_CHANGED": "a change to bail conditions",
    "SUSPECT_CHARGED": "a charge",
    "DECISION_NOT_TO_INVESTIGATE": "a decision not to investigate",
    "SUSPECT_RELEASED_UNDER_INVESTIGATION": "a release under investigation",
    "CRIME_FINALISED": "the crime being finalised",
    "COURT_OUTCOME": "the court outcome",
    "VPS_USED": "its use in court",
}
DEPARTMENT_NAMES: Mapping[str, str] = {
    "FORCE_CONTACT": "Force Contact",
    "FORCE_RESPONSE": "Force Response",
    "IIT": "Initial Investigations",
    "VVA": "Volume, Violence & Acquisitive Investigations",
    "PPU": "Public Protection",
    "CRIMINAL_JUSTICE": "Criminal Justice",
    "WITNESS_CARE": "Witness Care",
    "RESTORATIVE_JUSTICE": "Restorative Justice",
}
DEADLINE_COLUMNS: tuple[str, ...] = ("rule_set", "rule", "enhanced", "deadline")
_UNIT_WORDS = {"working_days": ("working day", "working days"),
               "calendar_days": ("calendar day", "calendar days")}


def team_display_name(department: str, team: str) -> str:
    """`Force Response Team B3` for team RESP-B3 of FORCE_RESPONSE; the department's crimes without a team otherwise."""
    name = DEPARTMENT_NAMES.get(department, department.replace("_", " ").title())
    if team == DEFAULT_TEAM:
        return f"{name} (crimes without a known team)"
    return f"{name} Team {team.rsplit('-', 1)[-1]}"


def deadline_table(rulesets: RuleSets) -> pd.DataFrame:
    """rule_set, rule, enhanced → deadline ("5 working days"), one row per rule and entitlement."""
    rows = []
    for ruleset in rulesets.sets:
        for rule in ruleset.rules:
            one, many = _UNIT_WORDS[rule.unit]
            for enhanced, days in ((False, rule.deadline), (True, rule.enhanced_deadline)):
                rows.append((ruleset.name, rule.name, enhanced, f"{days} {one if days == 1 else many}"))
    return pd.DataFrame(rows, columns=list(DEADLINE_COLUMNS))


def rule_descriptions(items: pd.DataFrame, deadlines: pd.DataFrame) -> pd.Series:
    """Each obligation's rule in plain English, with its deadline from `deadlines` (`deadline_table`).

    e.g. "Update the victim within 5 working days of an arrest": the deadline depends on the
    rule set and the victim's enhanced entitlement, the trigger phrase on the trigger event
    (when `trigger_event_type` is given; else the rule's usual trigger).
    """
    rule = items["rule"].astype(str)
    action = rule.map({r: a for r, (a, _) in RULE_PLAIN_NAMES.items()})
    action = action.fillna("Meet the " + rule + " obligation")
    trigger = rule.map({r: t for r, (_, t) in RULE_PLAIN_NAMES.items()}).fillna("its trigger")
    if "trigger_event_type" in items.columns:
        trigger = items["trigger_event_type"].astype(str).map(TRIGGER_PHRASES).fillna(trigger)
    keys = pd.DataFrame({"rule_set": items["rule_set"].astype(str), "rule": rule,
                         "enhanced": items["enhanced"].astype(bool)})
    deadline = keys.merge(deadlines, how="left", on=["rule_set", "rule", "enhanced"])["deadline"]
    deadline = pd.Series(deadline.to_numpy(), index=items.index)
    described = action + " within " + deadline + " of " + trigger
    return described.where(deadline.notna(), action + " by the due date")


def rule_actions(rule: pd.Series) -> pd.Series:
    """Each rule's plain action ("Update the victim"), or the rule's own name when it has none."""
    return rule.map({r: a for r, (a, _) in RULE_PLAIN_NAMES.items()}).fillna(rule)


def subject(team_name: str, breaches: int, risks: int, horizon: str) -> str:
    """The team e-mail's subject line, with the horizon's short date ("Tue 7 Apr")."""
    short = horizon.rsplit(" ", 1)[0]  # "Tue 7 Apr"
    if breaches == 0 and risks == 0:
        return f"Victims Code: {team_name} — all clear, nothing new due by {short}"
    noun = "breach" if breaches == 1 else "breaches"
    return f"Victims Code: {team_name} — {breaches} new {noun}, {risks} due by {short}"


def rate_lines(rate: Mapping[str, Any]) -> list[dict[str, str]]:
    """The compliance lines of a message, from one team's `selection.compliance_rates` entry."""
    if not rate:
        return []
    return [
        {"month": month_label(rate["this_month"]) + " (so far)",
         "rate": percent(rate["this_rate"], rate["this_met"], rate["this_due"])},
        {"month": month_label(rate["last_month"]),
         "rate": percent(rate["last_rate"], rate["last_met"], rate["last_due"])},
    ]


def percent(rate: float, met: int, decided: int) -> str:
    """`85.1% (40 of 47 met on time)`, or that nothing was due when the rate is undefined (NaN).

    The percentage is 100 × met / decided rounded once, from the counts: rounding the rate
    first would move some halves (23 of 80 is exactly 28.75 %, but 100 × 0.2875 is not).
    """
    if np.isnan(rate):
        return "no obligations due"
    return f"{100 * met / decided:.1f}% ({met} of {decided} met on time)"


def local_day_label(date: np.datetime64) -> str:
    """`Tue 7 Apr 2026`: a local date as the messages show it."""
    day = pd.Timestamp(date)
    return f"{day:%a} {day.day} {day:%b %Y}"


def local_day_labels(dates: np.ndarray) -> np.ndarray:
    """`local_day_label` for an array of dates, vectorised."""
    index = pd.DatetimeIndex(dates)
    return (index.strftime("%a ") + index.day.astype(str) + index.strftime(" %b %Y")).to_numpy()


def month_label(month: np.datetime64) -> str:
    """`April 2026`."""
    return f"{pd.Timestamp(month):%B %Y}"
