"""Send the morning e-mails so that each is sent once, even across failures and retries.

For every message not already logged as sent: build it, hand it to `send` (SMTP); the moment
the server accepts it, log it as sent in a transaction of its own. A message the server refuses,
or that cannot be built, is not logged, and the others are still tried; then `DeliveryError`
fails the task so Airflow retries, and the retry sends only what is missing. (If the process dies
between the server's acceptance and the log's commit, that one message is sent again: at least
once, never silently lost.)

A mail server that accepts the connection and never answers costs a connection timeout per
message; so a delivery stops after `max_consecutive_timeouts` timeouts in a row or once its
`deadline` has passed (a delivery lasts at most the deadline plus one connection timeout). What
was not tried is reported, not logged: the retry sends exactly those.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from sqlalchemy.engine import Engine

from vcpipeline.alerts import store
from vcpipeline.alerts.messages import (
    AS_OF_HEADER,
    DEFAULT_SENDER,
    KEY_HEADER,
    LOG_ITEM_COLUMNS,
    TeamAlert,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

Send = Callable[[EmailMessage], None]

# A delivery's bounds against a mail server that does not answer (all configurable per call).
DEFAULT_DEADLINE = 900.0          # seconds for the whole delivery
DEFAULT_MAX_CONSECUTIVE_TIMEOUTS = 3
DEFAULT_SMTP_TIMEOUT = 30.0       # seconds per connection (connect, greeting, each reply)

logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one delivery did, by message key.

    `failed`: tried and refused or timed out; `unbuildable`: the message could not be built
    (never tried); `not_attempted`: left for the retry because the delivery stopped early
    (`stopped` says why). None of these is logged as sent.
    """

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # key → exception type and server reply
    unbuildable: dict[str, str] = field(default_factory=dict)  # key → exception type and message
    not_attempted: list[str] = field(default_factory=list)
    stopped: str = ""

    @property
    def not_sent(self) -> list[str]:
        return [*self.failed, *self.unbuildable, *self.not_attempted]

    @property
    def ok(self) -> bool:
        return not self.not_sent

    def summary(self) -> dict[str, object]:
        """Counts and the keys not sent, JSON-able (no message content)."""
        return {"sent": len(self.sent), "already_sent": len(self.already_sent),
                "failed": len(self.failed), "failed_keys": sorted(self.failed),
                "unbuildable": len(self.unbuildable), "unbuildable_keys": sorted(self.unbuildable),
                "not_attempted": len(self.not_attempted), "not_attempted_keys": sorted(self.not_attempted),
                "stopped": self.stopped}


class DeliveryError(RuntimeError):
    """Some e-mails were refused, could not be built or were not tried; the rest were sent and logged."""

    def __init__(self, report: DeliveryReport) -> None:
        parts = []
        if report.failed:
            key, reason = next(iter(report.failed.items()))
            parts.append(f"{len(report.failed)} failed (first: {key}: {reason})")
        if report.unbuildable:
            key, reason = next(iter(report.unbuildable.items()))
            parts.append(f"{len(report.unbuildable)} could not be built (first: {key}: {reason})")
        if report.not_attempted:
            parts.append(f"{len(report.not_attempted)} not tried ({report.stopped})")
        not_sent = len(report.not_sent)
        super().__init__(
            f"{not_sent} of {not_sent + len(report.sent)} alert e-mail(s) not sent: {'; '.join(parts)}; "
            f"{len(report.sent)} sent and logged"
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
    deadline: float = DEFAULT_DEADLINE,
    max_consecutive_timeouts: int = DEFAULT_MAX_CONSECUTIVE_TIMEOUTS,
    clock: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """Send every alert not yet logged as sent; log each right after the server accepts it.

    Digest e-mails (`EmailMessage`) carry their key in `X-VCP-Message-Key`. Each message is built
    just before it is sent, so one that cannot be built is reported and the others still go.
    Sending stops after `max_consecutive_timeouts` timeouts in a row, or when `deadline` seconds
    have passed; the rest are reported as not attempted. With `raise_on_failure`,
    `DeliveryError` (carrying the report) is raised at the end if any was not sent. A failure to
    write the log is raised at once: without the log, sending more would risk repeats.
    """
    alerts = list(alerts)
    keys = [_message_key(alert) for alert in alerts]
    with engine.connect() as conn:
        done = store.sent_message_keys(conn, keys)
    report = DeliveryReport()
    give_up_at = clock() + deadline
    timeouts = 0
    for alert, key in zip(alerts, keys, strict=True):
        if key in done:
            report.already_sent.append(key)
            continue
        if report.stopped:
            report.not_attempted.append(key)
            continue
        if clock() >= give_up_at:
            report.stopped = f"the delivery's deadline of {deadline:g} s passed"
            report.not_attempted.append(key)
            continue
        try:
            item = _prepare(alert, key, sender)
        except Exception as exc:  # a message that cannot be built must not stop the others
            report.unbuildable[key] = _reason(exc)
            logger.error("alert %s could not be built, not sent: %s", key, report.unbuildable[key])
            continue
        try:
            send(item.message)
        except Exception as exc:  # any refusal or outage: try the others, fail at the end
            report.failed[key] = _reason(exc)
            logger.warning("alert %s not sent: %s", key, report.failed[key])
            timeouts = timeouts + 1 if _timed_out(exc) else 0
            if timeouts >= max_consecutive_timeouts:
                report.stopped = f"{timeouts} consecutive timeouts from the mail server"
            continue
        timeouts = 0
        with engine.begin() as conn:
            store.record_sent(
                conn, message_key=key, kind=item.kind, department=item.department,
                team=item.team, recipient=str(item.message["To"]), subject=str(item.message["Subject"]),
                as_of=item.as_of, items=item.items, sent_at=datetime.now(UTC),
            )
        done.add(key)
        report.sent.append(key)
    if report.stopped:
        logger.warning("alert delivery stopped early: %s; %d e-mail(s) left for the retry",
                       report.stopped, len(report.not_attempted))
    if report.not_sent and raise_on_failure:
        raise DeliveryError(report)
    return report


def _reason(exc: BaseException) -> str:
    """The exception's type and text on one line (a server's reply may span several)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _timed_out(exc: BaseException) -> bool:
    """Whether `exc` is, or was caused by, a socket timeout (smtplib reports a greeting that
    never came as `SMTPServerDisconnected` raised while handling the `TimeoutError`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TimeoutError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _message_key(alert: TeamAlert | EmailMessage) -> str:
    if isinstance(alert, TeamAlert):
        return alert.message_key
    key = alert.get(KEY_HEADER)
    if not key:
        raise ValueError(f"an e-mail to deliver needs a {KEY_HEADER} header")
    return str(key)


def _prepare(alert: TeamAlert | EmailMessage, key: str, sender: str) -> _Outgoing:
    if isinstance(alert, TeamAlert):
        item = _Outgoing(key, "team", alert.department, alert.team,
                         alert.email(sender), alert.as_of.to_pydatetime(), alert.items)
    else:
        as_of = alert.get(AS_OF_HEADER)
        item = _Outgoing(
            key, "digest", "", "", alert,
            pd.Timestamp(str(as_of)).to_pydatetime() if as_of else datetime.now(UTC),
            pd.DataFrame(columns=list(LOG_ITEM_COLUMNS)),
        )
    if "Date" not in item.message:
        item.message["Date"] = format_datetime(datetime.now(UTC))
    item.message.as_bytes()  # serialise once here: a message that cannot be sent fails as unbuildable
    return item


# ----------------------------------------------------------------------------- ways to send

def smtp_sender(host: str, port: int, *, timeout: float = DEFAULT_SMTP_TIMEOUT) -> Send:
    """Send through a plain SMTP server (the demo's sink, a relay on the force network).

    `timeout` bounds each connection's every wait (connect, greeting, each reply), so a server
    that accepts and never answers costs `timeout` seconds, not forever.
    """

    def send(message: EmailMessage) -> None:
        with smtplib.SMTP(host, port, timeout=timeout) as client:
            client.send_message(message)

    return send


class InsecureSmtpConnection(ValueError):
    """An SMTP connection that would send its login and password in clear text."""


def refuse_login_without_tls(conn: Connection) -> None:
    """Raise `InsecureSmtpConnection` when `conn` carries credentials but turns TLS off.

    The smtp provider uses implicit TLS unless the extra `disable_ssl` is set and STARTTLS unless
    `disable_tls` is set; with both set it would send the login over a plain socket. A plain
    connection is fine for a local sink such as Mailpit, which needs no login
    (docs/operations.md, "SMTP and TLS").
    """
    extra = conn.extra_dejson
    plain = bool(extra.get("disable_ssl", False)) and bool(extra.get("disable_tls", False))
    if plain and (conn.login or conn.password):
        raise InsecureSmtpConnection(
            f"SMTP connection {conn.conn_id!r} has a login but disables both SSL and STARTTLS: "
            "refusing to send the password in clear text (remove disable_tls, or the login)")


def smtp_hook_sender(smtp_conn_id: str = "vcp_smtp") -> Send:
    """Send through the Airflow smtp provider's `SmtpHook` on connection `smtp_conn_id`.

    The hook logs in as the connection says (TLS, credentials). Its own `send_email_smtp` would
    build an HTML-only message and retry internally; ours has a plain-text part too and Airflow
    does the retrying, so the message goes through the client the hook opened. The message keeps
    its From (`messages.configured_sender`): the connection's `from_email` is not used, so every
    e-mail, sent or written by `--dry-run`, carries the one configured address.
    """

    def send(message: EmailMessage) -> None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        refuse_login_without_tls(SmtpHook.get_connection(smtp_conn_id))  # before it logs in
        with SmtpHook(smtp_conn_id=smtp_conn_id) as hook:
            if hook.from_email and hook.from_email != message["From"]:
                logger.info("SMTP connection %s: from_email %r not used; e-mails are sent from %r",
                            smtp_conn_id, hook.from_email, str(message["From"]))
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
