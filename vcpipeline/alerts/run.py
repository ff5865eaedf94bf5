"""One morning's alerts end to end: read the warehouse, compose, deliver. Used by `vcp alerts`
and by the nightly DAG's alert task, so both do exactly the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.deliver import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_CONSECUTIVE_TIMEOUTS,
    DeliveryReport,
    Send,
    deliver,
    eml_writer,
)
from vcpipeline.alerts.digest import DEFAULT_QUARANTINE_THRESHOLD, compose_data_engineering_digest
from vcpipeline.alerts.messages import (
    KEY_HEADER,
    TeamAlert,
    configured_sender,
    refuse_local_sender,
    utc_instant,
)
from vcpipeline.alerts.reference import read_team_leads, read_team_reference, store_team_leads
from vcpipeline.alerts.render import packaged_templates, packaged_wording
from vcpipeline.alerts.selection import allowed_columns, route_to_leads, routing_counts
from vcpipeline.alerts.store import (
    alert_window,
    read_agreed_contacts,
    read_already_alerted,
    read_night_batches,
    read_night_quarantine_reasons,
    read_obligations_for_alerts,
)
from vcpipeline.errors import InputError


def run_alerts(
    engine: Engine,
    as_of: pd.Timestamp,
    send: Send,
    *,
    teams_file: Path | None = None,
    all_clear: bool = False,
    dry_run_folder: Path | None = None,
    data_engineering_email: str | None = None,
    data_docs_url: str = "",
    expected_sources: Iterable[str] = (),
    quarantine_threshold: float = DEFAULT_QUARANTINE_THRESHOLD,
    sender: str | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_consecutive_timeouts: int = DEFAULT_MAX_CONSECUTIVE_TIMEOUTS,
) -> dict[str, Any]:
    """Compose and deliver the alerts of the night ending `as_of`; a JSON-able summary.

    `teams_file` replaces the stored team reference first. With `dry_run_folder` the messages
    are written there as `.eml` files and nothing is sent, logged or stored. The data-engineering
    digest is composed when `data_engineering_email` is given. Raises `DeliveryError` when any
    could not be sent (after trying every message, unless the mail server stopped answering or
    `deadline` passed: see `deliver`). Every e-mail is from `sender` (default: the configured one,
    `messages.configured_sender`); a sender on this machine (`@localhost`) is refused before
    anything is read (`LocalSenderError`).
    """
    sender = refuse_local_sender(sender or configured_sender())
    as_of = utc_instant(as_of)
    reference = read_team_reference(teams_file) if teams_file is not None else None
    if reference is not None and dry_run_folder is None:
        with engine.begin() as conn:
            store_team_leads(conn, reference, datetime.now(UTC))
    with engine.connect() as conn:
        teams = reference if reference is not None else read_team_leads(conn)
        obligations = read_obligations_for_alerts(conn, as_of)
        contacts = read_agreed_contacts(conn, obligations.loc[:, ["crime_ref", "victim_id"]], as_of)
        already = read_already_alerted(conn, due_since=alert_window(as_of)[0])
        batches = read_night_batches(conn, as_of) if data_engineering_email else None
        reasons = read_night_quarantine_reasons(conn, as_of) if data_engineering_email else None
    if teams.empty:
        raise InputError("no team reference data: load it with `vcp alerts --teams FILE`")
    templates = packaged_templates()
    alerts = compose_team_alerts(obligations, teams, already, as_of, all_clear,
                                 templates=templates, wording=packaged_wording(), contacts=contacts,
                                 data_engineering_email=data_engineering_email or "")
    routing = routing_counts(route_to_leads(allowed_columns(obligations), teams))
    messages: list[TeamAlert | EmailMessage] = list(alerts)
    if data_engineering_email and batches is not None:
        digest = compose_data_engineering_digest(
            batches, None, quarantine_threshold, data_docs_url, recipient=data_engineering_email,
            as_of=as_of, expected_sources=expected_sources, unrouted_crimes=routing["none"],
            quarantine_reasons=reasons, sender=sender, templates=templates,
        )
        if digest is not None:
            messages.append(digest)
    if dry_run_folder is not None:
        report = _write_dry_run(messages, dry_run_folder, sender)
    else:
        report = deliver(messages, engine, send, sender=sender, deadline=deadline,
                         max_consecutive_timeouts=max_consecutive_timeouts)
    return {
        "as_of": as_of.isoformat(),
        "team_emails": len(alerts),
        "new_breaches": sum(a.new_breaches for a in alerts),
        "at_risk": sum(a.at_risk for a in alerts),
        "crimes_by_routing": routing,
        "digest": len(messages) > len(alerts),
        "dry_run": dry_run_folder is not None,
        **report.summary(),
    }


def _key(message: TeamAlert | EmailMessage) -> str:
    return message.message_key if isinstance(message, TeamAlert) else str(message[KEY_HEADER])


def _write_dry_run(messages: list[TeamAlert | EmailMessage], folder: Path, sender: str) -> DeliveryReport:
    """Write each message as `.eml`; one that cannot be built is reported and the others written."""
    write = eml_writer(folder)
    report = DeliveryReport()
    for message in messages:
        try:
            write(message.email(sender) if isinstance(message, TeamAlert) else message)
        except Exception as exc:  # as in `deliver`: one bad message must not stop the others
            report.unbuildable[_key(message)] = f"{type(exc).__name__}: {exc}"
            continue
        report.sent.append(_key(message))
    return report


def send_nightly_alerts(
    as_of: datetime,
    warehouse_url: str,
    *,
    data_engineering_email: str | None = None,
    expected_sources: Iterable[str] = (),
    data_docs_url: str = "",
    smtp_conn_id: str = "vcp_smtp",
    send: Send | None = None,
    deadline: float = DEFAULT_DEADLINE,
    max_consecutive_timeouts: int = DEFAULT_MAX_CONSECUTIVE_TIMEOUTS,
) -> dict[str, Any]:
    """The nightly DAG's alert task: `run_alerts` through the smtp provider's hook.

    Raises `DeliveryError` when any e-mail was not accepted, so Airflow retries the task; the
    retry sends only what is missing. The per-connection timeout is the `vcp_smtp` connection's
    (extra `timeout`; keep its `retry_limit` low, as the hook retries a silent server itself).
    """
    from vcpipeline.alerts.deliver import smtp_hook_sender
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(warehouse_url)
    try:
        return run_alerts(
            engine, pd.Timestamp(as_of), send or smtp_hook_sender(smtp_conn_id),
            data_engineering_email=data_engineering_email, expected_sources=expected_sources,
            data_docs_url=data_docs_url, deadline=deadline,
            max_consecutive_timeouts=max_consecutive_timeouts,
        )
    finally:
        engine.dispose()
