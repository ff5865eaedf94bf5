"""`vcp ingest` and `vcp quarantine list|replay` end to end on the embedded SQLite warehouse."""

from __future__ import annotations

import pytest

from vcpipeline.cli import main
from vcpipeline.warehouse.migrate import upgrade


def test_vcp_ingest_prints_each_source_then_quarantine_lists_and_replays(
    force_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("VCP_VAR_DIR", str(force_root))
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    code = main(["ingest", "--all-until", "2026-08-16T00:00", "--url", url, "--no-data-docs",
                 "--source", "crime_recording", "--source", "victim_support"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split()[0] for line in out] == ["crime_recording", "victim_support"]
    assert all("extracted" in line and "loaded" in line and "quarantined" in line for line in out)

    assert main(["quarantine", "list", "--url", url]) == 0
    listing = capsys.readouterr().out
    assert "expect_column_values_to_be_in_set(event_type)" in listing and "CRS" in listing

    assert main(["quarantine", "replay", "--url", url, "--source", "victim_support"]) == 0
    assert "still fail" in capsys.readouterr().out


def test_vcp_ingest_refuses_a_warehouse_without_schema_and_bad_arguments(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["ingest", "--all-until", "2026-08-16", "--url", url]) == 2
    assert "has no schema" in capsys.readouterr().err
    assert main(["ingest", "--start", "2026-08-16", "--url", url]) == 2
    assert "give --start and --end" in capsys.readouterr().err
    assert main(["ingest", "--start", "tomorrow", "--end", "2026-08-16", "--url", url]) == 2
    assert "not an ISO 8601 timestamp" in capsys.readouterr().err


@pytest.mark.slow
def test_vcp_ingest_writes_offline_data_docs_per_source(force_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VCP_VAR_DIR", str(force_root))
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url)
    docs = tmp_path / "docs"
    assert main(["ingest", "--all-until", "2026-08-16T00:00", "--url", url, "--data-docs", str(docs),
                 "--source", "crime_recording", "--source", "witness_care"]) == 0
    index = docs / "witness_care" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert '<script src="http' not in page and 'rel="stylesheet" href="http' not in page
