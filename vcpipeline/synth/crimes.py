"""The force's crimes and their victims: when reported, to which department, for which offence,
and which victims are owed the enhanced service."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.sources.crime_recording import ages_at
from vcpipeline.synth.calibration import (
    DEPARTMENT_SHARE,
    OFFENCE_SHARE,
    PPU_OFFENCE_SHARE,
    SERIOUS_OFFENCES,
    VICTIMS_PER_CRIME,
)
from vcpipeline.synth.timing import RuleDeadlines, local_naive


def crimes_and_victims(rng: np.random.Generator, n: int, start: int, end: int,
                       deadlines: RuleDeadlines) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n` crimes reported in [start, end) seconds, one row each (reported, department, offence,
    flags, rule set, its victims' positions), and one row per victim (crime position,
    vulnerability, date of birth, enhanced, department, rule set)."""
    reported = np.sort(rng.integers(start, end, n))
    departments = np.array(DEPARTMENTS, dtype=object)
    share = np.array([DEPARTMENT_SHARE[d] for d in DEPARTMENTS])
    dept = rng.choice(len(departments), n, p=share / share.sum())

    offences = np.array(list(OFFENCE_SHARE), dtype=object)
    base = np.array([OFFENCE_SHARE[o] for o in offences])
    ppu = np.array([PPU_OFFENCE_SHARE.get(o, 0.0) for o in offences])
    offence = rng.choice(len(offences), n, p=base / base.sum())
    is_ppu = departments[dept] == "PPU"
    offence[is_ppu] = rng.choice(len(offences), int(is_ppu.sum()), p=ppu / ppu.sum())
    offence_name = offences[offence]

    domestic = rng.random(n) < np.where(is_ppu, 0.55, 0.06)
    hate = rng.random(n) < 0.02
    serious = np.isin(offence_name, list(SERIOUS_OFFENCES))
    crimes = pd.DataFrame({
        "reported": reported, "department": departments[dept], "offence": offence_name,
        "domestic_abuse": domestic, "hate_crime": hate, "serious": serious,
    })
    local_day = local_naive(reported).astype("datetime64[D]")
    crimes["rule_set"] = deadlines.rule_set_of(local_day)   # the cut-over is the rule-set file's

    count = rng.choice(VICTIMS_PER_CRIME[0], n, p=VICTIMS_PER_CRIME[1])
    crimes["victim_count"] = count
    crimes["first_victim"] = np.cumsum(count) - count
    v_crime = np.repeat(np.arange(n), count)
    victims = _victims(rng, v_crime, is_ppu, local_day[v_crime])
    victims["enhanced"] = (
        victims["enhanced"].to_numpy() | serious[v_crime] | domestic[v_crime] | hate[v_crime]
    )
    victims["department"] = crimes["department"].to_numpy()[v_crime]
    victims["rule_set"] = crimes["rule_set"].to_numpy()[v_crime]
    return crimes, victims


def _victims(rng: np.random.Generator, v_crime: np.ndarray, is_ppu: np.ndarray,
             report_day: np.ndarray) -> pd.DataFrame:
    """The victims, with `enhanced` from what is known about them alone (age and vulnerability);
    the crime's own reasons (serious, domestic, hate) are added by the caller."""
    m = len(v_crime)
    child = rng.random(m) < np.where(is_ppu[v_crime], 0.30, 0.10)
    age = np.where(child, rng.integers(0, 18, m), np.clip(18 + rng.gamma(2.2, 14.0, m), 18, 95)).astype(int)
    born = report_day - (age * 365.25 + rng.uniform(0, 364, m)).astype("timedelta64[D]")
    dob = pd.Series(np.datetime_as_string(born, unit="D"), dtype="string")
    dob = dob.where(rng.random(m) >= 0.02, "")   # 2 % date of birth unknown
    report_text = pd.Series(np.datetime_as_string(report_day, unit="D"), dtype="string")
    ages = ages_at(dob, report_text)   # the adapter's own arithmetic, so both agree on "child"

    victims = pd.DataFrame({
        "crime": v_crime,
        "vulnerable": rng.random(m) < np.where(is_ppu[v_crime], 0.30, 0.06),
        "intimidated": rng.random(m) < 0.03,
        "persistently_targeted": rng.random(m) < 0.03,
        "date_of_birth": dob,
    })
    known_age = ages != ""
    under_18 = known_age & (pd.to_numeric(ages.where(known_age, "99")) < 18)
    victims["enhanced"] = (
        under_18.to_numpy() | victims["vulnerable"].to_numpy() | victims["intimidated"].to_numpy()
        | victims["persistently_targeted"].to_numpy()
    )
    return victims
