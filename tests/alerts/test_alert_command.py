"""`vcp alerts` as operators and the demo run it."""

from __future__ import annotations

import json

from vcpipeline.alerts.store import read_sent_messages
from vcpipeline.cli import main
from vcpipeline.orchestration.mailsink import read_message

from .conftest import TEAMS, night_one, store_night

AS_OF_TEXT = "2026-04-02T02:00:00"  # naive: Europe/London, i.e. 01:00Z


def _teams_file(tmp_path):
    path = tmp_path / "teams.csv"
    TEAMS.to_csv(path, index=False)
    return path


def test_dry_run_writes_one_eml_per_team_and_sends_or_logs_nothing(engine, migrated_warehouse, tmp_path, capsys):
    store_night(engine, night_one())
    out = tmp_path / "mail"
    code = main(["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT, "--dry-run",
                 "--out", str(out), "--teams", str(_teams_file(tmp_path))])
    assert code == 0
    files = sorted(path.name for path in out.glob("*.eml"))
    assert files == ["FORCE_RESPONSE_no-team_2026-04-02.eml", "RESP-A1_2026-04-02.eml", "RESP-B3_2026-04-02.eml"]
    message = read_message(out / "RESP-B3_2026-04-02.eml")
    assert message["Subject"].endswith("3 new breaches, 1 met late, 7 due by Tue 7 Apr")
    summary = json.loads(capsys.readouterr().out)
    assert summary["dry_run"] is True and summary["team_emails"] == 3
    with engine.connect() as conn:
        assert read_sent_messages(conn).empty


def test_smtp_run_sends_and_a_second_run_sends_nothing(engine, migrated_warehouse, tmp_path, mail_sink, capsys):
    store_night(engine, night_one())
    args = ["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT,
            "--smtp", f"{mail_sink.host}:{mail_sink.port}"]
    assert main([*args, "--teams", str(_teams_file(tmp_path))]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 3
    assert main(args) == 0  # the team reference stays loaded
    assert json.loads(capsys.readouterr().out)["sent"] == 0
    assert len(mail_sink.files()) == 3


def test_an_smtp_server_that_is_down_exits_non_zero_with_one_line(engine, migrated_warehouse, tmp_path,
                                                                  free_port, capsys):
    store_night(engine, night_one())
    code = main(["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT,
                 "--smtp", f"127.0.0.1:{free_port}", "--teams", str(_teams_file(tmp_path))])
    assert code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("vcp alerts: error: 3 of 3 alert e-mail(s) not sent") and "\n" not in error


def test_usage_errors_are_one_line(migrated_warehouse, tmp_path, capsys):
    base = ["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT]
    assert main(base) == 2
    assert "exactly one of --smtp HOST:PORT and --dry-run" in capsys.readouterr().err
    assert main([*base[:-1], "yesterday", "--dry-run"]) == 2
    assert "not an ISO 8601 instant" in capsys.readouterr().err
    assert main([*base, "--smtp", "localhost"]) == 2
    assert "is not HOST:PORT" in capsys.readouterr().err
    from vcpipeline.warehouse.db import make_engine

    engine = make_engine(migrated_warehouse)
    with engine.begin() as conn:  # migrations create it: a warehouse never evaluated lacks it
        conn.exec_driver_sql("DROP TABLE obligations")
    engine.dispose()
    assert main([*base, "--dry-run", "--out", str(tmp_path)]) == 2  # no obligations table
    assert "obligations" in capsys.readouterr().err


def test_no_team_reference_is_a_clear_error(engine, migrated_warehouse, tmp_path, capsys):
    store_night(engine, night_one())
    assert main(["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT, "--dry-run",
                 "--out", str(tmp_path)]) == 2
    assert "no team reference data" in capsys.readouterr().err


def test_write_synthetic_teams_covers_the_warehouse_teams(engine, migrated_warehouse, tmp_path):
    store_night(engine, night_one())
    path = tmp_path / "teams.csv"
    assert main(["alerts", "--url", migrated_warehouse, "--write-synthetic-teams", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith("department,team,lead_name,lead_email\n")
    assert "@force.example" in text


def test_a_silent_smtp_server_gives_up_within_the_given_bounds_with_one_line(engine, migrated_warehouse, tmp_path,
                                                                          capsys):
    import socket
    import time

    store_night(engine, night_one())
    with socket.socket() as silent:  # accepts the connection, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        started = time.monotonic()
        code = main(["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT,
                     "--smtp", f"127.0.0.1:{silent.getsockname()[1]}", "--teams", str(_teams_file(tmp_path)),
                     "--smtp-timeout", "0.3", "--max-timeouts", "2", "--deadline", "30"])
        elapsed = time.monotonic() - started
    assert code == 1 and elapsed < 5
    error = capsys.readouterr().err.strip()
    assert error.startswith("vcp alerts: error: 3 of 3 alert e-mail(s) not sent: 2 failed") and "\n" not in error
    assert "1 not tried (2 consecutive timeouts from the mail server)" in error


def test_every_email_is_from_the_configured_sender_and_a_localhost_one_is_refused(
        engine, migrated_warehouse, tmp_path, capsys, monkeypatch):
    store_night(engine, night_one())
    out = tmp_path / "mail"
    args = ["alerts", "--url", migrated_warehouse, "--as-of", AS_OF_TEXT, "--dry-run", "--out", str(out),
            "--teams", str(_teams_file(tmp_path)), "--data-engineering-email", "data-engineering@force.example"]
    monkeypatch.setenv("VCP_MAIL_FROM", "Victims Code <victims-code@force.example>")
    assert main(args) == 0
    capsys.readouterr()
    senders = {read_message(path)["From"] for path in out.glob("*.eml")}
    assert senders == {"Victims Code <victims-code@force.example>"}
    monkeypatch.setenv("VCP_MAIL_FROM", "vcp-airflow@localhost")
    assert main([*args[:-4], "--out", str(tmp_path / "refused")]) == 2
    error = capsys.readouterr().err.strip()
    assert "refusing to send e-mail from 'vcp-airflow@localhost'" in error and "\n" not in error
    assert not (tmp_path / "refused").exists()
