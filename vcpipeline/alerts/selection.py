"""Which obligations to alert, to whom, and the team's compliance rates: the pure core of alerts.

Frames and an instant in, frames out; no warehouse, no templates. A message lists the team's
**new breaches** (BREACHED or MET_LATE, never alerted before) and the obligations **at risk**
(PENDING, due on the as-of's local date or by the next working day, not yet alerted for that due
date), and the team's compliance rate this month against last month.

A lead reads mail on working days: what was first announced on a weekend or bank holiday since
the last working day is **carried** into the next working day's e-mail too (`carried_items`), and
the breaches **still open** (BREACHED, not yet met, whenever announced) are listed oldest first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from vcpipeline.alerts.messages import (
    ALERT_COLUMNS,
    AT_RISK,
    BREACH,
    DEFAULT_TEAM,
    LOG_KEY,
    OPTIONAL_ALERT_COLUMNS,
    WITNESS_CARE,
    utc_instant,
)
from vcpipeline.calendar import add_working_days, is_working_day, local_dates
from vcpipeline.rules.engine import at_risk
from vcpipeline.rules.summaries import compliance_rate

BREACH_STATUSES: tuple[str, ...] = ("BREACHED", "MET_LATE")
# A breach older than this is not "new" even if never alerted: the first run of a new team (or
# of the whole system) reports recent failures, not years of history.
BREACH_LOOKBACK = pd.Timedelta(days=28)
_SEP = "\x1f"  # joins key parts; never inside an identifier


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

    The obligation goes to its `owner` (RULES.md v2; the crime's department when the column is
    absent): when the owner is the crime's department, to the crime's `team`; when witness care
    owns it, to the crime's `witness_care_team` (the team serving its court area). `routing` is
    `team` (that team is listed in `teams`), `default` (it is blank or not listed: the owning
    department's default lead, lead_team '') or `none` (no default lead for that department).
    """
    reference = (teams.loc[:, ["department", "team", "lead_name", "lead_email"]].astype(str)
                 .drop_duplicates(["department", "team"]))
    named = reference[reference["team"] != DEFAULT_TEAM].drop_duplicates("team").set_index("team")
    defaults = reference.loc[reference["team"] == DEFAULT_TEAM, "department"]
    department = obligations["department"].astype(str)
    owner = _text(obligations, "owner").where(lambda o: o != "", department)
    team = pd.Series(
        np.select([owner == department, owner == WITNESS_CARE],
                   [obligations["team"].astype(str), _text(obligations, "witness_care_team")], DEFAULT_TEAM),
        index=obligations.index)
    known = (team.isin(named.index) & (team != DEFAULT_TEAM)).to_numpy()
    has_default = owner.isin(defaults).to_numpy()
    routed = obligations.copy()
    routed["lead_department"] = np.where(known, team.map(named["department"]), owner)
    routed["lead_team"] = np.where(known, team, DEFAULT_TEAM)
    leads = routed.loc[:, ["lead_department", "lead_team"]].merge(
        reference.rename(columns={"department": "lead_department", "team": "lead_team"}),
        how="left", on=["lead_department", "lead_team"],
    )
    routed["lead_name"] = leads["lead_name"].fillna("").to_numpy()
    routed["recipient"] = leads["lead_email"].fillna("").to_numpy()
    routed["routing"] = np.select([known, has_default], ["team", "default"], "none")
    return routed


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    """An optional text column as str ('' when absent or missing)."""
    if column not in frame.columns:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype("string").fillna("").astype(str)


def routing_counts(routed: pd.DataFrame) -> dict[str, int]:
    """Distinct crimes by routing (`team`, `default`, `none`): the unknown-team count for logs and the digest.

    A crime whose obligations have two owners (its team's, witness care's) counts under each way
    its obligations went."""
    counts = routed.drop_duplicates(["crime_ref", "routing"])["routing"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in ("team", "default", "none")}


def new_alert_items(routed: pd.DataFrame, already_alerted: pd.DataFrame, as_of: pd.Timestamp,
                    breach_lookback: pd.Timedelta = BREACH_LOOKBACK) -> pd.DataFrame:
    """The obligations to alert now, with `kind` and `risk_due_date`, minus what the log has.

    A breach once (key LOG_KEY); an at-risk obligation once per due date.
    """
    as_of = utc_instant(as_of)
    due_at = pd.DatetimeIndex(routed["due_at"])
    breach = (routed["status"].isin(BREACH_STATUSES).to_numpy()
              & (due_at > as_of - breach_lookback) & (due_at <= as_of))
    risky = at_risk(routed.assign(status=routed["status"].astype(str)), as_of).to_numpy(dtype=bool)
    due_date = pd.Series(np.datetime_as_string(due_dates(routed["due_at"]), unit="D"),
                         index=routed.index)
    items = pd.concat([
        routed[breach].assign(kind=BREACH, risk_due_date=""),
        routed[risky & ~breach].assign(kind=AT_RISK, risk_due_date=due_date[risky & ~breach]),
    ])
    seen = _keys(already_alerted.loc[:, ["kind", *LOG_KEY, "risk_due_date"]].astype(str))
    return items[~_keys(items).isin(seen).to_numpy()].reset_index(drop=True)


def carried_items(routed: pd.DataFrame, already_alerted: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The items first announced on a non-working day since the last working day, as they stand now.

    On a working day, each logged item whose message's local date (`announced_at`, the message's
    as-of) lies after the previous working day and before today, and which still calls for the
    same attention (a breach still BREACHED or MET_LATE; an at-risk obligation still PENDING with
    that due date), with `kind` and `risk_due_date` like `new_alert_items` and `carried_from`
    (the local date it was announced). The log keeps its first announcement: carrying lists an
    item again, it does not log it again. Without `announced_at` in the log nothing is carried.
    """
    empty = routed.iloc[0:0].assign(kind="", risk_due_date="", carried_from="")
    if "announced_at" not in already_alerted.columns or already_alerted.empty or routed.empty:
        return empty
    today = local_dates(pd.DatetimeIndex([utc_instant(as_of)]))
    if not is_working_day(today)[0]:
        return empty
    previous = add_working_days(today, -1)[0]
    announced = local_dates(pd.DatetimeIndex(pd.to_datetime(already_alerted["announced_at"], utc=True)))
    weekend = (announced > previous) & (announced < today[0]) & ~is_working_day(announced)
    if not weekend.any():
        return empty
    log = already_alerted.loc[weekend, ["kind", *LOG_KEY, "risk_due_date"]].astype(str).assign(
        carried_from=np.datetime_as_string(announced[weekend], unit="D"))
    due_date = pd.Series(np.datetime_as_string(due_dates(routed["due_at"]), unit="D"), index=routed.index)
    status = routed["status"].astype(str)
    candidates = pd.concat([
        routed[status.isin(BREACH_STATUSES)].assign(kind=BREACH, risk_due_date=""),
        routed[status == "PENDING"].assign(kind=AT_RISK, risk_due_date=due_date[status == "PENDING"]),
    ])
    keyed = candidates.assign(_key=_keys(candidates).to_numpy())
    log = log.assign(_key=_keys(log).to_numpy()).drop_duplicates("_key")
    return keyed.merge(log.loc[:, ["_key", "carried_from"]], on="_key").drop(columns="_key")


def still_open_breaches(routed: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Breaches not yet put right: BREACHED (never met), due by `as_of`, oldest due first."""
    due_at = pd.DatetimeIndex(routed["due_at"])
    open_ = (routed["status"].astype(str) == "BREACHED").to_numpy() & (due_at <= utc_instant(as_of))
    return routed[open_].sort_values(["due_at", "crime_ref", "victim_id", "rule"], kind="stable",
                                     ignore_index=True)


def compliance_rates(routed: pd.DataFrame, as_of: pd.Timestamp) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (lead_department, lead_team), this month to date and last month: the obligations
    decided (met on time, met late or breached), those met on time, and `compliance_rate` of them.

    Only obligations whose due date (local) is in the month and has passed by `as_of` count, so
    a pending obligation never counts and the two months compare like with like. The months
    are given as the first of each (`this_month`, `last_month`, numpy months).
    """
    as_of = utc_instant(as_of)
    month = due_dates(routed["due_at"]).astype("datetime64[M]")
    this_month = local_dates(pd.DatetimeIndex([as_of]))[0].astype("datetime64[M]")
    last_month = this_month - np.timedelta64(1, "M")
    passed = np.asarray(pd.DatetimeIndex(routed["due_at"]) <= as_of)
    status = routed["status"].to_numpy()
    frame = pd.DataFrame({"lead_department": routed["lead_department"], "lead_team": routed["lead_team"]})
    for name, in_month in (("this", passed & (month == this_month)), ("last", passed & (month == last_month))):
        for counted, wanted in (("met", "MET"), ("late", "MET_LATE"), ("breached", "BREACHED")):
            frame[f"{name}_{counted}"] = in_month & (status == wanted)
    sums = frame.groupby(["lead_department", "lead_team"]).sum()
    rates = {name: compliance_rate(sums[f"{name}_met"], sums[f"{name}_late"], sums[f"{name}_breached"])
             for name in ("this", "last")}
    decided = {name: sums[[f"{name}_met", f"{name}_late", f"{name}_breached"]].sum(axis=1).to_numpy()
               for name in ("this", "last")}
    return {
        key: {"this_month": this_month, "last_month": last_month,
              "this_due": int(decided["this"][i]), "this_met": int(sums["this_met"].to_numpy()[i]),
              "this_rate": float(rates["this"][i]),
              "last_due": int(decided["last"][i]), "last_met": int(sums["last_met"].to_numpy()[i]),
              "last_rate": float(rates["last"][i])}
        for i, key in enumerate(sums.index)
    }


def due_dates(due_at: pd.Series) -> np.ndarray:
    """The local due date: the day before the local midnight `due_at` marks."""
    return local_dates(pd.DatetimeIndex(due_at)) - np.timedelta64(1, "D")


def _keys(frame: pd.DataFrame) -> pd.Series:
    parts = [frame[c].astype(str) for c in ("kind", *LOG_KEY, "risk_due_date")]
    key = parts[0]
    for part in parts[1:]:
        key = key + _SEP + part
    return key
