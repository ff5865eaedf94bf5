"""The alert log in the warehouse: which e-mails the mail server accepted and what they covered.

`alert_messages` has one row per accepted e-mail (its key: team or digest + local date), and
`alert_log` one row per breach (once ever) or at-risk obligation (once per due date) it listed.
Both rows of a message are written together, in one transaction, right after the server accepts
it: an accepted e-mail is never sent again, a refused one is never marked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from vcpipeline.alerts.compose import LOG_ITEM_COLUMNS
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import alert_log, alert_messages


def read_already_alerted(conn: sa.Connection, due_since: datetime | None = None) -> pd.DataFrame:
    """Logged items (LOG_ITEM_COLUMNS), those due at or after `due_since` when given.

    Composing only looks at obligations due in a recent window, so the log need not be read
    further back than that window.
    """
    select = sa.select(*(alert_log.c[column] for column in LOG_ITEM_COLUMNS))
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
