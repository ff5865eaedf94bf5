"""Who leads which team: the reference data that routes each team's alerts to its lead.

A CSV `department,team,lead_name,lead_email`; a row with an empty `team` is the department's
default lead, who receives the alerts of crimes whose team is unknown (blank in the source
system, or missing from this file). Loaded into the warehouse table `team_leads`, replacing it.
Team codes are the source system's (`RESP-B3`) and name one team, so each may appear once.
Witness care teams are listed under `WITNESS_CARE` by the code the crime system's court area
maps to (`WCU-BHM`, sources.toml `court_area`, kept on each crime as `witness_care_team`): they
get the alerts of obligations witness care owns after charge for the crimes of their area.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from vcpipeline.errors import InputError
from vcpipeline.parsing import read_canonical_csv
from vcpipeline.warehouse.frames import read_frame
from vcpipeline.warehouse.schema import crimes, team_leads

TEAM_COLUMNS: tuple[str, ...] = ("department", "team", "lead_name", "lead_email")
DEFAULT_TEAM = ""  # the `team` of a department's default lead
WITNESS_CARE = "WITNESS_CARE"  # the department whose teams are named by the crimes' court areas
SYNTHETIC_DOMAIN = "force.example"
SYNTHETIC_LEFT_OUT_SHARE = 0.02

_EMAIL = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")
# Lead names for the synthetic force, deliberately disjoint from `synth.people`'s victim names so
# a PII test can never mistake a lead for a victim.
_LEAD_FORENAMES: tuple[str, ...] = (
    "Alison", "Bernard", "Carys", "Declan", "Elspeth", "Fraser", "Gwen", "Hugh", "Imogen",
    "Jarvis", "Kirsty", "Lachlan", "Morag", "Niall", "Orla", "Piers", "Rhian", "Stuart",
    "Tamsin", "Vikram",
)
_LEAD_SURNAMES: tuple[str, ...] = (
    "Ashworth", "Bramley", "Crossley", "Dunmore", "Fairbairn", "Greaves", "Holroyd", "Ingleby",
    "Kershaw", "Lomax", "Marsden", "Nuttall", "Ormerod", "Pickles", "Rishworth", "Sutcliffe",
    "Thorley", "Uttley", "Whitworth", "Yeadon",
)


def read_team_reference(path: Path | str) -> pd.DataFrame:
    """The team reference CSV, checked (see `check_team_reference`)."""
    path = Path(path)
    frame = read_canonical_csv(path, TEAM_COLUMNS)
    return check_team_reference(frame.loc[:, list(TEAM_COLUMNS)], source=str(path))


def check_team_reference(frame: pd.DataFrame, source: str = "team reference") -> pd.DataFrame:
    """Trimmed text columns; one clear error for a file that would misroute mail.

    Refused: a missing department, lead name or address; an address that is not one; a
    department's team (or default lead) listed twice; one team code under two departments.
    """
    missing = [column for column in TEAM_COLUMNS if column not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing required column(s): {', '.join(missing)}")
    clean = pd.DataFrame({
        column: frame[column].astype("string").fillna("").str.strip().astype(str)
        for column in TEAM_COLUMNS
    }).reset_index(drop=True)
    line = clean.index.to_numpy() + 2  # the header is line 1

    def _refuse(mask: pd.Series | np.ndarray, why: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            raise InputError(f"{source}: line {int(line[mask][0])}: {why}")

    for column in ("department", "lead_name", "lead_email"):
        _refuse(clean[column] == "", f"empty {column}")
    _refuse(~clean["lead_email"].str.match(_EMAIL), "lead_email is not an e-mail address")
    _refuse(clean.duplicated(["department", "team"]), "team listed twice for its department")
    named = clean[clean["team"] != DEFAULT_TEAM]
    departments = named.groupby("team")["department"].transform("nunique")
    _refuse(clean.index.isin(named.index[departments.to_numpy() > 1]),
            "team code listed under more than one department")
    return clean


def store_team_leads(conn: sa.Connection, reference: pd.DataFrame, loaded_at: datetime) -> int:
    """Replace `team_leads` with the (checked) reference; the number of rows stored."""
    reference = check_team_reference(reference)
    conn.execute(sa.delete(team_leads))
    rows = [dict(row, loaded_at=loaded_at) for row in reference.to_dict("records")]
    if rows:
        conn.execute(sa.insert(team_leads), rows)
    return len(rows)


def read_team_leads(conn: sa.Connection) -> pd.DataFrame:
    """The stored team reference (TEAM_COLUMNS)."""
    select = sa.select(*(team_leads.c[column] for column in TEAM_COLUMNS))
    return read_frame(conn, select.order_by(team_leads.c.department, team_leads.c.team))


def warehouse_teams(conn: sa.Connection) -> pd.DataFrame:
    """Every (department, team) the crime recording system has named: investigating teams, and
    the witness care teams of the crimes' court areas (under WITNESS_CARE)."""
    select = (
        sa.select(crimes.c.department, crimes.c.team).distinct()
        .where(crimes.c.team.is_not(None), crimes.c.team != "")
    )
    if "witness_care_team" in crimes.c:
        team = crimes.c.witness_care_team
        select = select.union(
            sa.select(sa.literal(WITNESS_CARE).label("department"), team.label("team")).distinct()
            .where(team.is_not(None), team != ""))
    ordered = select.subquery()
    return read_frame(conn, sa.select(ordered).order_by(ordered.c.department, ordered.c.team))


def synthetic_team_reference(teams: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A plausible reference file for the synthetic force: a lead per team and a default per department.

    About 2 % of teams (at least one, when there are two or more) are left out on purpose, so
    their crimes take the default-lead path. Names come from a small built-in list;
    addresses are `firstname.lastname@force.example`. Same teams and seed, same file.
    """
    listed = (
        teams.loc[:, ["department", "team"]].astype(str)
        .query("team != ''").drop_duplicates()
        .sort_values(["department", "team"]).reset_index(drop=True)
    )
    rng = np.random.default_rng(seed)
    leaving_out = max(1, round(len(listed) * SYNTHETIC_LEFT_OUT_SHARE)) if len(listed) >= 2 else 0
    keep = np.ones(len(listed), dtype=bool)
    keep[rng.choice(len(listed), leaving_out, replace=False)] = False
    departments = pd.DataFrame({"department": sorted(listed["department"].unique()), "team": DEFAULT_TEAM})
    rows = pd.concat([listed[keep], departments], ignore_index=True)
    names, emails = _lead_names(rng, len(rows))
    rows["lead_name"] = names
    rows["lead_email"] = emails
    return rows.sort_values(["department", "team"], ignore_index=True).loc[:, list(TEAM_COLUMNS)]


def _lead_names(rng: np.random.Generator, n: int) -> tuple[list[str], list[str]]:
    """`n` distinct made-up leads and their addresses (numbered once the name list runs out)."""
    pairs = [(f, s) for f in _LEAD_FORENAMES for s in _LEAD_SURNAMES]
    order = np.concatenate([rng.permutation(len(pairs)) for _ in range(n // len(pairs) + 1)])[:n]
    round_of = np.arange(n) // len(pairs)
    names = [f"{pairs[i][0]} {pairs[i][1]}" for i in order]
    emails = [
        f"{pairs[i][0].lower()}.{pairs[i][1].lower()}{r or ''}@{SYNTHETIC_DOMAIN}"
        for i, r in zip(order, round_of, strict=True)
    ]
    return names, emails


def write_team_reference(reference: pd.DataFrame, path: Path | str) -> Path:
    """Write a reference CSV (UTF-8, LF, header row)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    reference.loc[:, list(TEAM_COLUMNS)].to_csv(path, index=False, lineterminator="\n")
    return path
