"""The demo's privacy check finds a victim's details in an output file, and nothing in clean ones."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from vcpipeline.cli import main as vcp
from vcpipeline.ingest.privacy import leaked_victim_details


@pytest.fixture(scope="module")
def sources_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("force")
    assert vcp(["generate", "--crimes", "200", "--out", str(root)]) == 0
    return root / "sources" / "crime_recording.db"


def test_a_victims_name_phone_and_postcode_in_an_email_are_found(sources_db, tmp_path):
    with sqlite3.connect(sources_db) as conn:
        forename, surname, phone, postcode = conn.execute(
            "SELECT forename, surname, phone, postcode FROM victims LIMIT 1").fetchone()
    (tmp_path / "alert.eml").write_text(f"Subject: x\n\nCall {forename} {surname} on {phone}, {postcode}\n")
    found = leaked_victim_details(sources_db, [tmp_path])
    assert {f"{forename} {surname}", postcode} <= found
    assert any(digits.endswith(phone.replace(" ", "")[-6:]) for digits in found)


def test_crime_references_and_collar_numbers_are_not_personal_details(sources_db, tmp_path):
    (tmp_path / "alert.eml").write_text("Subject: Victims Code\n\n23/004512/26 Update the victim, PC 4521\n")
    assert leaked_victim_details(sources_db, [tmp_path]) == set()
