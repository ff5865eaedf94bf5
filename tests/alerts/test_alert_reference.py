"""Team reference data: the CSV, its checks, the warehouse table, and the synthetic force's file."""

from __future__ import annotations

import pandas as pd
import pytest

from vcpipeline.alerts.reference import (
    check_team_reference,
    read_team_leads,
    read_team_reference,
    store_team_leads,
    synthetic_team_reference,
    write_team_reference,
)
from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.errors import InputError

from .conftest import TEAMS


def _teams(n_per_department: int = 48) -> pd.DataFrame:
    rows = [(d, f"U{j}-{chr(65 + i // 6)}{i % 6 + 1}")
            for j, d in enumerate(DEPARTMENTS) for i in range(n_per_department)]
    return pd.DataFrame(rows, columns=["department", "team"])


def test_reference_csv_round_trips_with_blank_team_as_the_default_lead(tmp_path):
    path = tmp_path / "teams.csv"
    path.write_text(
        "department,team,lead_name,lead_email\n"
        "FORCE_RESPONSE,RESP-B3, Gwen Lomax ,gwen.lomax@force.example\n"
        "FORCE_RESPONSE,,Hugh Pickles,hugh.pickles@force.example\n",
        encoding="utf-8",
    )
    frame = read_team_reference(path)
    assert frame.to_dict("records") == [
        {"department": "FORCE_RESPONSE", "team": "RESP-B3", "lead_name": "Gwen Lomax",
         "lead_email": "gwen.lomax@force.example"},
        {"department": "FORCE_RESPONSE", "team": "", "lead_name": "Hugh Pickles",
         "lead_email": "hugh.pickles@force.example"},
    ]


@pytest.mark.parametrize(("rows", "message"), [
    ([("PPU", "PPU-A1", "Orla Nuttall", "not-an-address")], "line 2: lead_email is not an e-mail address"),
    ([("PPU", "PPU-A1", "", "orla@force.example")], "line 2: empty lead_name"),
    ([("PPU", "PPU-A1", "A B", "a@force.example"), ("PPU", "PPU-A1", "C D", "c@force.example")],
     "line 3: team listed twice"),
    ([("PPU", "", "A B", "a@force.example"), ("PPU", "", "C D", "c@force.example")],
     "line 3: team listed twice"),
    ([("PPU", "X-1", "A B", "a@force.example"), ("VVA", "X-1", "C D", "c@force.example")],
     "line 2: team code listed under more than one department"),
])
def test_a_reference_that_would_misroute_mail_is_refused_naming_the_line(rows, message):
    frame = pd.DataFrame(rows, columns=["department", "team", "lead_name", "lead_email"])
    with pytest.raises(InputError, match=message):
        check_team_reference(frame, source="teams.csv")


def test_a_reference_file_without_a_column_is_a_clear_error(tmp_path):
    path = tmp_path / "teams.csv"
    path.write_text("department,team,lead_name\nPPU,PPU-A1,Orla Nuttall\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing required column"):
        read_team_reference(path)


def test_loading_the_reference_replaces_the_table(engine):
    with engine.begin() as conn:
        store_team_leads(conn, TEAMS, pd.Timestamp("2026-04-01T08:00:00Z").to_pydatetime())
        store_team_leads(conn, TEAMS.iloc[:2], pd.Timestamp("2026-04-02T08:00:00Z").to_pydatetime())
    with engine.connect() as conn:
        stored = read_team_leads(conn)
    assert sorted(stored["team"]) == ["RESP-A1", "RESP-B3"]


def test_synthetic_reference_leaves_about_two_percent_of_teams_to_the_default_lead():
    teams = _teams()
    reference = synthetic_team_reference(teams, seed=11)
    named = reference[reference["team"] != ""]
    left_out = len(teams) - len(named)
    assert left_out == round(len(teams) * 0.02)  # 384 teams: 8 left out
    assert sorted(reference.loc[reference["team"] == "", "department"]) == sorted(DEPARTMENTS)
    assert reference["lead_email"].is_unique
    assert reference["lead_email"].str.fullmatch(r"[a-z]+\.[a-z]+\d*@force\.example").all()
    first, last = reference.iloc[0]["lead_name"].split(" ")
    assert reference.iloc[0]["lead_email"].startswith(f"{first.lower()}.{last.lower()}@")
    check_team_reference(reference)  # a valid file


def test_synthetic_reference_is_the_same_for_the_same_teams_and_seed_in_any_order(tmp_path):
    teams = _teams(6)
    one = synthetic_team_reference(teams, seed=5)
    two = synthetic_team_reference(teams.sample(frac=1, random_state=1), seed=5)
    pd.testing.assert_frame_equal(one, two)
    assert not one.equals(synthetic_team_reference(teams, seed=6))
    path = write_team_reference(one, tmp_path / "ref" / "teams.csv")
    pd.testing.assert_frame_equal(read_team_reference(path), one)
