"""Delivery under hostile data and a mail server that never answers: one bad message does not
stop the others, a silent server does not hold the night for hours, and the retry sends exactly
what was not sent (through real SMTP servers on loopback, logged in a real warehouse)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Iterator

import pandas as pd
import pytest

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.deliver import DeliveryError, deliver, smtp_sender
from vcpipeline.alerts.messages import build_email
from vcpipeline.alerts.store import read_already_alerted, read_sent_messages

from .conftest import AS_OF, TEAMS, night_one, obligation, store_night

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

HOSTILE_TEAM = "RESP-C4\r\nBcc: attacker@evil.example"


@pytest.fixture
def silent_smtp() -> Iterator[tuple[str, int]]:
    """A listener on loopback that completes the TCP handshake and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(32)
        yield listener.getsockname()
        # never accept(): the kernel holds the connections, the greeting never comes


def _alerts(engine, teams: pd.DataFrame, all_clear: bool = False):
    from vcpipeline.alerts.store import read_obligations_for_alerts

    with engine.connect() as conn:
        stored = read_obligations_for_alerts(conn, AS_OF)
        already = read_already_alerted(conn)
    return compose_team_alerts(stored, teams, already, AS_OF, all_clear)


def _sent_keys(engine) -> list[str]:
    with engine.connect() as conn:
        return read_sent_messages(conn)["message_key"].tolist()


def test_a_line_break_in_a_team_name_neither_stops_the_emails_nor_adds_a_header(engine, mail_sink):
    night = pd.concat([night_one(), pd.DataFrame([
        obligation("CR-7001", "acknowledgement", "BREACHED", "2026-03-31", team=HOSTILE_TEAM)])],
        ignore_index=True)
    store_night(engine, night)
    teams = pd.concat([TEAMS, pd.DataFrame([{
        "department": "FORCE_RESPONSE", "team": HOSTILE_TEAM, "lead_name": "Cara Nott",
        "lead_email": "cara.nott@force.example"}])], ignore_index=True)

    report = deliver(_alerts(engine, teams), engine, smtp_sender(mail_sink.host, mail_sink.port))

    assert report.ok and len(report.sent) == 4
    received = {message["To"]: message for message in mail_sink.messages()}
    assert set(received) == {"gwen.lomax@force.example", "alison.kershaw@force.example",
                             "hugh.pickles@force.example", "cara.nott@force.example"}
    cara = received["cara.nott@force.example"]
    subject = " ".join(cara["Subject"].split())  # a long subject is folded in transit
    assert subject == "Victims Code: Force Response Team C4 Bcc: attacker@evil.example — 1 new breach, 0 due by Tue 7 Apr"
    assert cara["Bcc"] is None and "\n" not in cara["X-VCP-Message-Key"]
    assert not any("evil" in path.name for path in mail_sink.files())
    assert len(_sent_keys(engine)) == 4


def test_header_values_are_put_on_one_line():
    message = build_email("lead@force.example\r\nBcc: x@evil.example", "Subject\rwith\nbreaks\u2028here",
                          "text", "<p>html</p>", "TEAM\n1/2026-04-02", AS_OF)
    assert message["Subject"] == "Subject with breaks here"
    assert message["Bcc"] is None and "\n" not in str(message["To"])
    assert message["X-VCP-Message-Key"] == "TEAM 1/2026-04-02"


def test_a_message_that_cannot_be_built_is_reported_and_the_others_are_sent(engine, mail_sink):
    store_night(engine, night_one())
    teams = TEAMS.copy()
    # A typo in the team reference that the e-mail package cannot parse (it raises, not a defect).
    teams.loc[teams["team"] == "RESP-B3", "lead_email"] = "gwen.lomax@[force.example"
    send = smtp_sender(mail_sink.host, mail_sink.port)

    with pytest.raises(DeliveryError, match="1 could not be built") as failure:
        deliver(_alerts(engine, teams), engine, send)

    report = failure.value.report
    assert list(report.unbuildable) == ["RESP-B3/2026-04-02"] and "Error" in report.unbuildable["RESP-B3/2026-04-02"]
    assert sorted(report.sent) == ["FORCE_RESPONSE:no-team/2026-04-02", "RESP-A1/2026-04-02"]
    assert report.summary()["unbuildable"] == 1 and report.summary()["unbuildable_keys"] == ["RESP-B3/2026-04-02"]
    assert sorted(m["To"] for m in mail_sink.messages()) == ["alison.kershaw@force.example", "hugh.pickles@force.example"]
    assert "RESP-B3/2026-04-02" not in _sent_keys(engine)  # not logged: a fixed name is sent next time

    fixed = deliver(_alerts(engine, TEAMS), engine, send)
    assert fixed.sent == ["RESP-B3/2026-04-02"]


def _five_teams() -> pd.DataFrame:
    return pd.concat([TEAMS, pd.DataFrame([{"department": "PPU", "team": "PPU-D1", "lead_name": "Dee Ellis",
                                            "lead_email": "dee.ellis@force.example"}])], ignore_index=True)


def test_a_silent_mail_server_stops_delivery_after_three_timeouts_and_the_retry_sends_exactly_the_rest(
        engine, mail_sink, silent_smtp):
    store_night(engine, night_one())
    teams = _five_teams()
    good = smtp_sender(mail_sink.host, mail_sink.port, timeout=5)
    silent = smtp_sender(*silent_smtp, timeout=0.3)

    def send(message):  # the first lead's mail goes through, then the server goes silent
        (good if message["To"] == "hugh.pickles@force.example" else silent)(message)

    alerts = _alerts(engine, teams, all_clear=True)
    assert len(alerts) == 5
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="4 of 5 alert e-mail") as failure:
        deliver(alerts, engine, send, max_consecutive_timeouts=3, deadline=60)
    elapsed = time.monotonic() - started

    report = failure.value.report
    assert elapsed < 3  # three 0.3 s timeouts, not one per message (nor 30 s each)
    assert report.sent == ["FORCE_RESPONSE:no-team/2026-04-02"]
    assert len(report.failed) == 3 and all("timed out" in reason for reason in report.failed.values())
    assert report.not_attempted == ["PPU-D1/2026-04-02"] and "3 consecutive timeouts" in report.stopped
    assert report.summary()["not_attempted_keys"] == ["PPU-D1/2026-04-02"]

    retry = deliver(_alerts(engine, teams, all_clear=True), engine, good)  # Airflow's retry
    assert retry.ok
    assert sorted(retry.sent) == sorted([*report.failed, *report.not_attempted])
    assert set(Counter(m["To"] for m in mail_sink.messages()).values()) == {1}  # each lead once
    assert len(mail_sink.files()) == 5
    assert sorted(_sent_keys(engine)) == sorted(a.message_key for a in alerts)


def test_a_delivery_stops_at_its_deadline_and_reports_what_it_did_not_try(engine, silent_smtp):
    store_night(engine, night_one())
    alerts = _alerts(engine, _five_teams(), all_clear=True)
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="not tried") as failure:
        deliver(alerts, engine, smtp_sender(*silent_smtp, timeout=0.4), deadline=1.0,
                max_consecutive_timeouts=100)
    elapsed = time.monotonic() - started

    report = failure.value.report
    assert elapsed < 1.0 + 0.4 + 1.0  # the deadline plus at most one connection timeout
    assert 1 <= len(report.failed) <= 4 and report.not_attempted
    assert sorted([*report.failed, *report.not_attempted]) == sorted(a.message_key for a in alerts)
    assert "deadline" in report.stopped
    assert _sent_keys(engine) == []
