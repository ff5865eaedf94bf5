"""What an alert e-mail is: the columns it may use, its log key, its headers, and the MIME message.

Pure: no warehouse, no SMTP, no templates. `compose` fills a `TeamAlert`; `deliver` sends it and
`store` logs the items it covers.

Privacy: messages are built from `ALERT_COLUMNS` only (crime references, pseudonymous victim
ids, rules, dates, team codes, collar numbers). Any other column of the input, whatever it
holds, is dropped before anything is rendered.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parseaddr

import numpy as np
import pandas as pd

from vcpipeline import instants
from vcpipeline.calendar import local_dates
from vcpipeline.errors import InputError
from vcpipeline.textsafety import header_safe

# The obligation columns an alert may use: the allow-list that keeps victims' details out.
ALERT_COLUMNS: tuple[str, ...] = (
    "crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
    "status", "enhanced", "rule_set", "department", "team", "officer_collar",
)
# trigger_event_type names the trigger in plain words; owner (RULES.md v2: the department that must
# meet the obligation; missing: the crime's department) and the crime's witness_care_team route it.
OPTIONAL_ALERT_COLUMNS: tuple[str, ...] = ("trigger_event_type", "owner", "witness_care_team")
LOG_KEY: tuple[str, ...] = ("crime_ref", "victim_id", "rule", "trigger_event_id")
# What the alert log remembers of each alerted item (and what `already_alerted` must have).
LOG_ITEM_COLUMNS: tuple[str, ...] = ("kind", *LOG_KEY, "risk_due_date", "due_at", "status")
BREACH, AT_RISK = "breach", "at_risk"
DEFAULT_SENDER = "Victims Code alerts <victims-code-alerts@force.example>"
SENDER_ENV = "VCP_MAIL_FROM"  # the from-address every e-mail of the pipeline carries
# Headers are written on one line up to RFC 5322's hard limit: folding a subject before an encoded
# word (the "—") left two spaces in it when read back ("B3  — 4 new breaches").
_HEADER_POLICY = default_policy.clone(max_line_length=998)
_LOCAL_DOMAINS = ("localhost", "localdomain", "local", "127.0.0.1", "[127.0.0.1]", "::1", "[ipv6:::1]")
DEFAULT_TEAM = ""  # the `team` of a department's default lead
WITNESS_CARE = "WITNESS_CARE"  # owns obligations after charge; its team is the crime's court area's
KEY_HEADER = "X-VCP-Message-Key"
AS_OF_HEADER = "X-VCP-As-Of"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class TeamAlert:
    """One team's morning e-mail and the alert-log items it covers (LOG_ITEM_COLUMNS)."""

    team: str                # source-system team code; '' for a department's crimes without one
    department: str
    team_name: str
    recipient: str
    lead_name: str
    subject: str
    text: str
    html: str
    message_key: str         # team + the as-of's local date: one e-mail per team per night
    as_of: pd.Timestamp
    new_breaches: int
    at_risk: int
    unknown_team_crimes: int  # crimes listed here only because their team is unknown
    items: pd.DataFrame = field(repr=False)  # what it announces first: the alert log's rows
    met_late: int = 0        # of new_breaches, those met late (no action needed)

    def email(self, sender: str = DEFAULT_SENDER) -> EmailMessage:
        """The MIME message: plain text plus an HTML alternative, with a stable Message-ID."""
        return build_email(self.recipient, self.subject, self.text, self.html, self.message_key,
                           self.as_of, sender)


def build_email(recipient: str, subject: str, text: str, html: str, message_key: str,
                as_of: pd.Timestamp, sender: str = DEFAULT_SENDER) -> EmailMessage:
    """A multipart/alternative e-mail whose Message-ID derives from `message_key`.

    KEY_HEADER and AS_OF_HEADER let delivery deduplicate and log any message, digest included.
    Every header value goes through `header_safe`: a team name or address from a source with a
    line break in it neither adds a header nor stops the message being built.
    """
    message = EmailMessage()
    message["Subject"] = header_safe(subject)
    message["From"] = header_safe(sender)
    message["To"] = header_safe(recipient)
    message["Message-ID"] = f"<{_UNSAFE.sub('.', message_key).strip('.')}@victims-code.vcp>"
    message[KEY_HEADER] = header_safe(message_key)
    message[AS_OF_HEADER] = utc_instant(as_of).isoformat()
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.policy = _HEADER_POLICY  # the parts are encoded: this only changes how headers fold
    return message


class LocalSenderError(InputError):
    """A from-address on this machine (`x@localhost`): replies and bounces would go nowhere."""


def configured_sender(environ: dict[str, str] | None = None) -> str:
    """The from-address every e-mail carries: `VCP_MAIL_FROM`, else DEFAULT_SENDER. The Airflow
    SMTP connection's `from_email` does not override it (one setting, in one place)."""
    environ = os.environ if environ is None else environ
    return (environ.get(SENDER_ENV) or "").strip() or DEFAULT_SENDER


def refuse_local_sender(sender: str) -> str:
    """`sender`, or `LocalSenderError` when it has no domain or a domain of this machine."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2].lower() if "@" in address else ""
    if not domain or domain in _LOCAL_DOMAINS or domain.endswith((".localhost", ".localdomain", ".local")):
        raise LocalSenderError(
            f"refusing to send e-mail from {sender!r}: a from-address on this machine cannot be "
            f"replied to; set {SENDER_ENV} to the force's address (e.g. {DEFAULT_SENDER!r})")
    return sender


def message_key(department: str, team: str, as_of: pd.Timestamp) -> str:
    """`RESP-B3/2026-04-02`: the team (or `FORCE_RESPONSE:no-team`) and the as-of's local date."""
    day = np.datetime_as_string(local_dates(pd.DatetimeIndex([utc_instant(as_of)]))[0], unit="D")
    return f"{team if team != DEFAULT_TEAM else department + ':no-team'}/{day}"


def utc_instant(instant: pd.Timestamp | str) -> pd.Timestamp:
    """The instant as a UTC `pd.Timestamp`, through the one conversion (`instants.utc_instant`:
    a naive value is refused, an as-of must say which clock)."""
    return pd.Timestamp(instants.utc_instant(pd.Timestamp(instant), "as_of")).tz_convert("UTC")
