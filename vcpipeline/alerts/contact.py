"""The victim's contact choices as of an instant (RULES.md v2): the agreed method, and opt-outs.

Pure: events and victims in, one row per victim out. The team lead's alert shows the method
beside each item and the reviewer's worksheet shows it with any opt-out, so that whoever contacts
the victim next does it the way the victim asked. The rule engine computes the same agreement
for `channel_as_agreed`, position by position over its event stream; here only the state at one
instant is needed, so a sort and a group's last row answer it.

`events` has event_id, crime_ref, victim_id ('' or missing: every victim of the crime),
event_type, occurred_at (UTC) and channel, and may have interval_days; `victims` has crime_ref
and victim_id.
"""

from __future__ import annotations

import pandas as pd

from vcpipeline.alerts.messages import utc_instant

AGREED, OPTED_OUT, OPTED_IN = "CONTACT_AGREED", "OPTED_OUT", "OPTED_IN"
CHOICE_EVENT_TYPES: tuple[str, ...] = (AGREED, OPTED_OUT, OPTED_IN)
CHOICE_EVENT_COLUMNS: tuple[str, ...] = ("event_id", "crime_ref", "victim_id", "event_type",
                                         "occurred_at", "channel")
AGREED_CONTACT_COLUMNS: tuple[str, ...] = ("crime_ref", "victim_id", "agreed", "agreed_channel")
NO_METHOD_AGREED = "no method agreed"
_KEY = ["crime_ref", "victim_id"]


def events_per_victim(events: pd.DataFrame, victims: pd.DataFrame) -> pd.DataFrame:
    """`events` with a crime-level event (blank victim_id) repeated for each victim of its crime,
    and only events of the listed victims; sorted by (occurred_at, event_id), RULES.md's order."""
    optional = [column for column in ("interval_days",) if column in events.columns]
    frame = events.loc[:, [*CHOICE_EVENT_COLUMNS, *optional]].copy()
    for column in ("event_id", "crime_ref", "victim_id", "event_type", "channel"):
        frame[column] = frame[column].astype("string").fillna("").astype(str)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    listed = victims.loc[:, _KEY].astype(str).drop_duplicates()
    crime_level = frame["victim_id"] == ""
    expanded = frame[crime_level].drop(columns="victim_id").merge(listed, on="crime_ref")
    own = frame[~crime_level].merge(listed, on=_KEY)
    both = pd.concat([own, expanded], ignore_index=True)
    # event_id compares as plain strings (code-point order, which is UTF-8 byte order).
    return both.sort_values(["occurred_at", "event_id"], kind="stable", ignore_index=True)


def agreed_contacts(events: pd.DataFrame, victims: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per victim of `victims`, the agreement in force at `as_of` (AGREED_CONTACT_COLUMNS).

    The latest CONTACT_AGREED at or before `as_of`; of several at one instant the last by
    event_id. `agreed` is whether there is one; `agreed_channel` its method, lower case, ''
    when none was agreed or the agreement named none ("no preference"); with interval_days in
    `events`, `agreed_interval_days` too (0: no periodic updates agreed).
    """
    chosen = events_per_victim(events[events["event_type"].astype(str) == AGREED], victims)
    chosen = chosen[chosen["occurred_at"] <= utc_instant(as_of)]
    latest = chosen.groupby(_KEY, sort=False).tail(1)
    interval = ["interval_days"] if "interval_days" in latest.columns else []
    out = victims.loc[:, _KEY].astype(str).drop_duplicates().merge(
        latest.loc[:, [*_KEY, "channel", *interval]], how="left", on=_KEY)
    out["agreed"] = out["channel"].notna()
    out["agreed_channel"] = out["channel"].fillna("").str.strip().str.lower()
    if interval:
        days = pd.to_numeric(out["interval_days"], errors="coerce")
        out["agreed_interval_days"] = days.fillna(0).astype("int64")
        return out.loc[:, [*AGREED_CONTACT_COLUMNS, "agreed_interval_days"]]
    return out.loc[:, list(AGREED_CONTACT_COLUMNS)]


def opt_out_history(events: pd.DataFrame, victims: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each victim's OPTED_OUT and OPTED_IN at or before `as_of`, in order: crime_ref, victim_id,
    event_type, occurred_at. An opt-in with no opt-out before it has no effect and is left out."""
    wanted = events["event_type"].astype(str).isin((OPTED_OUT, OPTED_IN))
    moves = events_per_victim(events[wanted], victims)
    moves = moves[moves["occurred_at"] <= utc_instant(as_of)]
    opted_out_before = (moves["event_type"] == OPTED_OUT).astype(int).groupby(
        [moves["crime_ref"], moves["victim_id"]]).cumsum() > 0
    return moves.loc[opted_out_before, [*_KEY, "event_type", "occurred_at"]].reset_index(drop=True)


def contact_phrases(contacts: pd.DataFrame) -> pd.Series:
    """"agreed: phone" for a victim with an agreed method, else "no method agreed" (what a team
    lead reads: an agreement without a method asks nothing of them either)."""
    channel = contacts["agreed_channel"].astype("string").fillna("").astype(str)
    return ("agreed: " + channel).where(channel != "", NO_METHOD_AGREED)


