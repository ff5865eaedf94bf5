"""The nightly task's way of sending: the smtp provider's `SmtpHook` on connection `vcp_smtp`."""

from __future__ import annotations

import json
import sys

import pytest

from vcpipeline.alerts.reference import store_team_leads
from vcpipeline.alerts.store import read_sent_messages

from .conftest import AS_OF, TEAMS, night_one, store_night


@pytest.mark.slow  # importing Airflow and its provider takes ~10 s
def test_nightly_alerts_go_through_the_smtp_hook_from_the_configured_sender(
    engine, migrated_warehouse, mail_sink, monkeypatch, tmp_path
):
    """The connection's from_email (the demo's was `vcp-airflow@localhost`) does not override
    the configured from-address: every e-mail carries VCP_MAIL_FROM."""
    if "airflow" not in sys.modules:  # do not let Airflow write a config into the real home
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv("VCP_MAIL_FROM", "alerts@force.example")
    monkeypatch.setenv("AIRFLOW_CONN_VCP_SMTP", json.dumps({
        "conn_type": "smtp", "host": mail_sink.host, "port": mail_sink.port,
        "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "vcp-airflow@localhost"},
    }))
    from vcpipeline.alerts.run import send_nightly_alerts

    store_night(engine, night_one())
    with engine.begin() as conn:
        store_team_leads(conn, TEAMS, AS_OF.to_pydatetime())
    summary = send_nightly_alerts(AS_OF.to_pydatetime(), migrated_warehouse)
    assert summary["sent"] == 3
    messages = mail_sink.messages()
    assert {m["From"] for m in messages} == {"alerts@force.example"}  # not the connection's
    assert all([p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
               for m in messages)
    with engine.connect() as conn:
        assert len(read_sent_messages(conn)) == 3


@pytest.mark.slow
def test_nightly_alerts_through_the_hook_stop_when_the_mail_server_never_answers(
    engine, migrated_warehouse, monkeypatch, tmp_path
):
    import socket
    import time

    from vcpipeline.alerts.deliver import DeliveryError

    if "airflow" not in sys.modules:
        monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    with socket.socket() as silent:  # completes the handshake, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host, port = silent.getsockname()
        monkeypatch.setenv("AIRFLOW_CONN_VCP_SMTP", json.dumps({
            "conn_type": "smtp", "host": host, "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "alerts@force.example",
                      "timeout": 1, "retry_limit": 0},
        }))
        from vcpipeline.alerts.run import send_nightly_alerts

        store_night(engine, night_one())
        with engine.begin() as conn:
            store_team_leads(conn, TEAMS, AS_OF.to_pydatetime())
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failure:
            send_nightly_alerts(AS_OF.to_pydatetime(), migrated_warehouse, max_consecutive_timeouts=2)
        elapsed = time.monotonic() - started
    report = failure.value.report
    assert len(report.failed) == 2 and len(report.not_attempted) == 1 and report.sent == []
    assert elapsed < 10  # two 1 s timeouts and the set-up, not 30 s per e-mail
    with engine.connect() as conn:
        assert read_sent_messages(conn).empty
