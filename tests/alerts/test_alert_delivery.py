"""Delivering the alerts through a real SMTP server on loopback, logged in a real warehouse."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.deliver import DeliveryError, deliver, smtp_sender
from vcpipeline.alerts.digest import compose_data_engineering_digest
from vcpipeline.alerts.run import run_alerts
from vcpipeline.alerts.store import (
    read_already_alerted,
    read_obligations_for_alerts,
    read_sent_messages,
)
from vcpipeline.orchestration.mailsink import message_text
from vcpipeline.warehouse.schema import alert_log

from .conftest import AS_OF, NEXT_NIGHT, TEAMS, night_one, store_night

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def _alerts(engine, as_of=AS_OF, obligations=None):
    """Compose from what the warehouse holds, as the nightly task does."""
    with engine.connect() as conn:
        stored = read_obligations_for_alerts(conn, as_of) if obligations is None else obligations
        already = read_already_alerted(conn)
    return compose_team_alerts(stored, TEAMS, already, as_of)


def test_each_team_lead_receives_one_email_with_the_counts_rows_and_both_parts(engine, mail_sink):
    store_night(engine, night_one())
    report = deliver(_alerts(engine), engine, smtp_sender(mail_sink.host, mail_sink.port))
    assert report.ok and len(report.sent) == 3

    received = {message["To"]: message for message in mail_sink.messages()}
    assert set(received) == {"gwen.lomax@force.example", "alison.kershaw@force.example",
                             "hugh.pickles@force.example"}
    b3 = received["gwen.lomax@force.example"]
    assert b3["Subject"] == "Victims Code: Force Response Team B3 — 3 new breaches, 1 met late, 7 due by Tue 7 Apr"
    assert b3.get_content_type() == "multipart/alternative"
    plain = b3.get_body(preferencelist=("plain",)).get_content()
    html = b3.get_body(preferencelist=("html",)).get_content()
    for crime_ref in ("CR-1001", "CR-1002", "CR-1003", "CR-1004", *(f"CR-20{i:02d}" for i in range(7))):
        assert crime_ref in plain and crime_ref in html
    assert "CR-3002" not in plain  # due next Wednesday: not yet at risk
    # The trigger's event type comes from the warehouse: "of an arrest", not the generic phrase.
    assert "Update the victim within 5 working days of an arrest" in plain
    assert "Due Wed 1 Apr 2026" in message_text(b3)


def test_a_rerun_of_the_same_night_sends_nothing(engine, mail_sink):
    store_night(engine, night_one())
    send = smtp_sender(mail_sink.host, mail_sink.port)
    deliver(_alerts(engine), engine, send)
    before = len(mail_sink.files())

    assert _alerts(engine) == []  # everything is in the log
    report = deliver(compose_team_alerts(night_one(), TEAMS, pd.DataFrame(
        columns=["kind", "crime_ref", "victim_id", "rule", "trigger_event_id", "risk_due_date"]),
        AS_OF), engine, send)  # even messages composed without the log: their keys were sent
    assert report.sent == [] and len(report.already_sent) == 3
    assert len(mail_sink.files()) == before


def test_a_breach_is_alerted_once_across_nights_and_at_risk_once_per_due_date(engine, mail_sink):
    send = smtp_sender(mail_sink.host, mail_sink.port)
    store_night(engine, night_one())
    deliver(_alerts(engine), engine, send)

    friday = night_one()
    overdue = (friday["status"] == "PENDING") & (friday["due_at"] <= NEXT_NIGHT)
    friday.loc[overdue, "status"] = "BREACHED"
    store_night(engine, friday)
    deliver(_alerts(engine, NEXT_NIGHT), engine, send)

    with engine.connect() as conn:
        log = pd.DataFrame(conn.execute(sa.select(alert_log)).mappings().all())
    per_key = Counter(zip(log["kind"], log["crime_ref"], log["victim_id"], log["rule"],
                          log["trigger_event_id"], log["risk_due_date"], strict=True))
    assert max(per_key.values()) == 1
    # CR-2000 was at risk on Thursday and breached on Friday: one alert of each kind.
    assert sorted(log.loc[log["crime_ref"] == "CR-2000", "kind"]) == ["at_risk", "breach"]
    # CR-2004 (due Tuesday) was alerted on Thursday only, though still at risk on Friday.
    assert log.loc[log["crime_ref"] == "CR-2004", "message_key"].tolist() == ["RESP-B3/2026-04-02"]
    friday_mail = [m for m in mail_sink.messages() if "2026-04-03" in m["Message-ID"]]
    assert sorted(m["To"] for m in friday_mail) == ["gwen.lomax@force.example", "hugh.pickles@force.example"]


def test_a_refused_email_is_not_marked_sent_and_the_retry_sends_only_it(engine, refusing_smtp):
    store_night(engine, night_one())
    handler, host, port = refusing_smtp(1)  # "451" to the first DATA, then accept
    send = smtp_sender(host, port)
    with pytest.raises(DeliveryError) as failure:
        deliver(_alerts(engine), engine, send)
    assert len(failure.value.report.failed) == 1 and len(failure.value.report.sent) == 2
    assert "451" in next(iter(failure.value.report.failed.values()))

    retry = deliver(_alerts(engine), engine, send)  # what Airflow's retry does
    assert retry.ok and len(retry.sent) == 1
    assert Counter(message["To"] for message in handler.messages) == {
        "gwen.lomax@force.example": 1, "alison.kershaw@force.example": 1, "hugh.pickles@force.example": 1,
    }
    with engine.connect() as conn:
        assert len(read_sent_messages(conn)) == 3


def test_a_mail_server_that_is_down_fails_the_delivery_and_marks_nothing(engine, free_port):
    store_night(engine, night_one())
    with pytest.raises(DeliveryError, match="3 of 3 alert e-mail"):
        deliver(_alerts(engine), engine, smtp_sender("127.0.0.1", free_port, timeout=5))
    with engine.connect() as conn:
        assert read_sent_messages(conn).empty and read_already_alerted(conn).empty


def test_run_alerts_reads_the_warehouse_sends_and_mails_one_digest_per_night(engine, mail_sink, tmp_path):
    store_night(engine, night_one())
    teams_file = tmp_path / "teams.csv"
    TEAMS.to_csv(teams_file, index=False)
    send = smtp_sender(mail_sink.host, mail_sink.port)
    summary = run_alerts(engine, AS_OF, send, teams_file=teams_file,
                         data_engineering_email="data.engineering@force.example",
                         expected_sources=["crime_recording", "victim_contact"],
                         data_docs_url="http://docs.example/index.html")
    assert summary["team_emails"] == 3 and summary["digest"] is True and summary["sent"] == 4
    # CR-3003 (due in February) is outside the window alerts read: 16 crimes, not 17.
    assert summary["crimes_by_routing"] == {"team": 16, "default": 2, "none": 0}
    digest = next(m for m in mail_sink.messages() if m["To"] == "data.engineering@force.example")
    assert "victim_contact: delivered nothing" in message_text(digest)
    assert "http://docs.example/index.html" in digest.get_body(preferencelist=("html",)).get_content()

    again = run_alerts(engine, AS_OF, send, data_engineering_email="data.engineering@force.example",
                       expected_sources=["crime_recording", "victim_contact"])
    assert again["sent"] == 0 and again["already_sent"] == 1  # the digest, once per night
    assert len(mail_sink.files()) == 4


def test_digest_reports_failed_batches_empty_sources_and_high_quarantine_rates():
    batches = pd.DataFrame({
        "source_system": ["crime_recording", "victim_contact", "victim_support", "witness_care"],
        "status": ["succeeded", "failed", "succeeded", "succeeded"],
        "rows_extracted": [1000, 0, 0, 200],
        "rows_loaded": [990, 0, 0, 190],
        "rows_quarantined": [10, 0, 0, 10],
        "failed_expectations": [None, ["expect_table_row_count_to_be_between"], None, None],
    })
    digest = compose_data_engineering_digest(
        batches, None, 0.02, "file:///out/data_docs/index.html",
        recipient="data.engineering@force.example", as_of=AS_OF)
    text = message_text(digest)
    assert "victim_contact: the batch failed and was not loaded (expect_table_row_count_to_be_between)" in text
    assert "victim_support: delivered no rows" in text
    assert "witness_care: 5.0% of rows quarantined (10 of 200), above 2.0%" in text
    assert "crime_recording: 1.0%" not in text.split("BATCHES")[0]  # 1 % is under the threshold
    assert digest["Subject"].startswith("Victims Code pipeline: 3 data problems")
    assert compose_data_engineering_digest(
        batches.iloc[[0]], None, 0.02, "", recipient="de@force.example", as_of=AS_OF) is None
