"""Small pieces the DAGs lean on: connection → warehouse URL, configured sources, the mail sink."""

from __future__ import annotations

import smtplib

import pytest

from vcpipeline.orchestration.mailsink import MailSink, message_text
from vcpipeline.tasks import nightly


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        ("sqlite:///var/warehouse.db", "sqlite:///var/warehouse.db"),
        ("sqlite:////srv/vcp/warehouse.db", "sqlite:////srv/vcp/warehouse.db"),
        ("postgresql://vcp:s%40cret@db:5432/warehouse", "postgresql+psycopg://vcp:s%40cret@db:5432/warehouse"),
        ("postgresql+psycopg://vcp@db/warehouse", "postgresql+psycopg://vcp@db/warehouse"),
    ],
)
def test_warehouse_connection_becomes_the_sqlalchemy_url(uri, url):
    from airflow.sdk import Connection

    from vcpipeline.orchestration.connections import sqlalchemy_url

    assert sqlalchemy_url(Connection.from_uri(uri, conn_id="vcp_warehouse")) == url


def test_configured_sources_come_from_sources_toml_in_order():
    assert nightly.configured_sources() == [
        "crime_recording", "victim_contact", "victim_support", "witness_care"
    ]


def test_crime_recording_loads_before_the_sources_whose_events_refer_to_its_crimes():
    assert nightly.configured_sources(load_first=True) == ["crime_recording"]
    assert nightly.configured_sources(load_first=False) == [
        "victim_contact", "victim_support", "witness_care"
    ]


def test_nightly_steps_refuse_naive_datetimes_and_unknown_sources(tmp_path):
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="unknown source"):
        nightly.extract_validate_load("nope", datetime(2026, 1, 1, tzinfo=UTC),
                                      datetime(2026, 1, 2, tzinfo=UTC), "sqlite://")
    with pytest.raises(ValueError, match="naive"):
        nightly.evaluate_obligations(datetime(2026, 1, 1), f"sqlite:///{tmp_path / 'w.db'}")


def test_mail_sink_files_each_message_as_eml(tmp_path):
    with MailSink(tmp_path / "mail") as sink:
        with smtplib.SMTP(sink.host, sink.port) as client:
            client.sendmail("from@force.example", ["lead@force.example"],
                            "Subject: breaches\r\n\r\n3 at risk\r\n")
        (message,) = sink.messages()
    assert message["Subject"] == "breaches"
    assert message_text(message).strip() == "3 at risk"
    assert [p.name for p in sink.files()] == ["00001-lead_force.example.eml"]
