"""Send the morning e-mails so that each is sent once, even across failures and retries.

For every message not already logged as sent: hand it to `send` (SMTP); the moment the server
accepts it, log it as sent in a transaction of its own. A message the server refuses is not
logged, and the others are still tried; then `DeliveryError` fails the task so Airflow retries,
and the retry sends only what is missing. (If the process dies between the server's acceptance
and the log's commit, that one message is sent again: at least once, never silently lost.)
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from vcpipeline.alerts import log
from vcpipeline.alerts.compose import (
    AS_OF_HEADER,
    DEFAULT_SENDER,
    KEY_HEADER,
    LOG_ITEM_COLUMNS,
    TeamAlert,
)

Send = Callable[[EmailMessage], None]

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one delivery did, by message key."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key → exception type and server reply

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> dict[str, object]:
        """Counts and failed keys, JSON-able (no message content)."""
        return {"sent": len(self.sent), "already_sent": len(self.already_sent),
                "failed": len(self.failed), "failed_keys": sorted(self.failed)}


class DeliveryError(RuntimeError):
    """Some e-mails were refused or could not be sent; the rest were sent and logged."""

    def __init__(self, report: DeliveryReport) -> None:
        first = next(iter(report.failed.items()))
        super().__init__(
            f"{len(report.failed)} of {len(report.failed) + len(report.sent)} alert e-mail(s) not sent "
            f"(first: {first[0]}: {first[1]}); {len(report.sent)} sent and logged"
        )
        self.report = report


@dataclass(frozen=True)
class _Outgoing:
    key: str
    kind: str
    department: str
    team: str
    message: EmailMessage
    as_of: datetime
    items: pd.DataFrame


def deliver(
    alerts: Iterable[TeamAlert | EmailMessage],
    engine: Engine,
    send: Send,
    *,
    sender: str = DEFAULT_SENDER,
    raise_on_failure: bool = True,
) -> DeliveryReport:
    """Send every alert not yet logged as sent; log each right after the server accepts it.

    Digest e-mails (`EmailMessage`) carry their key in `X-VCP-Message-Key`. Every message is
    tried; with `raise_on_failure`, `DeliveryError` (carrying the report) is raised at the end if
    any failed. A failure to write the log is raised at once: without the log, sending more
    would risk repeats.
    """
    outgoing = [_prepare(alert, sender) for alert in alerts]
    with engine.connect() as conn:
        done = log.sent_message_keys(conn, (o.key for o in outgoing))
    report = DeliveryReport()
    for item in outgoing:
        if item.key in done:
            report.already_sent.append(item.key)
            continue
        if "Date" not in item.message:
            item.message["Date"] = format_datetime(datetime.now(UTC))
        try:
            send(item.message)
        except Exception as exc:  # any refusal or outage: try the others, fail at the end
            report.failed[item.key] = f"{type(exc).__name__}: {exc}"
            logger.warning("alert %s not sent: %s", item.key, report.failed[item.key])
            continue
        with engine.begin() as conn:
            log.record_sent(
                conn, message_key=item.key, kind=item.kind, department=item.department,
                team=item.team, recipient=str(item.message["To"]), subject=str(item.message["Subject"]),
                as_of=item.as_of, items=item.items, sent_at=datetime.now(UTC),
            )
        done.add(item.key)
        report.sent.append(item.key)
    if report.failed and raise_on_failure:
        raise DeliveryError(report)
    return report


def _prepare(alert: TeamAlert | EmailMessage, sender: str) -> _Outgoing:
    if isinstance(alert, TeamAlert):
        return _Outgoing(alert.message_key, "team", alert.department, alert.team,
                         alert.email(sender), alert.as_of.to_pydatetime(), alert.items)
    key = alert.get(KEY_HEADER)
    if not key:
        raise ValueError(f"an e-mail to deliver needs a {KEY_HEADER} header")
    as_of = alert.get(AS_OF_HEADER)
    return _Outgoing(
        str(key), "digest", "", "", alert,
        pd.Timestamp(str(as_of)).to_pydatetime() if as_of else datetime.now(UTC),
        pd.DataFrame(columns=list(LOG_ITEM_COLUMNS)),
    )


# ----------------------------------------------------------------------------- ways to send

def smtp_sender(host: str, port: int, *, timeout: float = 30.0) -> Send:
    """Send through a plain SMTP server (the demo's sink, a relay on the force network)."""

    def send(message: EmailMessage) -> None:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.send_message(message)

    return send


def smtp_hook_sender(smtp_conn_id: str = "vcp_smtp") -> Send:
    """Send through the Airflow smtp provider's `SmtpHook` on connection `smtp_conn_id`.

    The hook logs in as the connection says (TLS, credentials, `from_email`). Its own
    `send_email_smtp` would build an HTML-only message and retry internally; ours has a plain-text
    part too and Airflow does the retrying, so the message goes through the client the hook opened.
    """

    def send(message: EmailMessage) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
            if hook.from_email:
                message.replace_header("From", hook.from_email)
            hook._smtp_client.send_message(message)

    return send


def eml_writer(folder: Path) -> Send:
    """`--dry-run`: write each message to `folder` as `<key>.eml` instead of sending it."""
    import re

    folder.mkdir(parents=True, exist_ok=True)

    def send(message: EmailMessage) -> None:
        if "Date" not in message:
            message["Date"] = format_datetime(datetime.now(UTC))
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(message.get(KEY_HEADER, "message")))
        (folder / f"{name}.eml").write_bytes(message.as_bytes())

    return send
