"""The alerts' warehouse reads and writes (SQLAlchemy Core): the obligations to alert, the
night's load batches, and the alert log.

`alert_messages` has one row per accepted e-mail (its key: team or digest + local date), and
`alert_log` one row per breach (once ever) or at-risk obligation (once per due date) it listed.
Both rows of a message are written together, in one transaction, right after the server accepts
it: an accepted e-mail is never sent again, a refused one is never marked. Each function takes a
connection and returns a frame or a plain value, so it can move to a shared warehouse module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.alerts.contact import AGREED, CHOICE_EVENT_COLUMNS, agreed_contacts
from vcpipeline.alerts.messages import LOG_ITEM_COLUMNS, utc_instant
from vcpipeline.alerts.selection import BREACH_LOOKBACK
from vcpipeline.calendar import local_dates, start_of_local_day
from vcpipeline.errors import InputError
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import (
    alert_log,
    alert_messages,
    case_events,
    crimes,
    load_batches,
    obligations,
    quarantine,
)

# At-risk obligations fall due within a few days (Easter: Thursday to Tuesday); read a margin.
_AHEAD = pd.Timedelta(days=14)


def alert_window(as_of: pd.Timestamp) -> tuple[datetime, datetime]:
    """The due instants alerts look at: from the start of last month (local; for the compliance
    rates) or the breach lookback, whichever is earlier, to a fortnight ahead (at-risk)."""
    as_of = utc_instant(as_of)
    month = local_dates(pd.DatetimeIndex([as_of])).astype("datetime64[M]")
    last_month = start_of_local_day((month - np.timedelta64(1, "M")).astype("datetime64[D]"))[0]
    due_from = min(last_month, as_of - BREACH_LOOKBACK)
    return due_from.to_pydatetime(), (as_of + _AHEAD).to_pydatetime()


def obligations_for_alerts(due_from: datetime, due_until: datetime) -> sa.Select[Any]:
    """The obligations due in [due_from, due_until), with each crime's team, officer's collar
    number and witness care team (from `crimes`) and the trigger's event type (from `case_events`).

    `owner` and `witness_care_team` are read when the warehouse schema has them (version 2).
    """
    o, c, e = obligations.c, crimes.c, case_events.c
    routing = [column for table, name in ((obligations, "owner"), (crimes, "witness_care_team"))
               if (column := table.c.get(name)) is not None]
    return (
        sa.select(o.crime_ref, o.victim_id, o.rule, o.trigger_event_id, o.trigger_at, o.due_at,
                  o.met_at, o.status, o.enhanced, o.rule_set, o.department, c.team,
                  c.officer_collar, e.event_type.label("trigger_event_type"), *routing)
        .select_from(obligations.join(crimes, c.crime_ref == o.crime_ref)
                     .outerjoin(case_events, e.event_id == o.trigger_event_id))
        .where(o.due_at >= due_from, o.due_at < due_until)
    )


def read_obligations_for_alerts(conn: sa.Connection, as_of: pd.Timestamp) -> pd.DataFrame:
    """The stored obligations due in `alert_window` (see `obligations_for_alerts`)."""
    if not sa.inspect(conn).has_table("obligations"):
        raise InputError("the warehouse has no obligations table: evaluate the obligations first")
    return read_frame(conn, obligations_for_alerts(*alert_window(as_of)))


def contact_agreements_for_alerts(due_from: datetime, due_until: datetime, as_of: datetime) -> sa.Select[Any]:
    """The CONTACT_AGREED events at or before `as_of` of the crimes with an obligation due in
    [due_from, due_until): what `contact.agreed_contacts` needs for the alerted victims."""
    e, o = case_events.c, obligations.c
    alerted = sa.select(o.crime_ref).where(o.due_at >= due_from, o.due_at < due_until).distinct()
    return (
        sa.select(*(e[name] for name in CHOICE_EVENT_COLUMNS))
        .where(e.event_type == AGREED, e.occurred_at <= as_of, e.crime_ref.in_(alerted))
    )


def read_agreed_contacts(conn: sa.Connection, alerted: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each victim of `alerted` (crime_ref, victim_id) with the contact agreement in force at
    `as_of` (`contact.agreed_contacts`), read from `case_events` in one query."""
    as_of = utc_instant(as_of)
    window = alert_window(as_of)
    events = read_frame(conn, contact_agreements_for_alerts(*window, as_of.to_pydatetime()))
    return agreed_contacts(events.reindex(columns=list(CHOICE_EVENT_COLUMNS)), alerted, as_of)


def read_night_batches(conn: sa.Connection, as_of: pd.Timestamp) -> pd.DataFrame:
    """The load batches of the night that ends at `as_of` (their interval ends there)."""
    select = sa.select(
        load_batches.c.source_system, load_batches.c.status, load_batches.c.rows_extracted,
        load_batches.c.rows_loaded, load_batches.c.rows_quarantined,
    ).where(load_batches.c.interval_end == utc_instant(as_of).to_pydatetime())
    return read_frame(conn, select)


def read_night_quarantine_reasons(conn: sa.Connection, as_of: pd.Timestamp) -> pd.DataFrame:
    """The night's quarantined rows (batches whose interval ends at `as_of`) counted by source,
    batch and failed expectation (source_system, batch_id, reason, rows; a row counts once per reason)."""
    select = (sa.select(quarantine.c.source_system, quarantine.c.batch_id, quarantine.c.reasons)
              .join(load_batches, load_batches.c.batch_id == quarantine.c.batch_id)
              .where(load_batches.c.interval_end == utc_instant(as_of).to_pydatetime()))
    frame = read_frame(conn, select)
    reasons = frame.assign(reason=frame["reasons"].astype("string").str.split(";")).explode("reason")
    return (reasons.groupby(["source_system", "batch_id", "reason"], sort=True).size()
            .rename("rows").reset_index())


# ----------------------------------------------------------------------------- the alert log

def read_already_alerted(conn: sa.Connection, due_since: datetime | None = None) -> pd.DataFrame:
    """Logged items (LOG_ITEM_COLUMNS) and `announced_at` (the as-of of the e-mail that first
    listed each: what `selection.carried_items` needs), those due at or after `due_since` when given.

    Composing only looks at obligations due in a recent window, so the log need not be read
    further back than that window.
    """
    select = (
        sa.select(*(alert_log.c[column] for column in LOG_ITEM_COLUMNS),
                  alert_messages.c.as_of.label("announced_at"))
        .select_from(alert_log.join(alert_messages,
                                    alert_messages.c.message_key == alert_log.c.message_key))
    )
    if due_since is not None:
        select = select.where(alert_log.c.due_at >= due_since)
    return read_frame(conn, select)


def sent_message_keys(conn: sa.Connection, keys: Iterable[str]) -> set[str]:
    """The keys among `keys` whose e-mail was already accepted by the mail server."""
    wanted = sorted(set(keys))
    if not wanted:
        return set()
    found = conn.execute(
        sa.select(alert_messages.c.message_key).where(alert_messages.c.message_key.in_(wanted))
    )
    return set(found.scalars())


def record_sent(
    conn: sa.Connection,
    *,
    message_key: str,
    kind: str,
    department: str,
    team: str,
    recipient: str,
    subject: str,
    as_of: datetime,
    items: pd.DataFrame,
    sent_at: datetime,
) -> None:
    """Log one accepted e-mail and the items it listed (idempotent: a repeat changes nothing)."""
    _insert_ignoring_duplicates(conn, alert_messages, [{
        "message_key": message_key, "kind": kind, "department": department, "team": team,
        "recipient": recipient, "subject": subject, "as_of": as_of, "items": len(items),
        "sent_at": sent_at,
    }])
    if len(items):
        rows = items.loc[:, list(LOG_ITEM_COLUMNS)].assign(message_key=message_key)
        rows["due_at"] = [value.to_pydatetime() for value in pd.DatetimeIndex(rows["due_at"])]
        _insert_ignoring_duplicates(conn, alert_log, rows.to_dict("records"))


def read_sent_messages(conn: sa.Connection) -> pd.DataFrame:
    """Every accepted e-mail, oldest first (for operators and tests)."""
    return read_frame(conn, sa.select(alert_messages).order_by(alert_messages.c.sent_at,
                                                               alert_messages.c.message_key))


def _insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise NotImplementedError(f"unsupported warehouse backend: {conn.dialect.name}")
    conn.execute(insert(table).on_conflict_do_nothing(), rows)
