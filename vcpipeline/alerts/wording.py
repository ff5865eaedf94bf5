"""How the alerts read: each rule, trigger, department and date in plain English (pure).

What a team lead must do for each rule (`alert_sentence`), what starts its clock (`alert_trigger`)
and its deadline are the rule set's data (`rule_wording`), so none of it is restated here; the
rule sets are read once, by the caller (see `render.packaged_wording`). Only the words for event
types and departments, which are not any one rule's, live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.alerts.messages import DEFAULT_TEAM
from vcpipeline.calendar import local_dates
from vcpipeline.rules.ruleset import RuleSets

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
    "CONTACT_AGREED": "the agreement",
    "VICTIM_UPDATE": "the last update",
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
# Where each event that meets an obligation is recorded (docs/sources.md): what a lead corrects
# when the work was done but not recorded, so that the next night's run sees it.
RECORDED_IN: Mapping[str, str] = {
    "WRITTEN_ACKNOWLEDGEMENT": "Victim contact log: a contact of contact_type ACK",
    "VICTIM_UPDATE": "Victim contact log: a contact of contact_type UPD",
    "OUTCOME_COMMUNICATED": "Victim contact log: a contact of contact_type OUTC",
    "VPS_USE_COMMUNICATED": ("Victim contact log: a contact of contact_type VPSU (or the witness care "
                             "unit's Update Type 'VPS feedback given')"),
    **dict.fromkeys(("VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED"),
                    "Victim contact log: a contact of contact_type VPS with vps_response OFF (offered), "
                    "TKN (taken) or DEC (declined)"),
    "NEEDS_ASSESSMENT": "Victim support referrals: an Activity 'Needs assessment' with In Need Yes or No",
}
WORDING_COLUMNS: tuple[str, ...] = ("rule_set", "rule", "enhanced", "deadline", "action", "trigger")
_UNIT_WORDS = {"working_days": ("working day", "working days"),
               "calendar_days": ("calendar day", "calendar days")}


def team_display_name(department: str, team: str) -> str:
    """`Force Response Team B3` for team RESP-B3 of FORCE_RESPONSE; the department's crimes without a team otherwise."""
    name = DEPARTMENT_NAMES.get(department, department.replace("_", " ").title())
    if team == DEFAULT_TEAM:
        return f"{name} (crimes without a known team)"
    return f"{name} Team {team.rsplit('-', 1)[-1]}"


def rule_wording(rulesets: RuleSets) -> pd.DataFrame:
    """rule_set, rule, enhanced → deadline ("5 working days"), action and trigger (WORDING_COLUMNS).

    One row per rule and entitlement, from the rule set: `action` is the rule's `alert_sentence`,
    `trigger` its `alert_trigger`. A periodic rule's deadline is the victim's agreed interval, not
    the rule's: its `deadline` is missing here (see `rule_descriptions`).
    """
    rows = []
    for ruleset in rulesets.sets:
        for rule in ruleset.rules:
            one, many = _UNIT_WORDS[rule.unit]
            for enhanced, days in ((False, rule.deadline), (True, rule.enhanced_deadline)):
                deadline = None if rule.kind == "periodic" else f"{days} {one if days == 1 else many}"
                rows.append((ruleset.name, rule.name, enhanced, deadline, rule.alert_sentence,
                             rule.alert_trigger))
    return pd.DataFrame(rows, columns=list(WORDING_COLUMNS))


def rule_records(rulesets: RuleSets) -> dict[str, str]:
    """Per rule, where the events that meet it are recorded (RECORDED_IN), latest rule set first:
    the "done but not recorded?" help of an alert e-mail."""
    records: dict[str, str] = {}
    for ruleset in rulesets.sets:
        for rule in ruleset.rules:
            places = dict.fromkeys(RECORDED_IN[event] for event in sorted(rule.met_by) if event in RECORDED_IN)
            if places:
                records[rule.name] = "; or ".join(places)
    return records


def trigger_phrases(items: pd.DataFrame, wording: pd.DataFrame) -> pd.Series:
    """Each obligation's trigger in plain words ("an arrest"): the trigger event's phrase when
    `trigger_event_type` is given, else the rule's usual trigger, else "its trigger"."""
    keys = pd.DataFrame({"rule_set": items["rule_set"].astype(str), "rule": items["rule"].astype(str),
                         "enhanced": items["enhanced"].astype(bool)})
    found = keys.merge(wording, how="left", on=["rule_set", "rule", "enhanced"])
    trigger = pd.Series(found["trigger"].fillna("its trigger").to_numpy(dtype=object), index=items.index)
    if "trigger_event_type" in items.columns:
        trigger = items["trigger_event_type"].astype(str).map(TRIGGER_PHRASES).fillna(trigger)
    return trigger.astype(str)


def joined_phrases(phrases: pd.Series) -> str:
    """`an arrest, an interview and a suspect's bail`: distinct phrases in their order."""
    distinct = list(dict.fromkeys(phrases.tolist()))
    return distinct[0] if len(distinct) == 1 else ", ".join(distinct[:-1]) + " and " + distinct[-1]


def rule_descriptions(items: pd.DataFrame, wording: pd.DataFrame,
                      triggers: pd.Series | None = None) -> pd.Series:
    """Each obligation's rule in plain English, from `wording` (`rule_wording`).

    e.g. "Update the victim within 5 working days of an arrest": the deadline depends on the
    rule set and the victim's enhanced entitlement, the trigger phrase on the trigger event
    (when `trigger_event_type` is given; else the rule's usual trigger). A periodic rule's
    deadline is the interval agreed with the victim, which is the due date less the trigger's
    date in calendar days. A rule the wording does not know reads "Meet the <rule> obligation".
    `triggers` (one phrase per item, e.g. several joined) replaces the trigger phrase.
    """
    rule = items["rule"].astype(str)
    keys = pd.DataFrame({"rule_set": items["rule_set"].astype(str), "rule": rule,
                         "enhanced": items["enhanced"].astype(bool)})
    found = keys.merge(wording, how="left", on=["rule_set", "rule", "enhanced"])
    found.index = items.index
    action = found["action"].fillna("Meet the " + rule + " obligation")
    trigger = trigger_phrases(items, wording) if triggers is None else triggers.astype(str)
    periodic = found["action"].notna() & found["deadline"].isna()
    deadline = found["deadline"].astype(object)
    if periodic.any():
        days = _calendar_days_between(items.loc[periodic, "trigger_at"], items.loc[periodic, "due_at"])
        deadline.loc[periodic] = days.astype(str) + np.where(days == 1, " calendar day", " calendar days")
    described = action + " within " + deadline.astype("string") + " of " + trigger
    return described.where(deadline.notna(), action + " by the due date").astype(str)


def rule_actions(rule: pd.Series, wording: pd.DataFrame) -> pd.Series:
    """Each rule's plain action ("Update the victim"), or the rule's own name when it has none.

    The latest rule set's sentence, like `RuleSets.rule`."""
    actions = wording.drop_duplicates("rule", keep="last").set_index("rule")["action"]
    return rule.map(actions).fillna(rule)


def _calendar_days_between(trigger_at: pd.Series, due_at: pd.Series) -> np.ndarray:
    """Local due date (the day before due_at's local midnight) less the trigger's local date."""
    due = local_dates(pd.DatetimeIndex(due_at)) - np.timedelta64(1, "D")
    start = local_dates(pd.DatetimeIndex(trigger_at))
    return (due - start).astype("timedelta64[D]").astype(np.int64)


def subject(team_name: str, breaches: int, risks: int, horizon: str, met_late: int = 0) -> str:
    """The team e-mail's subject line, with the horizon's short date ("Tue 7 Apr").

    `breaches` are those still not done (to act on); those `met_late` need no action, so they
    are counted apart and only when there are some: a first night's history does not read as
    a pile of new work."""
    short = horizon.rsplit(" ", 1)[0]  # "Tue 7 Apr"
    if breaches == 0 and risks == 0 and met_late == 0:
        return f"Victims Code: {team_name} — all clear, nothing new due by {short}"
    noun = "breach" if breaches == 1 else "breaches"
    late = f", {met_late} met late" if met_late else ""
    return f"Victims Code: {team_name} — {breaches} new {noun}{late}, {risks} due by {short}"


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
