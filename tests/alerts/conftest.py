"""Alert fixtures: a small force response department on the night of Thursday 2 April 2026
(the next working day is Tuesday 7 April: Good Friday and Easter Monday), a warehouse holding it,
and SMTP servers on loopback (the project's MailSink, and one that refuses on demand)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from vcpipeline.calendar import start_of_local_day
from vcpipeline.orchestration.mailsink import MailSink
from vcpipeline.warehouse.schema import metadata as warehouse_metadata

# 02:00 BST on Thursday 2 April 2026: the end of the night the nightly run evaluates.
AS_OF = pd.Timestamp("2026-04-02T01:00:00Z")
NEXT_NIGHT = pd.Timestamp("2026-04-03T01:00:00Z")

TEAMS = pd.DataFrame({
    "department": ["FORCE_RESPONSE", "FORCE_RESPONSE", "FORCE_RESPONSE", "PPU"],
    "team": ["RESP-B3", "RESP-A1", "", "PPU-C2"],
    "lead_name": ["Gwen Lomax", "Alison Kershaw", "Hugh Pickles", "Piers Marsden"],
    "lead_email": ["gwen.lomax@force.example", "alison.kershaw@force.example",
                   "hugh.pickles@force.example", "piers.marsden@force.example"],
})
OBLIGATION_COLUMNS = (
    "crime_ref", "victim_id", "rule", "trigger_event_id", "trigger_at", "due_at", "met_at",
    "status", "enhanced", "rule_set", "department", "team", "officer_collar",
)


def due_at(day: str) -> pd.Timestamp:
    """`due_at` of an obligation whose last day is the local date `day`."""
    return start_of_local_day(np.array([np.datetime64(day) + np.timedelta64(1, "D")]))[0]


def obligation(crime_ref: str, rule: str, status: str, due_day: str, *, team: str = "RESP-B3",
               department: str = "FORCE_RESPONSE", trigger: str = "", victim: str = "V1",
               enhanced: bool = False, met_at: str | None = None, collar: str = "4521",
               trigger_type: str | None = None) -> dict[str, Any]:
    row = {
        "crime_ref": crime_ref, "victim_id": victim, "rule": rule, "trigger_event_id": trigger,
        "trigger_at": pd.Timestamp("2026-03-16T10:00:00Z"), "due_at": due_at(due_day),
        "met_at": pd.Timestamp(met_at) if met_at else pd.NaT, "status": status,
        "enhanced": enhanced, "rule_set": "vcop-2020", "department": department, "team": team,
        "officer_collar": collar,
    }
    if trigger_type is not None:
        row["trigger_event_type"] = trigger_type
    return row


def night_one() -> pd.DataFrame:
    """RESP-B3: 4 new breaches and 7 due by Tue 7 Apr (the issue's example); RESP-A1: one of
    each; a crime without a team (default lead); PPU-C2: nothing new; things that are not news."""
    rows = [
        # RESP-B3: four breaches (one of them met late), due 25 Mar .. 1 Apr
        obligation("CR-1001", "investigation_update", "BREACHED", "2026-04-01", trigger="EV-1",
                   trigger_type="SUSPECT_ARRESTED"),
        obligation("CR-1002", "acknowledgement", "BREACHED", "2026-03-31"),
        obligation("CR-1003", "needs_referral", "MET_LATE", "2026-03-30",
                   met_at="2026-03-31T09:00:00Z"),
        obligation("CR-1004", "outcome_notification", "BREACHED", "2026-03-25", trigger="EV-4",
                   enhanced=True, collar="7781"),
        # RESP-B3: seven at risk, due Thu 2 Apr (today) or by Tue 7 Apr (next working day)
        *[obligation(f"CR-20{i:02d}", "acknowledgement", "PENDING", "2026-04-02") for i in range(4)],
        obligation("CR-2004", "vps_offer", "PENDING", "2026-04-07", trigger="EV-24"),
        obligation("CR-2005", "investigation_update", "PENDING", "2026-04-07", trigger="EV-25",
                   enhanced=True),
        obligation("CR-2006", "needs_referral", "PENDING", "2026-04-07", victim="V2"),
        # RESP-B3: not news — met on time, due later, a breach too old to be new
        obligation("CR-3001", "acknowledgement", "MET", "2026-03-20", met_at="2026-03-18T09:00:00Z"),
        obligation("CR-3002", "acknowledgement", "PENDING", "2026-04-08"),
        obligation("CR-3003", "acknowledgement", "BREACHED", "2026-02-20"),
        # RESP-A1: one breach, one at risk
        obligation("CR-4001", "vps_feedback", "BREACHED", "2026-03-31", team="RESP-A1",
                   trigger="EV-41", collar="1200"),
        obligation("CR-4002", "acknowledgement", "PENDING", "2026-04-07", team="RESP-A1", collar="1200"),
        # a crime with no team, and one whose team is not in the reference: the default lead
        obligation("CR-5001", "acknowledgement", "BREACHED", "2026-03-31", team=""),
        obligation("CR-5002", "acknowledgement", "PENDING", "2026-04-02", team="RESP-Z9"),
        # PPU-C2: only obligations met on time
        obligation("CR-6001", "acknowledgement", "MET", "2026-03-27", team="PPU-C2",
                   department="PPU", met_at="2026-03-24T09:00:00Z"),
    ]
    frame = pd.DataFrame(rows)
    frame["trigger_event_type"] = frame["trigger_event_type"].astype("object")
    return frame


def no_log() -> pd.DataFrame:
    return pd.DataFrame(columns=["kind", "crime_ref", "victim_id", "rule", "trigger_event_id",
                                 "risk_due_date"])


# ----------------------------------------------------------------------------- the warehouse

def store_night(engine: Engine, obligations: pd.DataFrame) -> None:
    """Put the crimes (team, collar) and obligations of `obligations` in the warehouse."""
    from vcpipeline.warehouse.load import start_batch, upsert_crimes, upsert_events

    crimes = obligations.drop_duplicates("crime_ref").assign(
        reported_at=pd.Timestamp("2026-03-16T10:00:00Z"), offence_category="burglary",
        domestic_abuse=False, hate_crime=False, source_system="crime_recording",
        source_row_id=lambda f: f["crime_ref"], extracted_at=pd.Timestamp("2026-04-02T00:30:00Z"),
        team=lambda f: f["team"].replace("", None),
        victim_name="Alice Example",  # PII the loader drops
    )
    with engine.begin() as conn:
        batch = start_batch(conn, "crime_recording", datetime(2026, 4, 1, 1, tzinfo=UTC),
                            datetime(2026, 4, 2, 1, tzinfo=UTC))
        upsert_crimes(conn, crimes, batch)
        typed = obligations[obligations["trigger_event_type"].notna()]
        upsert_events(conn, pd.DataFrame({
            "event_id": typed["trigger_event_id"], "crime_ref": typed["crime_ref"],
            "victim_id": None, "event_type": typed["trigger_event_type"],
            "occurred_at": typed["trigger_at"], "source_system": "crime_recording",
            "source_row_id": typed["trigger_event_id"],
            "extracted_at": pd.Timestamp("2026-04-02T00:30:00Z"),
        }), batch)
        table = warehouse_metadata.tables["obligations"]
        conn.execute(sa.delete(table))
        stored = [c for c in OBLIGATION_COLUMNS if c not in ("team", "officer_collar")]
        stored += [c for c in ("owner",) if c in obligations.columns and c in table.c]  # version 2
        rows = obligations.loc[:, stored]
        records = []
        for record in rows.to_dict("records"):
            record = {k: (None if v is pd.NaT else v) for k, v in record.items()}
            for key in ("trigger_at", "due_at", "met_at"):
                if record[key] is not None:
                    record[key] = pd.Timestamp(record[key]).to_pydatetime()
            records.append(record)
        conn.execute(table.insert(), records)


# ----------------------------------------------------------------------------- SMTP on loopback

@pytest.fixture
def mail_sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as sink:
        yield sink


class RefusingHandler:
    """aiosmtpd handler that answers `451` to the first `refusals` DATA commands, then accepts."""

    def __init__(self, refusals: int = 1) -> None:
        self.refusals = refusals
        self.refused = 0
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 Temporarily unable to accept mail, try again later"
        data = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(data, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def refusing_smtp() -> Iterator[Callable[[int], tuple[RefusingHandler, str, int]]]:
    """Start an SMTP server that refuses the first N messages: returns (handler, host, port)."""
    from aiosmtpd.controller import Controller

    controllers = []

    def start(refusals: int = 1) -> tuple[RefusingHandler, str, int]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        handler = RefusingHandler(refusals)
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return handler, "127.0.0.1", port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (for 'the mail server is down')."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
