"""The data-engineering digest: it names real problems only, by source name, and says where to look."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from vcpipeline.alerts.digest import compose_data_engineering_digest, source_names_by_system
from vcpipeline.alerts.run import run_alerts
from vcpipeline.alerts.store import read_night_quarantine_reasons
from vcpipeline.cli import main as cli_main
from vcpipeline.orchestration.mailsink import message_text
from vcpipeline.tasks.nightly import configured_sources

from .conftest import AS_OF, TEAMS, night_one, store_night

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

SYSTEMS = ["CRS", "VCL", "VS", "WCU"]


def night(status: list[str] | None = None, extracted: list[int] | None = None,
          quarantined: list[int] | None = None, systems: list[str] = SYSTEMS) -> pd.DataFrame:
    """The night's batches as `load_batches` records them: by system code."""
    n = len(systems)
    extracted = extracted or [1000] * n
    quarantined = quarantined or [0] * n
    return pd.DataFrame({
        "source_system": systems, "status": status or ["succeeded"] * n,
        "rows_extracted": extracted,
        "rows_loaded": [e - q for e, q in zip(extracted, quarantined, strict=True)],
        "rows_quarantined": quarantined,
    })


def digest(batches: pd.DataFrame, **kwargs):
    return compose_data_engineering_digest(
        batches, None, 0.02, "http://airflow.example/vcp-reports/data_docs/index.html",
        recipient="data.engineering@force.example", as_of=AS_OF,
        expected_sources=configured_sources(), **kwargs)


def test_sources_toml_maps_every_system_code_to_its_source_name():
    assert source_names_by_system() == {"CRS": "crime_recording", "VCL": "victim_contact",
                                        "VS": "victim_support", "WCU": "witness_care"}


def test_a_night_where_every_source_succeeded_reports_no_problem():
    assert digest(night()) is None


def test_only_the_source_without_a_batch_is_reported_as_delivering_nothing():
    message = digest(night(systems=["CRS", "VCL", "VS"]))
    text = message_text(message)
    assert "witness_care: delivered nothing (no batch this night)" in text
    assert text.count("delivered nothing") == 1
    assert message["Subject"].startswith("Victims Code pipeline: 1 data problem in")


def test_the_batch_table_names_sources_not_system_codes():
    text = message_text(digest(night(status=["succeeded", "failed", "succeeded", "succeeded"])))
    assert "victim_contact: the batch failed and was not loaded" in text
    assert "- crime_recording: succeeded, 1000 extracted" in text
    assert "- CRS:" not in text


def test_the_digest_lists_the_nights_quarantine_reasons_by_count_and_the_command_to_list_them():
    reasons = pd.DataFrame({
        "source_system": ["VCL", "VCL", "CRS"],
        "reason": ["expect_column_values_to_not_be_null(occurred_at)",
                   "expect_column_values_to_be_in_set(event_type)",
                   "identifier_format(crime_no)"],
        "rows": [40, 75, 3],
    })
    message = digest(night(quarantined=[3, 110, 0, 0]), quarantine_reasons=reasons)
    text = message_text(message)
    lines = [line.strip() for line in text.splitlines()]
    listed = lines[lines.index("QUARANTINED ROWS BY REASON (THIS NIGHT)") + 1:][:3]
    assert listed == ["- victim_contact: expect_column_values_to_be_in_set(event_type): 75",
                      "- victim_contact: expect_column_values_to_not_be_null(occurred_at): 40",
                      "- crime_recording: identifier_format(crime_no): 3"]
    assert "vcp quarantine list --source victim_contact" in lines
    assert "vcp quarantine list --source crime_recording" in lines
    page = message.get_body(preferencelist=("html",)).get_content()
    assert "<td><code>expect_column_values_to_be_in_set(event_type)</code></td><td>75</td>" in page
    assert 'href="http://airflow.example/vcp-reports/data_docs/index.html"' in page
    assert "file://" not in page and 'name="viewport"' in page


def test_run_alerts_puts_the_nights_quarantine_reasons_and_the_command_for_that_night_in_the_digest(
        engine, migrated_warehouse, mail_sink, tmp_path, capsys):
    from vcpipeline.alerts.deliver import smtp_sender
    from vcpipeline.warehouse.load import quarantine_rows, start_batch

    store_night(engine, night_one())
    with engine.begin() as conn:  # a quarantined row of another night is not this night's
        older = start_batch(conn, "VCL", datetime(2026, 3, 31, 1, tzinfo=UTC), datetime(2026, 4, 1, 1, tzinfo=UTC))
        quarantine_rows(conn, older, "VCL", "events", pd.DataFrame({
            "source_row_id": ["r0"], "reasons": ["expect_column_values_to_be_in_set(event_type)"]}))
        batch = start_batch(conn, "VCL", datetime(2026, 4, 1, 1, tzinfo=UTC), datetime(2026, 4, 2, 1, tzinfo=UTC))
        quarantine_rows(conn, batch, "VCL", "events", pd.DataFrame({
            "source_row_id": ["r1", "r2", "r3"],
            "reasons": ["expect_column_values_to_be_in_set(event_type)",
                        "expect_column_values_to_be_in_set(event_type);expect_column_values_to_not_be_null(occurred_at)",
                        "expect_column_values_to_not_be_null(occurred_at)"]}))
    with engine.connect() as conn:
        counted = read_night_quarantine_reasons(conn, AS_OF)
    assert counted.to_dict("records") == [
        {"source_system": "VCL", "batch_id": batch, "reason": "expect_column_values_to_be_in_set(event_type)",
         "rows": 2},
        {"source_system": "VCL", "batch_id": batch, "reason": "expect_column_values_to_not_be_null(occurred_at)",
         "rows": 2},
    ]
    teams_file = tmp_path / "teams.csv"
    TEAMS.to_csv(teams_file, index=False)
    run_alerts(engine, AS_OF, smtp_sender(mail_sink.host, mail_sink.port), teams_file=teams_file,
               data_engineering_email="data.engineering@force.example",
               expected_sources=["crime_recording", "victim_contact"])
    sent = next(m for m in mail_sink.messages() if m["To"] == "data.engineering@force.example")
    text = message_text(sent)
    assert "- victim_contact: expect_column_values_to_be_in_set(event_type): 2" in text
    command = f"vcp quarantine list --source victim_contact --batch {batch}"
    assert command in text

    capsys.readouterr()
    assert cli_main([*command.split()[1:], "--url", migrated_warehouse]) == 0  # the command works
    listed = capsys.readouterr().out
    assert re.search(r"VCL\s+events\s+expect_column_values_to_be_in_set\(event_type\)\s+2\b", listed)
    assert "occurred_at" in listed and not re.search(r"\b3\b", listed)  # the older night's row is not counted
