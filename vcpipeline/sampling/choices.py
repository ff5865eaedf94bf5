"""What a dip-sample reviewer sees of each victim's choices: the agreed method, and any opt-out.

Pure: the victims and their choice events in, one text per crime out (crime_ref index), for the
worksheet's "Agreed method" and "Opted out (date)" columns. A reviewer judging Q5 ("updates as
often as agreed, by the method asked for") needs the agreement; one reading a "not owed" finding
needs to see when the victim opted out. Victims are named by their pseudonymous id only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.alerts.contact import OPTED_OUT, agreed_contacts, opt_out_history
from vcpipeline.calendar import local_dates

AGREED_METHOD_HEADER, OPTED_OUT_HEADER = "Agreed method", "Opted out (date)"
NO_PLAN = "no contact plan agreed"
NO_METHOD = "plan agreed, no method"


def agreed_contact_text(victims: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Per crime, each victim's agreement in force at `as_of`, one line each:
    `V1: phone, every 14 days`, `V2: plan agreed, no method`, `V3: no contact plan agreed`."""
    agreed = agreed_contacts(events, victims, as_of)
    method = agreed["agreed_channel"].where(agreed["agreed_channel"] != "", NO_METHOD)
    text = pd.Series(np.where(agreed["agreed"], method, NO_PLAN), index=agreed.index, dtype=object)
    if "agreed_interval_days" in agreed.columns:
        days = agreed["agreed_interval_days"]
        text = text.where(~agreed["agreed"] | (days <= 0),
                          text + ", every " + days.astype(str) + np.where(days == 1, " day", " days"))
    return _per_crime(agreed, agreed["victim_id"] + ": " + text)


def opted_out_text(victims: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Per crime, the local dates its victims opted out (and back in) by `as_of`, one victim a
    line: `V1: 2026-02-03 (back in 2026-02-20), 2026-03-01`. Crimes with no opt-out are absent.

    A repeated opt-out while opted out, or opt-in while opted in, changes nothing and is not shown.
    """
    history = opt_out_history(events, victims, as_of).sort_values(["crime_ref", "victim_id"], kind="stable",
                                                                  ignore_index=True)  # time order kept
    victim = history["crime_ref"] + "\x1f" + history["victim_id"]
    changes = history[(history["event_type"] != history["event_type"].shift()) | (victim != victim.shift())]
    day = pd.Series(local_dates(pd.DatetimeIndex(changes["occurred_at"])).astype(str), index=changes.index)
    out = changes["event_type"] == OPTED_OUT
    first = victim[changes.index] != victim[changes.index].shift()
    piece = np.where(out, np.where(first, "", ", ") + day, " (back in " + day + ")")
    parts = pd.DataFrame({"crime_ref": changes["crime_ref"], "victim_id": changes["victim_id"], "piece": piece})
    joined = parts.groupby(["crime_ref", "victim_id"], sort=True)["piece"].agg("".join).reset_index()
    return _per_crime(joined, joined["victim_id"] + ": " + joined["piece"])


def _per_crime(frame: pd.DataFrame, lines: pd.Series) -> pd.Series:
    """One text per crime: its victims' lines in victim_id order, joined by line breaks."""
    ordered = pd.DataFrame({"crime_ref": frame["crime_ref"].to_numpy(), "victim_id": frame["victim_id"].to_numpy(),
                            "line": lines.to_numpy()}).sort_values(["crime_ref", "victim_id"], kind="stable")
    return ordered.groupby("crime_ref", sort=True)["line"].agg("\n".join).rename_axis("crime_ref")
