"""The demo's regional returns: two more small synthetic forces, each in a warehouse of its own, and
the three forces' returns combined; no victim or crime is named in any of them."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from vcpipeline.audit.privacy_check import leaked_victim_details, leaked_victim_ids
from vcpipeline.orchestration.demo_forces import ExtraForce, build_region, build_small_force

START, DAYS = date(2026, 7, 1), 106  # 2026Q3 and the 14 days after, as the demo generates
AS_OF = datetime(2026, 10, 15, 2, tzinfo=ZoneInfo("Europe/London"))


@pytest.fixture(scope="module")
def main_force(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("main") / "DEMO-A"
    return build_small_force(folder, ExtraForce("DEMO-A", 300, 42), START, DAYS, AS_OF)


def test_each_extra_force_gets_a_warehouse_of_its_own_and_the_three_returns_are_combined(
        main_force, tmp_path):
    extra = [ExtraForce("DEMO-B", 150, 7), ExtraForce("DEMO-C", 250, 11)]
    region = build_region(main_force, "2026Q3", START, DAYS, AS_OF, tmp_path / "returns",
                          extra_forces=extra, forces_folder=tmp_path / "forces")

    for force in extra:
        with sqlite3.connect(tmp_path / "forces" / force.code / "warehouse.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM crimes").fetchone()[0] > 0
            assert conn.execute("SELECT COUNT(*) FROM obligations").fetchone()[0] > 0
    assert [p.name for p in region.returns] == [
        f"victims-code-return-{code}-2026Q3-v1.manifest.json" for code in ("DEMO-A", "DEMO-B", "DEMO-C")]
    assert region.combined == tmp_path / "returns" / "combined" / "combined-2026Q3.html"
    with (tmp_path / "returns" / "combined" / "combined-2026Q3.csv").open(encoding="utf-8") as handle:
        forces = {row["force"] for row in csv.DictReader(handle)}
    assert forces == {"DEMO-A", "DEMO-B", "DEMO-C", "ALL FORCES"}

    # No pseudonymous victim id of any of the three warehouses in any return.
    urls = [main_force, *region.warehouse_urls]
    assert leaked_victim_ids([tmp_path / "returns"], urls) == {}
    assert leaked_victim_details(tmp_path / "forces" / "DEMO-B" / "sources" / "crime_recording.db",
                                 [tmp_path / "returns"]) == {}


def test_a_victim_id_planted_in_a_return_is_found(main_force, tmp_path):
    with sqlite3.connect(main_force.removeprefix("sqlite:///")) as conn:
        victim_id, crime_ref = conn.execute("SELECT victim_id, crime_ref FROM victims LIMIT 1").fetchone()
    returns = tmp_path / "returns"
    returns.mkdir()
    (returns / "victims-code-return-DEMO-A-2026Q3-v1.csv").write_text(
        "section,measure,dimension,category,numerator\n"
        f"compliance,ALL,owner,{victim_id},3\n"
        f"compliance,ALL,owner,crime {crime_ref},4\n", encoding="utf-8")
    (returns / "combined").mkdir()
    (returns / "combined" / "combined-2026Q3.html").write_text(
        f"<table><tr><td>{victim_id}</td></tr></table>", encoding="utf-8")

    found = leaked_victim_ids([returns], [main_force])
    assert set(found) == {victim_id, crime_ref}
    assert {Path(place).name for place in found[victim_id]} == {
        "victims-code-return-DEMO-A-2026Q3-v1.csv", "combined-2026Q3.html"}
