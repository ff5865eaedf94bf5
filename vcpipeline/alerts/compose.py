"""Compose the morning e-mails: obligations in, one message per team with something new out.

Frames and an instant in, `TeamAlert`s out; the warehouse and SMTP are elsewhere (`store`,
`deliver`). The pure core does the work (`selection`: what is new, to whom, the rates;
`wording`: plain English); this module lays it out per team and renders it with templates and
the rule sets' wording it is handed (or the packaged ones, read once: `render`). A message lists,
grouped by the officer in the case (the crime's `officer_collar`), the team's new breaches still
not done, those met late (no action needed), the obligations at risk (due today marked), each
with enhanced-service victims marked and the victim's agreed contact method when `contacts` is
given; a victim's identical obligations (same rule, same due date) are one line naming their
triggers. Then the breaches still open (oldest first, capped), how to correct a breach that was
done but not recorded, counts by rule, and the team's compliance rate this month against last
month. Only `messages.ALERT_COLUMNS` (and the optional ones) reach a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.alerts.contact import contact_phrases
from vcpipeline.alerts.messages import (
    AT_RISK,
    BREACH,
    DEFAULT_TEAM,
    LOG_ITEM_COLUMNS,
    TeamAlert,
    message_key,
    utc_instant,
)
from vcpipeline.alerts.render import (
    Templates,
    packaged_corrections,
    packaged_templates,
    packaged_wording,
)
from vcpipeline.alerts.selection import (
    BREACH_LOOKBACK,
    allowed_columns,
    carried_items,
    compliance_rates,
    due_dates,
    new_alert_items,
    route_to_leads,
    still_open_breaches,
)
from vcpipeline.alerts.wording import (
    joined_phrases,
    local_day_label,
    local_day_labels,
    rate_lines,
    rule_actions,
    rule_descriptions,
    subject,
    team_display_name,
    trigger_phrases,
)
from vcpipeline.calendar import local_dates, next_working_day

# The sections of a message, in order: breaches to put right, breaches met late, due soon.
TO_DO, MET_LATE, DUE = "to_do", "met_late", "due"
STILL_OPEN_CAP = 10  # breaches still open listed per message; the rest are counted
NO_OFFICER = "not recorded"
_LINE_COLUMNS = ("section", "crime_ref", "victim_id", "rule", "rule_text", "due", "officer", "state",
                 "contact", "enhanced", "due_today", "carried", "obligations")
# A victim's obligations that read as one line: same rule, same due date, same state.
_SAME_LINE = ["lead_department", "lead_team", "section", "crime_ref", "victim_id", "rule", "rule_set",
              "enhanced", "due_date", "carried_from"]


def compose_team_alerts(
    obligations: pd.DataFrame,
    teams: pd.DataFrame,
    already_alerted: pd.DataFrame,
    as_of: pd.Timestamp,
    all_clear: bool = False,
    *,
    breach_lookback: pd.Timedelta = BREACH_LOOKBACK,
    templates: Templates | None = None,
    wording: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    corrections: Mapping[str, str] | None = None,
    data_engineering_email: str = "",
    still_open_cap: int = STILL_OPEN_CAP,
) -> list[TeamAlert]:
    """One `TeamAlert` per team with something new or carried (every listed team, with `all_clear`).

    `obligations`: ALERT_COLUMNS (timestamps UTC); `teams`: the team reference
    (department, team, lead_name, lead_email); `already_alerted`: the log's kind, crime_ref,
    victim_id, rule, trigger_event_id, risk_due_date (and `announced_at`, for carrying weekend
    items: `selection.carried_items`). A crime whose team is not listed goes to its department's
    default lead; with no default lead either, it is left out (see `route_to_leads` to count
    those); an item witness care owns goes to the crime's witness care team. Alerts come back
    sorted by department and team. WAIVED obligations are never alerted. `templates`, `wording`
    (`wording.rule_wording`) and `corrections` (`wording.rule_records`) default to the packaged
    ones. `contacts` (`contact.agreed_contacts`: crime_ref, victim_id, agreed_channel) puts the
    victim's agreed method beside each item; without it the lines say nothing about contact.
    `data_engineering_email` is who to ask when a correction does not show the next morning.
    A message's `items` are what it announces first (the log's rows); carried items are listed
    again but stay logged with the e-mail that first announced them.
    """
    templates = templates or packaged_templates()
    wording = packaged_wording() if wording is None else wording
    corrections = packaged_corrections() if corrections is None else corrections
    as_of = utc_instant(as_of)
    routed = route_to_leads(allowed_columns(obligations), teams)
    routed = routed[routed["routing"] != "none"]
    new = new_alert_items(routed, already_alerted, as_of, breach_lookback).assign(carried_from="")
    listed = pd.concat([new, carried_items(routed, already_alerted, as_of)], ignore_index=True)
    lines = _prepared_lines(listed, as_of, wording, contacts)
    open_rows = _still_open(routed, listed, as_of)
    open_lines = _prepared_lines(open_rows.assign(kind=BREACH, risk_due_date="", carried_from=""),
                                 as_of, wording, contacts)
    rates = compliance_rates(routed, as_of)
    by_rule = _counts_by_rule(new, wording)
    today = local_dates(pd.DatetimeIndex([as_of]))
    dates = {"as_of": local_day_label(today[0]), "horizon": local_day_label(next_working_day(today)[0])}
    log_items = _log_items(new)
    actions = dict(zip(wording["rule"], rule_actions(wording["rule"], wording), strict=True))
    new_positions = new.groupby(["lead_department", "lead_team"], sort=False).indices
    line_records = _records_by_team(lines)
    open_records = _records_by_team(open_lines)
    none = np.zeros(0, dtype=np.intp)
    alerts = []
    for department, team, lead_name, recipient in _groups_to_alert(listed, teams, all_clear).itertuples(index=False):
        key = (department, team)
        team_lines = line_records.get(key, [])
        sections = {name: [line for line in team_lines if line["section"] == name] for name in (TO_DO, MET_LATE, DUE)}
        still_open = open_records.get(key, [])
        counts = {name: sum(line["obligations"] for line in section) for name, section in sections.items()}
        team_name = team_display_name(department, team)
        shown_rules = {line["rule"] for line in [*team_lines, *still_open[:still_open_cap]]}
        context = {
            "team_name": team_name, "lead_name": lead_name, "unknown_team": team == DEFAULT_TEAM,
            "show_contact": contacts is not None,
            "as_of_date": dates["as_of"], "horizon_date": dates["horizon"],
            "to_do": _by_officer(sections[TO_DO]), "to_do_count": counts[TO_DO],
            "met_late": _by_officer(sections[MET_LATE]), "met_late_count": counts[MET_LATE],
            "due": _by_officer(sections[DUE]), "due_count": counts[DUE],
            "carried": any(line["carried"] for line in team_lines),
            "still_open": still_open[:still_open_cap],
            "still_open_more": max(0, len(still_open) - still_open_cap),
            "corrections": [{"rule": actions.get(rule, rule), "where": corrections[rule]}
                            for rule in sorted(shown_rules) if rule in corrections],
            "data_engineering_email": data_engineering_email,
            "by_rule": by_rule.get(key, []),
            "rates": rate_lines(rates.get(key, {})),
        }
        rows = new_positions.get(key, none)
        alerts.append(TeamAlert(
            team=team, department=department, team_name=team_name, recipient=recipient,
            lead_name=lead_name,
            subject=subject(team_name, counts[TO_DO], counts[DUE], dates["horizon"], counts[MET_LATE]),
            text=templates.render("team_alert.txt.j2", context),
            html=templates.render("team_alert.html.j2", context),
            message_key=message_key(department, team, as_of), as_of=as_of,
            new_breaches=counts[TO_DO] + counts[MET_LATE], at_risk=counts[DUE],
            unknown_team_crimes=len({line["crime_ref"] for line in team_lines}) if team == DEFAULT_TEAM else 0,
            items=log_items.iloc[rows].reset_index(drop=True),
            met_late=counts[MET_LATE],
        ))
    return alerts


def _groups_to_alert(listed: pd.DataFrame, teams: pd.DataFrame, all_clear: bool) -> pd.DataFrame:
    """(department, team, lead name, recipient) of every message to compose, sorted."""
    columns = ["lead_department", "lead_team", "lead_name", "recipient"]
    groups = listed.loc[:, columns].drop_duplicates(["lead_department", "lead_team"])
    if all_clear:
        listed_teams = teams.loc[teams["team"].astype(str) != DEFAULT_TEAM,
                                 ["department", "team", "lead_name", "lead_email"]].astype(str)
        listed_teams.columns = columns
        groups = pd.concat([groups, listed_teams]).drop_duplicates(["lead_department", "lead_team"])
    return groups.sort_values(["lead_department", "lead_team"], ignore_index=True)


def _still_open(routed: pd.DataFrame, listed: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The breaches still open that this message does not already list as new or carried."""
    open_rows = still_open_breaches(routed, as_of)
    key = ["crime_ref", "victim_id", "rule", "trigger_event_id"]
    shown = listed.loc[listed["kind"] == BREACH, key].astype(str).drop_duplicates()
    marked = open_rows.loc[:, key].astype(str).merge(shown, how="left", on=key, indicator=True)
    return open_rows[(marked["_merge"] == "left_only").to_numpy()].reset_index(drop=True)


def _prepared_lines(items: pd.DataFrame, as_of: pd.Timestamp, wording: pd.DataFrame,
                    contacts: pd.DataFrame | None) -> pd.DataFrame:
    """One line per victim, rule, due date and section (its triggers joined), sorted as messages
    list them: by lead, officer in the case, due date, crime; with what each line shows."""
    due_date = due_dates(items["due_at"])
    today = local_dates(pd.DatetimeIndex([as_of]))[0]
    status = items["status"].astype(str)
    frame = items.assign(
        due_date=due_date,
        section=np.where(items["kind"] == AT_RISK, DUE, np.where(status == "MET_LATE", MET_LATE, TO_DO)),
        trigger_text=trigger_phrases(items, wording),
    )
    if frame.empty:
        return pd.DataFrame(columns=["lead_department", "lead_team", *_LINE_COLUMNS])
    grouped = frame.groupby(_SAME_LINE, sort=False, dropna=False)
    first = grouped.head(1)  # in the groups' order (sort=False), like size() below
    counts = grouped.size().to_numpy()
    triggers = first["trigger_text"].copy()
    several = frame[grouped["trigger_text"].transform("size").to_numpy() > 1]
    if not several.empty:  # only the few collapsed lines join their triggers' phrases
        together = several.groupby(_SAME_LINE, sort=False, dropna=False)
        triggers.loc[together.head(1).index] = together["trigger_text"].agg(joined_phrases).to_numpy()
    officer = first["officer_collar"].astype(str)
    carried_from = first["carried_from"].astype(str)
    carried = pd.Series("", index=first.index, dtype=object)
    if (carried_from != "").any():
        days = pd.to_datetime(carried_from[carried_from != ""]).to_numpy().astype("datetime64[D]")
        carried[carried_from != ""] = "first sent " + local_day_labels(days).astype(object)
    lines = first.assign(
        obligations=counts,
        rule_text=rule_descriptions(first, wording, triggers=triggers),
        contact=_contact_column(first, contacts),
        due=local_day_labels(first["due_date"].to_numpy()),
        officer=officer.where(officer != "", NO_OFFICER),
        _no_officer=officer == "",
        due_today=(first["section"] == DUE) & (first["due_date"] == today),
        state=np.select([first["section"] == DUE, first["section"] == MET_LATE],
                        ["due soon", "met late: no action needed"], "not yet done"),
        carried=carried,
    )
    lines.loc[lines["due_today"], "state"] = "due today"
    order = ["lead_department", "lead_team", "_no_officer", "officer", "due_date", "crime_ref", "victim_id", "rule"]
    lines = lines.sort_values(order, kind="stable", ignore_index=True)
    return lines.loc[:, ["lead_department", "lead_team", *_LINE_COLUMNS]]


def _records_by_team(lines: pd.DataFrame) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The lines as template records, per (lead_department, lead_team), in order."""
    records = lines.to_dict("records")
    return {key: list(group) for key, group in
            groupby(records, key=lambda line: (line["lead_department"], line["lead_team"]))}


def _by_officer(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines under each officer in the case (officer, lines), as sorted: a sergeant delegates by officer."""
    return [{"officer": officer, "lines": list(group)}
            for officer, group in groupby(lines, key=lambda line: line["officer"])]


def _contact_column(new: pd.DataFrame, contacts: pd.DataFrame | None) -> np.ndarray:
    """Per item, "agreed: phone" / "no method agreed"; '' for every item without `contacts`."""
    if contacts is None:
        return np.full(len(new), "", dtype=object)
    keys = ["crime_ref", "victim_id"]
    known = contacts.loc[:, [*keys, "agreed_channel"]].astype(str).drop_duplicates(keys)
    found = new.loc[:, keys].astype(str).merge(known, how="left", on=keys)
    return contact_phrases(found).to_numpy(dtype=object)


def _counts_by_rule(new: pd.DataFrame, wording: pd.DataFrame) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per team: each rule (its plain action) with new breaches and due-soon counts."""
    if new.empty:
        return {}
    counts = (
        pd.crosstab([new["lead_department"], new["lead_team"], rule_actions(new["rule"], wording)], new["kind"])
        .reindex(columns=[BREACH, AT_RISK], fill_value=0)
    )
    table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (department, team, rule), (breaches, risks) in zip(
        counts.index, counts.to_numpy().tolist(), strict=True
    ):
        table.setdefault((department, team), []).append(
            {"rule": rule, "breaches": int(breaches), "at_risk": int(risks)})
    return table


def _log_items(items: pd.DataFrame) -> pd.DataFrame:
    return items.loc[:, list(LOG_ITEM_COLUMNS)].astype(
        {c: str for c in LOG_ITEM_COLUMNS if c != "due_at"}
    ).reset_index(drop=True)
