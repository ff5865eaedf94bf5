"""An independent reference implementation of RULES.md version 2, for differential testing.

Written from RULES.md alone (not from the project's engine), deliberately plain: one victim at a
time, one rule at a time, lists and loops, Python datetimes. Slow, and meant to be read beside
the rules. It takes the typed frames `prepare` returns (crimes, victims, events) and the as-of
instant, and returns obligations.csv's rows as dicts of text, in the contract's order.

Rule parameters are RULES.md's defaults (the packaged rule set's values are not consulted).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pandas as pd

LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC

COLUMNS = ("crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
           "status", "enhanced", "rule_set", "owner", "met_channel", "channel_as_agreed")

CODE_2020_FROM = dt.date(2021, 4, 1)  # vcop-2020 for crimes reported on or after this local date
ENHANCED_OFFENCES = {"homicide", "sexual_offence", "terrorism", "human_trafficking", "attempted_murder",
                     "kidnap", "false_imprisonment", "arson_endangering_life", "gbh_with_intent"}
UPDATE_TRIGGERS = {"SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_RELEASED_NO_CHARGE", "SUSPECT_BAILED",
                   "BAIL_CONDITIONS_CHANGED", "SUSPECT_CHARGED", "DECISION_NOT_TO_INVESTIGATE"}
UPDATE_TRIGGERS_2020_ONLY = {"SUSPECT_RELEASED_UNDER_INVESTIGATION"}
OUTCOME_CODES_ENDING = set(range(2, 20)) | {21, 22}
COURT_RESULTS_ENDING = {"SENTENCED", "ACQUITTED", "DISCONTINUED"}
VPS_ANSWERS = {"VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED"}
WAIVABLE = {"investigation_update", "outcome_notification", "vps_offer", "vps_feedback", "agreed_update"}
POST_CHARGE_OWNER = {rule: "WITNESS_CARE" for rule in
                     ("investigation_update", "outcome_notification", "vps_offer", "vps_feedback", "agreed_update")}
INFORMING = {"investigation_update", "outcome_notification", "vps_feedback", "agreed_update"}


# --- clocks and calendars ---------------------------------------------------------------------

def local_date(instant: dt.datetime) -> dt.date:
    return instant.astimezone(LONDON).date()


@cache
def bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def working_days_after(day: dt.date, n: int) -> dt.date:
    """The n-th working day after `day` (which is day 0 whatever kind of day it is)."""
    counted = 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def due_instant(due_date: dt.date) -> dt.datetime:
    """The first instant after the due date: local midnight starting the next day, in UTC."""
    next_day = due_date + dt.timedelta(days=1)
    return dt.datetime(next_day.year, next_day.month, next_day.day, tzinfo=LONDON).astimezone(UTC)


def text(instant: dt.datetime | None) -> str:
    return "" if instant is None else instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the input, as plain records -------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    event_id: str
    victim_id: str  # "" = every victim of the crime
    event_type: str
    at: dt.datetime
    in_need: bool
    outcome_code: int | None
    court_result: str
    channel: str
    interval_days: int | None

    @property
    def order(self) -> tuple[dt.datetime, str]:
        return (self.at, self.event_id)


def _value(value):
    return None if value is None or pd.isna(value) else value


def _instant(value) -> dt.datetime:
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


def _events_by_crime(events: pd.DataFrame, as_of: dt.datetime) -> dict[str, list[Event]]:
    by_crime: dict[str, list[Event]] = {}
    for row in events.to_dict("records"):
        at = _instant(row["occurred_at"])
        if at > as_of:
            continue  # not yet happened
        outcome = _value(row.get("outcome_code"))
        interval = _value(row.get("interval_days"))
        by_crime.setdefault(row["crime_ref"], []).append(Event(
            event_id=row["event_id"], victim_id=_value(row.get("victim_id")) or "",
            event_type=row["event_type"], at=at, in_need=bool(_value(row.get("in_need")) or False),
            outcome_code=None if outcome is None else int(outcome),
            court_result=_value(row.get("court_result")) or "",
            channel=(_value(row.get("channel")) or "").strip().lower(),
            interval_days=None if interval is None else int(interval)))
    return by_crime


# --- one victim --------------------------------------------------------------------------------------

@dataclass
class Obligation:
    rule: str
    trigger: Event | None  # None: the crime report
    trigger_at: dt.datetime
    due_at: dt.datetime
    met: Event | None = None
    superseded: bool = False  # agreed_update: a new agreement before the due instant


class Victim:
    """Everything RULES.md asks about one victim of one crime, over the events that apply to them."""

    def __init__(self, crime: dict, victim: dict, crime_events: list[Event], as_of: dt.datetime):
        self.crime = crime
        self.victim = victim
        self.as_of = as_of
        self.reported_at = _instant(crime["reported_at"])
        own = [e for e in crime_events if e.victim_id in ("", victim["victim_id"])]
        self.events = sorted(own, key=lambda e: e.order)
        self.code_2020 = local_date(self.reported_at) >= CODE_2020_FROM
        self.rule_set = "vcop-2020" if self.code_2020 else "vcop-2015"
        self.enhanced = self._is_enhanced()
        # Of several CONTACT_AGREED at one instant only the last by event_id counts.
        agreements = [e for e in self.events if e.event_type == "CONTACT_AGREED"]
        self.agreements = [a for a in agreements
                           if not any(b.at == a.at and b.event_id > a.event_id for b in agreements)]
        charges = self.of_type("SUSPECT_CHARGED")
        self.first_charge = charges[0] if charges else None

    def _is_enhanced(self) -> bool:
        age = _value(self.victim.get("age_at_report"))
        return bool(
            (age is not None and int(age) < 18)
            or self.victim["vulnerable"] or self.victim["intimidated"] or self.victim["persistently_targeted"]
            or self.crime["offence_category"] in ENHANCED_OFFENCES
            or self.crime["domestic_abuse"] or self.crime["hate_crime"])

    def of_type(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.event_type in types]

    def first_at_or_after(self, instant: dt.datetime, *types: str) -> Event | None:
        return next((e for e in self.of_type(*types) if e.at >= instant), None)

    def agreement_in_force(self, instant: dt.datetime) -> Event | None:
        in_force = [a for a in self.agreements if a.at <= instant]
        return in_force[-1] if in_force else None

    def opted_out_at(self, instant: dt.datetime) -> bool:
        choices = [e for e in self.of_type("OPTED_OUT", "OPTED_IN") if e.at <= instant]
        return bool(choices) and choices[-1].event_type == "OPTED_OUT"

    def ends_investigation(self, event: Event) -> bool:
        return ((event.event_type == "CRIME_FINALISED" and event.outcome_code in OUTCOME_CODES_ENDING)
                or (event.event_type == "COURT_OUTCOME" and event.court_result in COURT_RESULTS_ENDING))

    def working_due(self, trigger_at: dt.datetime, days: int) -> dt.datetime:
        return due_instant(working_days_after(local_date(trigger_at), days))

    def calendar_due(self, trigger_at: dt.datetime, days: int) -> dt.datetime:
        return due_instant(local_date(trigger_at) + dt.timedelta(days=days))

    # --- the rules ---

    def obligations(self) -> list[Obligation]:
        found: list[Obligation] = []
        report = self.reported_at
        update_days = 1 if self.enhanced else 5

        # acknowledgement
        found.append(Obligation("acknowledgement", None, report, self.working_due(report, 5),
                                self.first_at_or_after(report, "WRITTEN_ACKNOWLEDGEMENT")))

        # needs_referral
        due = self.working_due(report, 2) if self.code_2020 else self.calendar_due(report, 2)
        met = None
        assessment = self.first_at_or_after(report, "NEEDS_ASSESSMENT")
        if assessment is not None and not assessment.in_need:
            met = assessment
        elif assessment is not None:
            referral = self.first_at_or_after(report, "SUPPORT_REFERRAL", "REFERRAL_DECLINED")
            if referral is not None:
                met = referral if referral.at >= assessment.at else assessment
        found.append(Obligation("needs_referral", None, report, due, met))

        # investigation_update
        triggers = UPDATE_TRIGGERS | (UPDATE_TRIGGERS_2020_ONLY if self.code_2020 else set())
        found += [Obligation("investigation_update", trigger, trigger.at,
                             self.working_due(trigger.at, update_days),
                             self.first_at_or_after(trigger.at, "VICTIM_UPDATE"))
                  for trigger in self.of_type(*triggers)]

        # outcome_notification
        found += [Obligation("outcome_notification", trigger, trigger.at,
                             self.working_due(trigger.at, update_days),
                             self.first_at_or_after(trigger.at, "OUTCOME_COMMUNICATED"))
                  for trigger in self.events if self.ends_investigation(trigger)]

        # vps_offer: the first charge applying to the victim; met at any time, before it too
        if self.first_charge is not None:
            answers = self.of_type(*VPS_ANSWERS)
            found.append(Obligation("vps_offer", self.first_charge, self.first_charge.at,
                                    self.working_due(self.first_charge.at, 5), answers[0] if answers else None))

        # vps_feedback
        found += [Obligation("vps_feedback", trigger, trigger.at,
                             self.working_due(trigger.at, update_days),
                             self.first_at_or_after(trigger.at, "VPS_USE_COMMUNICATED"))
                  for trigger in self.of_type("VPS_USED")]

        found += self.agreed_updates()
        return found

    def agreed_updates(self) -> list[Obligation]:
        end = next((e for e in self.events if self.ends_investigation(e)), None)
        candidates: list[Event] = []
        for event in self.events:
            if event.event_type == "CONTACT_AGREED" and event in self.agreements and (event.interval_days or 0) > 0:
                candidates.append(event)
            elif event.event_type == "VICTIM_UPDATE":
                agreement = self.agreement_in_force(event.at)
                if agreement is not None and (agreement.interval_days or 0) > 0 and event.at > agreement.at:
                    candidates.append(event)
        # Of several anchors at one instant only the first by event_id is an anchor.
        anchors = [a for a in candidates if not any(b.at == a.at and b.event_id < a.event_id for b in candidates)]
        found: list[Obligation] = []
        for anchor in anchors:
            if end is not None and anchor.at >= end.at:
                continue
            agreement = self.agreement_in_force(anchor.at)
            due = self.calendar_due(anchor.at, agreement.interval_days)
            following = [e for e in self.events if e.at > anchor.at
                         and (e.event_type == "VICTIM_UPDATE" or e in self.agreements)]
            ending = following[0] if following else None
            if end is not None and (ending is None or ending.at > end.at) and due > end.at:
                continue  # still open when the investigation ended, and due after it: not owed
            obligation = Obligation("agreed_update", anchor, anchor.at, due)
            if ending is not None and ending.event_type == "VICTIM_UPDATE":
                obligation.met = ending
            elif ending is not None and ending.at < due:
                obligation.superseded = True
            found.append(obligation)
        return found

    # --- how each obligation stands ---

    def waived(self, obligation: Obligation) -> bool:
        if obligation.superseded:
            return True
        if obligation.rule not in WAIVABLE:
            return False
        moments = [obligation.trigger_at] + [e.at for e in self.of_type("OPTED_OUT", "OPTED_IN")
                                             if obligation.trigger_at < e.at]
        opted_out = sorted(w for w in moments
                           if w < obligation.due_at and w <= self.as_of and self.opted_out_at(w))
        if not opted_out:
            return False
        return not (obligation.met is not None and obligation.met.at < opted_out[0])

    def status(self, obligation: Obligation) -> str:
        if self.waived(obligation):
            return "WAIVED"
        if obligation.met is not None:
            return "MET" if obligation.met.at < obligation.due_at else "MET_LATE"
        return "BREACHED" if obligation.due_at <= self.as_of else "PENDING"

    def owner(self, obligation: Obligation) -> str:
        if (obligation.rule in POST_CHARGE_OWNER and self.first_charge is not None
                and obligation.trigger_at >= self.first_charge.at):
            return POST_CHARGE_OWNER[obligation.rule]
        return self.crime["department"]

    def channel_as_agreed(self, obligation: Obligation) -> str:
        if obligation.rule not in INFORMING or obligation.met is None:
            return ""
        agreement = self.agreement_in_force(obligation.met.at)
        if agreement is None or agreement.channel == "":
            return ""
        return "true" if obligation.met.channel == agreement.channel else "false"

    def rows(self) -> list[dict[str, str]]:
        return [{
            "crime_ref": self.crime["crime_ref"],
            "victim_id": self.victim["victim_id"],
            "rule": o.rule,
            "trigger_event_id": "" if o.trigger is None else o.trigger.event_id,
            "trigger_at": text(o.trigger_at),
            "due_at": text(o.due_at),
            "met_at": text(None if o.met is None else o.met.at),
            "status": self.status(o),
            "enhanced": "true" if self.enhanced else "false",
            "rule_set": self.rule_set,
            "owner": self.owner(o),
            "met_channel": "" if o.met is None else o.met.channel,
            "channel_as_agreed": self.channel_as_agreed(o),
        } for o in self.obligations()]


def evaluate(crimes: pd.DataFrame, victims: pd.DataFrame, events: pd.DataFrame,
             as_of: pd.Timestamp) -> list[dict[str, str]]:
    """obligations.csv's rows, sorted as the contract says (each key compared as a plain string)."""
    as_of_instant = _instant(as_of)
    crime_by_ref = {c["crime_ref"]: c for c in crimes.to_dict("records")
                    if _instant(c["reported_at"]) <= as_of_instant}
    events_by_crime = _events_by_crime(events, as_of_instant)
    rows: list[dict[str, str]] = []
    for victim in victims.to_dict("records"):
        crime = crime_by_ref.get(victim["crime_ref"])
        if crime is not None:
            rows += Victim(crime, victim, events_by_crime.get(crime["crime_ref"], []), as_of_instant).rows()
    return sorted(rows, key=lambda r: (r["crime_ref"], r["victim_id"], r["rule"], r["trigger_at"],
                                       r["trigger_event_id"]))
