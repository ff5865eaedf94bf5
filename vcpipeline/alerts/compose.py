"""Compose the morning e-mails: obligations in, one message per team with something new out.

Frames and an instant in, `TeamAlert`s out; the warehouse and SMTP are elsewhere (`store`,
`deliver`). The pure core does the work (`selection`: what is new, to whom, the rates;
`wording`: plain English); this module lays it out per team and renders it with templates and
the rule sets' wording it is handed (or the packaged ones, read once: `render`). A message lists
the team's new breaches and obligations at risk, each with the victim's agreed contact method
when `contacts` is given, counts by rule, and the team's compliance rate this month against last
month. Only `messages.ALERT_COLUMNS` (and the optional ones) reach a message.
"""

from __future__ import annotations

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
from vcpipeline.alerts.render import Templates, packaged_templates, packaged_wording
from vcpipeline.alerts.selection import (
    BREACH_LOOKBACK,
    allowed_columns,
    compliance_rates,
    due_dates,
    new_alert_items,
    route_to_leads,
)
from vcpipeline.alerts.wording import (
    local_day_label,
    local_day_labels,
    rate_lines,
    rule_actions,
    rule_descriptions,
    subject,
    team_display_name,
)
from vcpipeline.calendar import local_dates, next_working_day

_LINE_COLUMNS = ("crime_ref", "victim_id", "rule_text", "due", "officer", "state", "contact")


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
) -> list[TeamAlert]:
    """One `TeamAlert` per team with something new (every listed team, with `all_clear`).

    `obligations`: ALERT_COLUMNS (timestamps UTC); `teams`: the team reference
    (department, team, lead_name, lead_email); `already_alerted`: the log's kind, crime_ref,
    victim_id, rule, trigger_event_id, risk_due_date. A crime whose team is not listed goes to
    its department's default lead; with no default lead either, it is left out (see
    `route_to_leads` to count those); an item witness care owns goes to the crime's witness care
    team. Alerts come back sorted by department and team. WAIVED obligations are never alerted.
    `templates` and `wording` (`wording.rule_wording`) default to the packaged ones. `contacts`
    (`contact.agreed_contacts`: crime_ref, victim_id, agreed_channel) puts the victim's agreed
    method beside each item; without it the lines say nothing about contact.
    """
    templates = templates or packaged_templates()
    wording = packaged_wording() if wording is None else wording
    as_of = utc_instant(as_of)
    routed = route_to_leads(allowed_columns(obligations), teams)
    routed = routed[routed["routing"] != "none"]
    new = _prepared_lines(new_alert_items(routed, already_alerted, as_of, breach_lookback), as_of, wording,
                          contacts)
    rates = compliance_rates(routed, as_of)
    by_rule = _counts_by_rule(new, wording)
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
            "show_contact": contacts is not None,
            "as_of_date": dates["as_of"], "horizon_date": dates["horizon"],
            "breaches": [lines[i] for i in rows[kinds == BREACH]],
            "at_risk": [lines[i] for i in rows[kinds == AT_RISK]],
            "by_rule": by_rule.get((department, team), []),
            "rates": rate_lines(rates.get((department, team), {})),
        }
        breaches, risks = len(context["breaches"]), len(context["at_risk"])
        alerts.append(TeamAlert(
            team=team, department=department, team_name=team_name, recipient=recipient,
            lead_name=lead_name, subject=subject(team_name, breaches, risks, dates["horizon"]),
            text=templates.render("team_alert.txt.j2", context),
            html=templates.render("team_alert.html.j2", context),
            message_key=message_key(department, team, as_of), as_of=as_of,
            new_breaches=breaches, at_risk=risks,
            unknown_team_crimes=len({lines[i]["crime_ref"] for i in rows}) if team == DEFAULT_TEAM else 0,
            items=log_items.iloc[rows].reset_index(drop=True),
        ))
    return alerts


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


def _prepared_lines(new: pd.DataFrame, as_of: pd.Timestamp, wording: pd.DataFrame,
                    contacts: pd.DataFrame | None) -> pd.DataFrame:
    """The new items sorted as messages list them, with what each line shows (_LINE_COLUMNS)."""
    due_date = due_dates(new["due_at"])
    today = local_dates(pd.DatetimeIndex([as_of]))[0]
    prepared = new.assign(
        due_date=due_date,
        rule_text=rule_descriptions(new, wording),
        contact=_contact_column(new, contacts),
        due=local_day_labels(due_date),
        officer=new["officer_collar"].where(new["officer_collar"] != "", "not recorded"),
        state=np.where(new["kind"] == AT_RISK, np.where(due_date == today, "due today", "due soon"),
                       np.where(new["status"] == "MET_LATE", "met late", "not yet done")),
    )
    order = ["lead_department", "lead_team", "due_date", "crime_ref", "victim_id", "rule", "trigger_event_id"]
    return prepared.sort_values(order, ignore_index=True)


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
