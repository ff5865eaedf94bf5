"""Compose the morning e-mails: obligations in, one message per team with something new out.

Pure: frames and an instant in, `TeamAlert`s out; the warehouse and SMTP are elsewhere
(`log`, `deliver`). A message lists the team's **new breaches** (BREACHED or MET_LATE,
never alerted before) and the obligations **at risk** (PENDING, due on the as-of's local date
or by the next working day, not yet alerted for that due date), counts by rule, and the team's
compliance rate this month against last month.

Privacy: messages are built from `ALERT_COLUMNS` only (crime references, pseudonymous victim
ids, rules, dates, team codes, collar numbers). Any other column of the input, whatever it
holds, is dropped before anything is rendered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.calendar import local_dates, next_working_day
from vcpipeline.textsafety import header_safe

# The obligation columns an alert may use: the allow-list that keeps victims' details out.
ALERT_COLUMNS: tuple[str, ...] = (
    "crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
    "status", "enhanced", "rule_set", "department", "team", "officer_collar",
)
OPTIONAL_ALERT_COLUMNS: tuple[str, ...] = ("trigger_event_type",)  # names the trigger in plain words
LOG_KEY: tuple[str, ...] = ("crime_ref", "victim_id", "rule", "trigger_event_id")
# What the alert log remembers of each alerted item (and what `already_alerted` must have).
LOG_ITEM_COLUMNS: tuple[str, ...] = ("kind", *LOG_KEY, "risk_due_date", "due_at", "status")
BREACH, AT_RISK = "breach", "at_risk"
BREACH_STATUSES: tuple[str, ...] = ("BREACHED", "MET_LATE")
# A breach older than this is not "new" even if never alerted: the first run of a new team (or
# of the whole system) reports recent failures, not years of history.
BREACH_LOOKBACK = pd.Timedelta(days=28)
DEFAULT_SENDER = "Victims Code alerts <victims-code-alerts@force.example>"
DEFAULT_TEAM = ""  # the `team` of a department's default lead
KEY_HEADER = "X-VCP-Message-Key"
AS_OF_HEADER = "X-VCP-As-Of"
_SEP = "\x1f"  # joins key parts; never inside an identifier

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
_UNIT_WORDS = {"working_days": ("working day", "working days"),
               "calendar_days": ("calendar day", "calendar days")}
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_LINE_COLUMNS = ("crime_ref", "victim_id", "rule_text", "due", "officer", "state")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class TeamAlert:
    """One team's morning e-mail and the alert-log items it covers (LOG_ITEM_COLUMNS)."""

    team: str                # source-system team code; '' for a department's crimes without one
    department: str
    team_name: str
    recipient: str
    lead_name: str
    subject: str
    text: str
    html: str
    message_key: str         # team + the as-of's local date: one e-mail per team per night
    as_of: pd.Timestamp
    new_breaches: int
    at_risk: int
    unknown_team_crimes: int  # crimes listed here only because their team is unknown
    items: pd.DataFrame = field(repr=False)

    def email(self, sender: str = DEFAULT_SENDER) -> EmailMessage:
        """The MIME message: plain text plus an HTML alternative, with a stable Message-ID."""
        return build_email(self.recipient, self.subject, self.text, self.html, self.message_key,
                           self.as_of, sender)


def build_email(recipient: str, subject: str, text: str, html: str, message_key: str,
                as_of: pd.Timestamp, sender: str = DEFAULT_SENDER) -> EmailMessage:
    """A multipart/alternative e-mail whose Message-ID derives from `message_key`.

    KEY_HEADER and AS_OF_HEADER let delivery deduplicate and log any message, digest included.
    Every header value goes through `header_safe`: a team name or address from a source with a
    line break in it neither adds a header nor stops the message being built.
    """
    message = EmailMessage()
    message["Subject"] = header_safe(subject)
    message["From"] = header_safe(sender)
    message["To"] = header_safe(recipient)
    message["Message-ID"] = f"<{_UNSAFE.sub('.', message_key).strip('.')}@victims-code.vcp>"
    message[KEY_HEADER] = header_safe(message_key)
    message[AS_OF_HEADER] = utc_instant(as_of).isoformat()
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


# ----------------------------------------------------------------------------- the input seam

def compose_team_alerts(
    obligations: pd.DataFrame,
    teams: pd.DataFrame,
    already_alerted: pd.DataFrame,
    as_of: pd.Timestamp,
    all_clear: bool = False,
    *,
    breach_lookback: pd.Timedelta = BREACH_LOOKBACK,
) -> list[TeamAlert]:
    """One `TeamAlert` per team with something new (every listed team, with `all_clear`).

    `obligations`: ALERT_COLUMNS (timestamps UTC); `teams`: the team reference
    (department, team, lead_name, lead_email); `already_alerted`: the log's kind, crime_ref,
    victim_id, rule, trigger_event_id, risk_due_date. A crime whose team is not listed goes to
    its department's default lead; with no default lead either, it is left out (see
    `route_to_leads` to count those). Alerts come back sorted by department and team.
    """
    as_of = utc_instant(as_of)
    routed = route_to_leads(allowed_columns(obligations), teams)
    routed = routed[routed["routing"] != "none"]
    new = _prepared_lines(new_alert_items(routed, already_alerted, as_of, breach_lookback), as_of)
    rates = compliance_rates(routed, as_of)
    by_rule = _counts_by_rule(new)
    today = local_dates(pd.DatetimeIndex([as_of]))
    dates = {"as_of": local_day_label(today[0]), "horizon": local_day_label(next_working_day(today)[0])}
    # Everything per row is done above, once for all teams; per team only slicing and rendering.
    lines = new.loc[:, list(_LINE_COLUMNS)].to_dict("records")
    log_items = _log_items(new)
    positions = new.groupby(["lead_department", "lead_team"], sort=False).indices
    all_kinds = new["kind"].to_numpy(dtype=object)
    none = np.zeros(0, dtype=np.intp)
    alerts = []
    for department, team, lead_name, recipient in _groups_to_alert(new, teams, all_clear).itertuples(index=False):
        rows = positions.get((department, team), none)
        kinds = all_kinds[rows]
        team_name = team_display_name(department, team)
        context = {
            "team_name": team_name, "lead_name": lead_name, "unknown_team": team == DEFAULT_TEAM,
            "as_of_date": dates["as_of"], "horizon_date": dates["horizon"],
            "breaches": [lines[i] for i in rows[kinds == BREACH]],
            "at_risk": [lines[i] for i in rows[kinds == AT_RISK]],
            "by_rule": by_rule.get((department, team), []),
            "rates": _rate_lines(rates.get((department, team), {})),
        }
        breaches, risks = len(context["breaches"]), len(context["at_risk"])
        alerts.append(TeamAlert(
            team=team, department=department, team_name=team_name, recipient=recipient,
            lead_name=lead_name, subject=_subject(team_name, breaches, risks, dates["horizon"]),
            text=render_template("team_alert.txt.j2", context),
            html=render_template("team_alert.html.j2", context),
            message_key=message_key(department, team, as_of), as_of=as_of,
            new_breaches=breaches, at_risk=risks,
            unknown_team_crimes=len({lines[i]["crime_ref"] for i in rows}) if team == DEFAULT_TEAM else 0,
            items=log_items.iloc[rows].reset_index(drop=True),
        ))
    return alerts


def allowed_columns(obligations: pd.DataFrame) -> pd.DataFrame:
    """Only ALERT_COLUMNS (and any OPTIONAL_ALERT_COLUMNS present), as plain text where textual."""
    missing = [column for column in ALERT_COLUMNS if column not in obligations.columns]
    if missing:
        raise ValueError(f"obligations for alerts lack column(s): {', '.join(missing)}")
    keep = [*ALERT_COLUMNS, *(c for c in OPTIONAL_ALERT_COLUMNS if c in obligations.columns)]
    frame = obligations.loc[:, keep].copy()
    for column in keep:
        if column in ("trigger_at", "due_at", "met_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        elif column != "enhanced":
            frame[column] = frame[column].astype("string").fillna("").astype(str)
    frame["enhanced"] = frame["enhanced"].astype("boolean").fillna(False).astype(bool)
    return frame.reset_index(drop=True)


def route_to_leads(obligations: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    """Add the lead each obligation goes to: lead_department, lead_team, lead_name, recipient, routing.

    `routing` is `team` (the crime's team is listed), `default` (it is blank or not listed: the
    department's default lead, lead_team '') or `none` (no default lead for the department).
    """
    reference = (teams.loc[:, ["department", "team", "lead_name", "lead_email"]].astype(str)
                 .drop_duplicates(["department", "team"]))
    named = reference[reference["team"] != DEFAULT_TEAM].drop_duplicates("team").set_index("team")
    defaults = reference.loc[reference["team"] == DEFAULT_TEAM, "department"]
    team = obligations["team"].astype(str)
    department = obligations["department"].astype(str)
    known = (team.isin(named.index) & (team != DEFAULT_TEAM)).to_numpy()
    has_default = department.isin(defaults).to_numpy()
    routed = obligations.copy()
    routed["lead_department"] = np.where(known, team.map(named["department"]), department)
    routed["lead_team"] = np.where(known, team, DEFAULT_TEAM)
    leads = routed.loc[:, ["lead_department", "lead_team"]].merge(
        reference.rename(columns={"department": "lead_department", "team": "lead_team"}),
        how="left", on=["lead_department", "lead_team"],
    )
    routed["lead_name"] = leads["lead_name"].fillna("").to_numpy()
    routed["recipient"] = leads["lead_email"].fillna("").to_numpy()
    routed["routing"] = np.select([known, has_default], ["team", "default"], "none")
    return routed


def routing_counts(routed: pd.DataFrame) -> dict[str, int]:
    """Distinct crimes by routing (`team`, `default`, `none`): the unknown-team count for logs and the digest."""
    counts = routed.drop_duplicates("crime_ref")["routing"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in ("team", "default", "none")}


def new_alert_items(routed: pd.DataFrame, already_alerted: pd.DataFrame, as_of: pd.Timestamp,
                    breach_lookback: pd.Timedelta = BREACH_LOOKBACK) -> pd.DataFrame:
    """The obligations to alert now, with `kind` and `risk_due_date`, minus what the log has.

    A breach once (key LOG_KEY); an at-risk obligation once per due date.
    """
    from vcpipeline.rules.engine import at_risk

    as_of = utc_instant(as_of)
    due_at = pd.DatetimeIndex(routed["due_at"])
    breach = (routed["status"].isin(BREACH_STATUSES).to_numpy()
              & (due_at > as_of - breach_lookback) & (due_at <= as_of))
    risky = at_risk(routed.assign(status=routed["status"].astype(str)), as_of).to_numpy(dtype=bool)
    due_date = pd.Series(np.datetime_as_string(_due_dates(routed["due_at"]), unit="D"),
                         index=routed.index)
    items = pd.concat([
        routed[breach].assign(kind=BREACH, risk_due_date=""),
        routed[risky & ~breach].assign(kind=AT_RISK, risk_due_date=due_date[risky & ~breach]),
    ])
    seen = _keys(already_alerted.loc[:, ["kind", *LOG_KEY, "risk_due_date"]].astype(str))
    return items[~_keys(items).isin(seen).to_numpy()].reset_index(drop=True)


def compliance_rates(routed: pd.DataFrame, as_of: pd.Timestamp) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (lead_department, lead_team): MET on time / obligations due, this month to date and last month.

    "Due" means the due date (local) is in the month and has passed by `as_of`, so a pending
    obligation never counts and the two months compare like with like.
    """
    as_of = utc_instant(as_of)
    due_date = _due_dates(routed["due_at"])
    month = due_date.astype("datetime64[M]")
    this_month = local_dates(pd.DatetimeIndex([as_of]))[0].astype("datetime64[M]")
    last_month = this_month - np.timedelta64(1, "M")
    decided = (pd.DatetimeIndex(routed["due_at"]) <= as_of) & (routed["status"] != "PENDING").to_numpy()
    frame = pd.DataFrame({
        "lead_department": routed["lead_department"], "lead_team": routed["lead_team"],
        "this": decided & (month == this_month), "last": decided & (month == last_month),
        "met": (routed["status"] == "MET").to_numpy(),
    })
    frame["met_this"] = frame["this"] & frame["met"]
    frame["met_last"] = frame["last"] & frame["met"]
    sums = frame.groupby(["lead_department", "lead_team"])[["this", "last", "met_this", "met_last"]].sum()
    labels = {"this_label": _month_label(this_month), "last_label": _month_label(last_month)}
    return {
        key: {**labels, "this_due": int(row.this), "this_met": int(row.met_this),
              "last_due": int(row.last), "last_met": int(row.met_last)}
        for key, row in sums.iterrows()
    }


# ----------------------------------------------------------------------------- plain English

def team_display_name(department: str, team: str) -> str:
    """`Force Response Team B3` for team RESP-B3 of FORCE_RESPONSE; the department's crimes without a team otherwise."""
    name = DEPARTMENT_NAMES.get(department, department.replace("_", " ").title())
    if team == DEFAULT_TEAM:
        return f"{name} (crimes without a known team)"
    return f"{name} Team {team.rsplit('-', 1)[-1]}"


def rule_descriptions(items: pd.DataFrame) -> pd.Series:
    """Each obligation's rule in plain English, with its deadline from the rule set.

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
    deadline = keys.merge(_deadline_table(), how="left", on=["rule_set", "rule", "enhanced"])["deadline"]
    deadline = pd.Series(deadline.to_numpy(), index=items.index)
    described = action + " within " + deadline + " of " + trigger
    return described.where(deadline.notna(), action + " by the due date")


@lru_cache(maxsize=1)
def _deadline_table() -> pd.DataFrame:
    """rule_set, rule, enhanced → deadline ("5 working days"), from the packaged rule sets."""
    from vcpipeline.rules.ruleset import load_rulesets

    rows = []
    for ruleset in load_rulesets().sets:
        for rule in ruleset.rules:
            one, many = _UNIT_WORDS[rule.unit]
            for enhanced, days in ((False, rule.deadline), (True, rule.enhanced_deadline)):
                rows.append((ruleset.name, rule.name, enhanced, f"{days} {one if days == 1 else many}"))
    return pd.DataFrame(rows, columns=["rule_set", "rule", "enhanced", "deadline"])


# ----------------------------------------------------------------------------- building the messages

def _groups_to_alert(new: pd.DataFrame, teams: pd.DataFrame, all_clear: bool) -> pd.DataFrame:
    """(department, team, lead name, recipient) of every message to compose, sorted."""
    columns = ["lead_department", "lead_team", "lead_name", "recipient"]
    groups = new.loc[:, columns].drop_duplicates(["lead_department", "lead_team"])
    if all_clear:
        listed = teams.loc[teams["team"].astype(str) != DEFAULT_TEAM,
                           ["department", "team", "lead_name", "lead_email"]].astype(str)
        listed.columns = columns
        groups = pd.concat([groups, listed]).drop_duplicates(["lead_department", "lead_team"])
    return groups.sort_values(["lead_department", "lead_team"], ignore_index=True)


def message_key(department: str, team: str, as_of: pd.Timestamp) -> str:
    """`RESP-B3/2026-04-02`: the team (or `FORCE_RESPONSE:no-team`) and the as-of's local date."""
    day = np.datetime_as_string(local_dates(pd.DatetimeIndex([utc_instant(as_of)]))[0], unit="D")
    return f"{team if team != DEFAULT_TEAM else department + ':no-team'}/{day}"


def _subject(team_name: str, breaches: int, risks: int, horizon: str) -> str:
    short = horizon.rsplit(" ", 1)[0]  # "Tue 7 Apr"
    if breaches == 0 and risks == 0:
        return f"Victims Code: {team_name} — all clear, nothing new due by {short}"
    noun = "breach" if breaches == 1 else "breaches"
    return f"Victims Code: {team_name} — {breaches} new {noun}, {risks} due by {short}"


def _prepared_lines(new: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The new items sorted as messages list them, with what each line shows (_LINE_COLUMNS)."""
    due_date = _due_dates(new["due_at"])
    today = local_dates(pd.DatetimeIndex([as_of]))[0]
    prepared = new.assign(
        due_date=due_date,
        rule_text=rule_descriptions(new),
        due=_days(due_date),
        officer=new["officer_collar"].where(new["officer_collar"] != "", "not recorded"),
        state=np.where(new["kind"] == AT_RISK, np.where(due_date == today, "due today", "due soon"),
                       np.where(new["status"] == "MET_LATE", "met late", "not yet done")),
    )
    order = ["lead_department", "lead_team", "due_date", "crime_ref", "victim_id", "rule", "trigger_event_id"]
    return prepared.sort_values(order, ignore_index=True)


def _counts_by_rule(new: pd.DataFrame) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per team: each rule (its plain action) with new breaches and due-soon counts."""
    if new.empty:
        return {}
    action = new["rule"].map({r: a for r, (a, _) in RULE_PLAIN_NAMES.items()}).fillna(new["rule"])
    counts = (
        pd.crosstab([new["lead_department"], new["lead_team"], action], new["kind"])
        .reindex(columns=[BREACH, AT_RISK], fill_value=0)
    )
    table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (department, team, rule), (breaches, risks) in zip(
        counts.index, counts.to_numpy().tolist(), strict=True
    ):
        table.setdefault((department, team), []).append(
            {"rule": rule, "breaches": int(breaches), "at_risk": int(risks)})
    return table


def _rate_lines(rate: Mapping[str, Any]) -> list[dict[str, str]]:
    if not rate:
        return []
    return [
        {"month": rate["this_label"] + " (so far)", "rate": _percent(rate["this_met"], rate["this_due"])},
        {"month": rate["last_label"], "rate": _percent(rate["last_met"], rate["last_due"])},
    ]


def _percent(met: int, due: int) -> str:
    if due == 0:
        return "no obligations due"
    return f"{100 * met / due:.1f}% ({met} of {due} met on time)"


def _log_items(items: pd.DataFrame) -> pd.DataFrame:
    return items.loc[:, list(LOG_ITEM_COLUMNS)].astype(
        {c: str for c in LOG_ITEM_COLUMNS if c != "due_at"}
    ).reset_index(drop=True)


# ----------------------------------------------------------------------------- helpers

@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        # HTML templates escape every value; the plain-text ones must not.
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """Render one of this package's templates (`templates/`; the digest uses them too)."""
    return _environment().get_template(template).render(**context)


def utc_instant(instant: pd.Timestamp | str) -> pd.Timestamp:
    """The instant in UTC; a naive value is refused (an as-of must say which clock)."""
    stamp = pd.Timestamp(instant)
    if stamp.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return stamp.tz_convert("UTC")


def _due_dates(due_at: pd.Series) -> np.ndarray:
    """The local due date: the day before the local midnight `due_at` marks."""
    return local_dates(pd.DatetimeIndex(due_at)) - np.timedelta64(1, "D")


def local_day_label(date: np.datetime64) -> str:
    """`Tue 7 Apr 2026`: a local date as the messages show it."""
    day = pd.Timestamp(date)
    return f"{day:%a} {day.day} {day:%b %Y}"


def _days(dates: np.ndarray) -> np.ndarray:
    """`local_day_label` for an array of dates, vectorised."""
    index = pd.DatetimeIndex(dates)
    return (index.strftime("%a ") + index.day.astype(str) + index.strftime(" %b %Y")).to_numpy()


def _month_label(month: np.datetime64) -> str:
    return f"{pd.Timestamp(month):%B %Y}"


def _keys(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[c].astype(str) for c in ("kind", *LOG_KEY, "risk_due_date")]
    key = parts[0]
    for part in parts[1:]:
        key = key + _SEP + part
    return key
