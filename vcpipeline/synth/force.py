"""A synthetic force: a quarter's crimes, victims and the Victims Code journey of each, in the
native shapes of the four source systems (docs/sources.md).

Rates are calibrated to the board paper by reporting department (the stratum): needs
referral within 2 days ≈33 % when Force Response took the report and near 100 % for Force
Contact / IIT, updates on time ≈80 %, outcomes communicated ≈91 %, acknowledgements ≈100 %,
VPS offered for charged cases ≈100 %, VPS use reported back ≈91 %. What the data really holds
is measured afterwards by `synth.summary`, not assumed.

Everything is vectorised numpy over whole columns, driven by one seeded generator, and never
looks at today's date: the same spec gives the same rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from vcpipeline.calendar import LONDON, due_instants, local_dates, start_of_local_day
from vcpipeline.canonical import DEPARTMENTS
from vcpipeline.sources.config import SourceConfig, load_source_config
from vcpipeline.sources.crime_recording import ages_at
from vcpipeline.synth.people import personal_details

HOUR, DAY = 3600, 86400
VCOP_2020_FROM = np.datetime64("2021-04-01")

# --- calibration (board paper), by reporting department -------------------------------------
DEPARTMENT_SHARE: Mapping[str, float] = {
    "FORCE_CONTACT": 0.24, "FORCE_RESPONSE": 0.26, "IIT": 0.14, "VVA": 0.12, "PPU": 0.10,
    "CRIMINAL_JUSTICE": 0.05, "WITNESS_CARE": 0.04, "RESTORATIVE_JUSTICE": 0.05,
}
NEEDS_REFERRAL_ON_TIME: Mapping[str, float] = {
    "FORCE_CONTACT": 0.995, "FORCE_RESPONSE": 0.33, "IIT": 0.99, "VVA": 0.75, "PPU": 0.85,
    "CRIMINAL_JUSTICE": 0.70, "WITNESS_CARE": 0.80, "RESTORATIVE_JUSTICE": 0.65,
}
# Per trigger; the measured rate is higher (≈80 %) because one update answers every open
# trigger before it (an arrest and the interview hours later are usually told together).
UPDATE_ON_TIME: Mapping[str, float] = {
    "FORCE_CONTACT": 0.61, "FORCE_RESPONSE": 0.50, "IIT": 0.62, "VVA": 0.60, "PPU": 0.60,
    "CRIMINAL_JUSTICE": 0.60, "WITNESS_CARE": 0.60, "RESTORATIVE_JUSTICE": 0.58,
}
ACKNOWLEDGED_ON_TIME = 0.998
OUTCOME_COMMUNICATED_ON_TIME = 0.91
VPS_OFFERED_ON_TIME = 0.998
VPS_FEEDBACK_ON_TIME = 0.91

OFFENCE_SHARE: Mapping[str, float] = {
    "theft": 0.24, "burglary": 0.09, "criminal_damage": 0.12, "assault": 0.20, "fraud": 0.07,
    "vehicle_crime": 0.09, "robbery": 0.03, "public_order": 0.08, "sexual_offence": 0.03,
    "gbh_with_intent": 0.015, "attempted_murder": 0.002, "homicide": 0.001, "terrorism": 0.0005,
    "human_trafficking": 0.001, "kidnap": 0.002, "false_imprisonment": 0.002,
    "arson_endangering_life": 0.003,
}
# Public protection owns most sexual and domestic offences.
PPU_OFFENCE_SHARE: Mapping[str, float] = {
    "sexual_offence": 0.35, "assault": 0.35, "criminal_damage": 0.06, "public_order": 0.06,
    "false_imprisonment": 0.02, "kidnap": 0.02, "human_trafficking": 0.02, "gbh_with_intent": 0.04,
    "theft": 0.04, "fraud": 0.03, "homicide": 0.005, "attempted_murder": 0.005,
}
SERIOUS_OFFENCES: frozenset[str] = frozenset({
    "homicide", "sexual_offence", "terrorism", "human_trafficking", "attempted_murder", "kidnap",
    "false_imprisonment", "arson_endangering_life", "gbh_with_intent",
})
VICTIMS_PER_CRIME = (np.array([1, 2, 3]), np.array([0.92, 0.06, 0.02]))  # ~8 % multi-victim

# Home Office outcomes that oblige the force to tell the victim (RULES.md outcome_notification).
NOTIFIED_OUTCOMES: frozenset[int] = frozenset({*range(2, 20), 21, 22})

# Share of rows that arrive late (2-10 days after they happened) or are corrected later.
LATE_ROW_SHARE = 0.03
CORRECTED_ROW_SHARE = 0.02
# Bad rows, per affected table (docs/sources.md "Bad rows").
BAD_CODE_SHARE = 0.0025
MISSING_CRIME_SHARE = 0.0025
BEFORE_REPORT_SHARE = 0.0025
DUPLICATE_SHARE = 0.0025
UNPARSEABLE_DATE_SHARE = 0.001
BAD_CRIME_SHARE = 0.0005
REDELIVERED_FILES = 2


@dataclass(frozen=True)
class ForceSpec:
    """What to generate: how many crimes, reported over which local dates, from which seed."""

    crimes: int = 80_000
    start: date = date(2026, 7, 1)
    days: int = 92
    seed: int = 42
    tail_days: int = 14   # the extract is taken this many days after the last report day

    @property
    def window_start(self) -> pd.Timestamp:
        return pd.Timestamp(self.start).tz_localize(LONDON).tz_convert("UTC")

    @property
    def window_end(self) -> pd.Timestamp:
        return (pd.Timestamp(self.start) + pd.Timedelta(days=self.days)).tz_localize(LONDON).tz_convert("UTC")

    @property
    def extracted_at(self) -> pd.Timestamp:
        """The instant the sources are a snapshot of: nothing happens, or is written, after it."""
        return (pd.Timestamp(self.start) + pd.Timedelta(days=self.days + self.tail_days)
                ).tz_localize(LONDON).tz_convert("UTC")


@dataclass
class SyntheticForce:
    """The generated sources: native frames per source name and table, plus what was made bad."""

    spec: ForceSpec
    native: dict[str, dict[str, pd.DataFrame]]
    bad_rows: pd.DataFrame   # source, table, row_id, kind


# --- small vectorised helpers ---------------------------------------------------------------

def _seconds(stamp: pd.Timestamp) -> int:
    return int(stamp.timestamp())


def _instants(seconds: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True))


def _due(trigger: np.ndarray, n: np.ndarray | int, unit: str | np.ndarray = "working_days") -> np.ndarray:
    """`due_at` (seconds) of obligations triggered at `trigger` seconds: calendar.due_instants."""
    if len(trigger) == 0:
        return trigger.astype(np.int64)
    return due_instants(_instants(trigger), n, unit).as_unit("s").asi8


def _local_naive(seconds: np.ndarray) -> np.ndarray:
    return _instants(seconds).tz_convert(LONDON).tz_localize(None).to_numpy().astype("datetime64[s]")


def local_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DD HH:MM:SS` Europe/London wall time."""
    return pd.Series(np.datetime_as_string(_local_naive(seconds), unit="s"), dtype="string").str.replace("T", " ")


def utc_text(seconds: np.ndarray) -> pd.Series:
    """`YYYY-MM-DDTHH:MM:SSZ`."""
    return pd.Series(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), dtype="string") + "Z"


def uk_text(seconds: np.ndarray) -> pd.Series:
    """`dd/mm/yyyy HH:MM` Europe/London wall time (the partner's format)."""
    iso = pd.Series(np.datetime_as_string(_local_naive(seconds), unit="m"), dtype="string")
    return (iso.str.slice(8, 10) + "/" + iso.str.slice(5, 7) + "/" + iso.str.slice(0, 4)
            + " " + iso.str.slice(11, 16))


def _native_codes(config: SourceConfig, mapping: str) -> dict[str, str]:
    """canonical value → native code, from the declared code list (first code wins)."""
    inverse: dict[str, str] = {}
    for native, canonical in config.codes(mapping).items():
        inverse.setdefault(canonical, native)
    return inverse


def _respond(rng: np.random.Generator, trigger: np.ndarray, due: np.ndarray, on_time: np.ndarray,
             missing_share: float = 0.3, late_mean_days: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """When the satisfying contact happened, and whether it happened at all.

    On time: somewhere between the trigger and the deadline. Otherwise late (after the
    deadline) or, for `missing_share` of those, never.
    """
    n = len(trigger)
    span = np.maximum(due - trigger, HOUR)
    early = trigger + (rng.uniform(0.03, 0.9, n) * span).astype(np.int64)
    late = due + HOUR + rng.exponential(late_mean_days * DAY, n).astype(np.int64)
    present = on_time | (rng.random(n) >= missing_share)
    return np.where(on_time, early, late), present


def _uniform(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return rng.uniform(low, high, n).astype(np.int64)


class _Journey:
    """Canonical-typed events as they happen, before being split into the source systems."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, kind: str, crime: np.ndarray, at: np.ndarray, system: str | np.ndarray, *,
            victim: np.ndarray | None = None, in_need: np.ndarray | None = None,
            outcome: np.ndarray | None = None, court: np.ndarray | None = None) -> None:
        n = len(crime)
        self.parts.append({
            "event_type": np.full(n, kind, dtype=object),
            "crime": crime.astype(np.int64),
            "victim": (np.full(n, -1) if victim is None else victim).astype(np.int64),
            "at": at.astype(np.int64),
            "system": np.broadcast_to(np.asarray(system, dtype=object), (n,)).copy(),
            "in_need": np.full(n, -1, dtype=np.int8) if in_need is None else in_need.astype(np.int8),
            "outcome": np.full(n, -1, dtype=np.int16) if outcome is None else outcome.astype(np.int16),
            "court": np.full(n, "", dtype=object) if court is None else court.astype(object),
        })

    def frame(self) -> pd.DataFrame:
        columns = {key: np.concatenate([part[key] for part in self.parts]) for key in self.parts[0]}
        return pd.DataFrame(columns)


def _expand(crimes: np.ndarray, first_victim: np.ndarray, victim_count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For crime-level rows, one row per victim of the crime: (row index, victim index)."""
    counts = victim_count[crimes]
    rows = np.repeat(np.arange(len(crimes)), counts)
    offsets = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, first_victim[crimes][rows] + offsets


# --- the generator ---------------------------------------------------------------------------

def generate_force(spec: ForceSpec, configs: list[SourceConfig] | None = None) -> SyntheticForce:
    """Generate the four source systems' native rows for `spec` (in memory)."""
    configs = configs or load_source_config()
    by_name = {config.name: config for config in configs}
    rng = np.random.default_rng(spec.seed)
    horizon = _seconds(spec.extracted_at)

    crimes, victims = _crimes_and_victims(rng, spec)
    events = _journey(rng, spec, crimes, victims).frame()   # the journey's parts are freed here
    events = events[events["at"] <= horizon].reset_index(drop=True)

    bad: list[pd.DataFrame] = []
    native = {
        "crime_recording": _crime_recording(rng, crimes, victims, events, horizon,
                                            by_name["crime_recording"], bad),
        "victim_contact": _victim_contact(rng, crimes, victims, events, horizon,
                                          by_name["victim_contact"], bad),
        "victim_support": _victim_support(rng, crimes, victims, events, horizon,
                                          by_name["victim_support"], bad),
        "witness_care": _witness_care(rng, crimes, victims, events, horizon,
                                      by_name["witness_care"], bad),
    }
    bad_rows = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(
        columns=["source", "table", "row_id", "kind"])
    return SyntheticForce(spec=spec, native=native, bad_rows=bad_rows)


def _crimes_and_victims(rng: np.random.Generator, spec: ForceSpec) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = spec.crimes
    start, end = _seconds(spec.window_start), _seconds(spec.window_end)
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
    local_day = _local_naive(reported).astype("datetime64[D]")
    crimes["vcop_2020"] = local_day >= VCOP_2020_FROM

    count = rng.choice(VICTIMS_PER_CRIME[0], n, p=VICTIMS_PER_CRIME[1])
    crimes["victim_count"] = count
    crimes["first_victim"] = np.cumsum(count) - count
    v_crime = np.repeat(np.arange(n), count)
    m = len(v_crime)

    child = rng.random(m) < np.where(is_ppu[v_crime], 0.30, 0.10)
    age = np.where(child, rng.integers(0, 18, m), np.clip(18 + rng.gamma(2.2, 14.0, m), 18, 95)).astype(int)
    report_day = local_day[v_crime]
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
        | victims["persistently_targeted"].to_numpy() | serious[v_crime] | domestic[v_crime] | hate[v_crime]
    )
    victims["department"] = crimes["department"].to_numpy()[v_crime]
    return crimes, victims


def _journey(rng: np.random.Generator, spec: ForceSpec, crimes: pd.DataFrame, victims: pd.DataFrame) -> _Journey:
    """Every event of every crime: contacts, assessments, investigation, outcomes, court, VPS."""
    j = _Journey()
    n, m = len(crimes), len(victims)
    reported = crimes["reported"].to_numpy()
    first, count = crimes["first_victim"].to_numpy(), crimes["victim_count"].to_numpy()
    v_crime = victims["crime"].to_numpy()
    v_reported = reported[v_crime]
    v_dept = victims["department"].to_numpy()
    enhanced = victims["enhanced"].to_numpy()
    update_days = np.where(enhanced, 1, 5)
    victim_index = np.arange(m)

    # Acknowledgement (Q3): letters, texts or emails, all but a handful within the force standard.
    due = _due(v_reported, 5)
    at, present = _respond(rng, v_reported, due, rng.random(m) < ACKNOWLEDGED_ON_TIME)
    j.add("WRITTEN_ACKNOWLEDGEMENT", v_crime[present], at[present], "VCL", victim=victim_index[present])

    # Needs assessment and referral (Q4): the reporting department decides the rate.
    vcop_2020 = crimes["vcop_2020"].to_numpy()[v_crime]
    due = _due(v_reported, 2, np.where(vcop_2020, "working_days", "calendar_days"))
    p_needs = np.array([NEEDS_REFERRAL_ON_TIME[d] for d in v_dept])
    on_time = rng.random(m) < p_needs
    done, present = _respond(rng, v_reported, due, on_time, missing_share=0.15)
    in_need = rng.random(m) < 0.45
    # In need: assessed promptly, the referral (or the victim's decline) is what is late or on time.
    prompt = v_reported + (rng.uniform(0.05, 0.6, m) * np.maximum(np.minimum(done, due) - v_reported, HOUR)).astype(np.int64)
    assessed_at = np.where(in_need, prompt, done)
    assessed = present | in_need
    j.add("NEEDS_ASSESSMENT", v_crime[assessed], assessed_at[assessed], "VS",
          victim=victim_index[assessed], in_need=in_need[assessed])
    referred = in_need & present
    declined = rng.random(m) < 0.15
    for kind, rows in (("SUPPORT_REFERRAL", referred & ~declined), ("REFERRAL_DECLINED", referred & declined)):
        j.add(kind, v_crime[rows], done[rows], "VS", victim=victim_index[rows])

    # Investigation (crime-level milestones in the crime system).
    offence_arrest = np.where(crimes["serious"].to_numpy() | crimes["domestic_abuse"].to_numpy(), 0.55, 0.25)
    arrested = rng.random(n) < offence_arrest
    crime_index = np.arange(n)
    milestones: list[tuple[str, np.ndarray, np.ndarray]] = []

    nfa = ~arrested & (rng.random(n) < 0.45)
    t_nfa = reported + _uniform(rng, n, 2 * HOUR, 4 * DAY)
    milestones.append(("DECISION_NOT_TO_INVESTIGATE", crime_index[nfa], t_nfa[nfa]))

    t_arrest = reported + HOUR + rng.exponential(2 * DAY, n).astype(np.int64)
    t_interview = t_arrest + _uniform(rng, n, 2 * HOUR, 18 * HOUR)
    disposal = rng.choice(5, n, p=[0.28, 0.25, 0.25, 0.12, 0.10])  # charge, bail, RUI, no charge, out of court
    t_disposal = t_interview + _uniform(rng, n, HOUR, 10 * HOUR)
    milestones += [
        ("SUSPECT_ARRESTED", crime_index[arrested], t_arrest[arrested]),
        ("SUSPECT_INTERVIEWED", crime_index[arrested], t_interview[arrested]),
    ]
    for kind, code in (("SUSPECT_CHARGED", 0), ("SUSPECT_BAILED", 1),
                       ("SUSPECT_RELEASED_UNDER_INVESTIGATION", 2), ("SUSPECT_RELEASED_NO_CHARGE", 3)):
        rows = arrested & (disposal == code)
        milestones.append((kind, crime_index[rows], t_disposal[rows]))
    bailed = arrested & (disposal == 1)
    varied = bailed & (rng.random(n) < 0.3)
    milestones.append(("BAIL_CONDITIONS_CHANGED", crime_index[varied],
                       (t_disposal + _uniform(rng, n, 5 * DAY, 20 * DAY))[varied]))
    t_after_bail = t_disposal + _uniform(rng, n, 21 * DAY, 42 * DAY)
    bail_charged = bailed & (rng.random(n) < 0.5)
    bail_released = bailed & ~bail_charged
    rui = arrested & (disposal == 2)
    t_after_rui = t_disposal + _uniform(rng, n, 30 * DAY, 90 * DAY)
    rui_next = rng.random(n)
    rui_charged, rui_released = rui & (rui_next < 0.3), rui & (rui_next >= 0.3) & (rui_next < 0.6)
    milestones += [
        ("SUSPECT_CHARGED", crime_index[bail_charged], t_after_bail[bail_charged]),
        ("SUSPECT_RELEASED_NO_CHARGE", crime_index[bail_released], t_after_bail[bail_released]),
        ("SUSPECT_CHARGED", crime_index[rui_charged], t_after_rui[rui_charged]),
        ("SUSPECT_RELEASED_NO_CHARGE", crime_index[rui_released], t_after_rui[rui_released]),
    ]
    for kind, rows, at in milestones:
        j.add(kind, rows, at, "CRS")
        # Each milestone obliges an update to every victim of the crime (Q5).
        idx, victim = _expand(rows, first, count)
        trigger = at[idx]
        due = _due(trigger, update_days[victim])
        p = np.array([UPDATE_ON_TIME[d] for d in v_dept[victim]])
        sent, present = _respond(rng, trigger, due, rng.random(len(victim)) < p, missing_share=0.4)
        j.add("VICTIM_UPDATE", v_crime[victim][present], sent[present], "VCL", victim=victim[present])

    charged = (arrested & (disposal == 0)) | bail_charged | rui_charged
    t_charge = np.where(disposal == 0, t_disposal, np.where(bail_charged, t_after_bail, t_after_rui))
    released = (arrested & (disposal == 3)) | bail_released | rui_released
    t_released = np.where(disposal == 3, t_disposal, np.where(bail_released, t_after_bail, t_after_rui))
    out_of_court = arrested & (disposal == 4)

    # Finalisation with a Home Office outcome.
    code = np.full(n, -1)
    t_final = np.zeros(n, dtype=np.int64)
    code[charged], t_final[charged] = 1, t_charge[charged] + _uniform(rng, int(charged.sum()), 0, 6 * HOUR)
    code[nfa] = np.where(rng.random(int(nfa.sum())) < 0.7, 18, 14)
    t_final[nfa] = t_nfa[nfa] + _uniform(rng, int(nfa.sum()), 0, 2 * DAY)
    code[released] = rng.choice([15, 16, 21, 10], int(released.sum()))
    t_final[released] = t_released[released] + _uniform(rng, int(released.sum()), 0, 3 * DAY)
    code[out_of_court] = rng.choice([2, 3, 6, 8], int(out_of_court.sum()))
    t_final[out_of_court] = t_disposal[out_of_court] + _uniform(rng, int(out_of_court.sum()), 0, HOUR)
    unsolved = ~arrested & ~nfa
    draw = rng.random(n)
    filed = unsolved & (draw < 0.55)
    code[filed], t_final[filed] = 18, (reported + _uniform(rng, n, 5 * DAY, 40 * DAY))[filed]
    interim = unsolved & (draw >= 0.55) & (draw < 0.60)
    code[interim], t_final[interim] = 0, (reported + _uniform(rng, n, DAY, 5 * DAY))[interim]
    transferred = unsolved & (draw >= 0.60) & (draw < 0.61)
    code[transferred], t_final[transferred] = 20, (reported + _uniform(rng, n, 2 * DAY, 20 * DAY))[transferred]
    finalised = code >= 0
    j.add("CRIME_FINALISED", crime_index[finalised], t_final[finalised], "CRS", outcome=code[finalised])

    # Court (witness care unit) for charged crimes.
    t_hearing = t_charge + _uniform(rng, n, 7 * DAY, 28 * DAY)
    first_result = np.where(crimes["serious"].to_numpy() & (rng.random(n) < 0.6), "COMMITTED_TO_CROWN_COURT",
                            rng.choice(["ADJOURNED", "REMANDED", ""], n, p=[0.3, 0.1, 0.6]))
    heard = charged & (first_result != "")
    j.add("COURT_OUTCOME", crime_index[heard], t_hearing[heard], "WCU", court=first_result[heard])
    t_verdict = np.maximum(t_charge + _uniform(rng, n, 21 * DAY, 120 * DAY), t_hearing + DAY)
    verdict = rng.choice(["SENTENCED", "ACQUITTED", "DISCONTINUED", ""], n, p=[0.65, 0.15, 0.10, 0.10])
    decided = charged & (verdict != "")
    j.add("COURT_OUTCOME", crime_index[decided], t_verdict[decided], "WCU", court=verdict[decided])

    # Outcome communicated (Q6) for notifiable finalisations and court verdicts.
    notify = finalised & np.isin(code, list(NOTIFIED_OUTCOMES))
    for rows, at in ((crime_index[notify], t_final[notify]), (crime_index[decided], t_verdict[decided])):
        idx, victim = _expand(rows, first, count)
        trigger = at[idx]
        due = _due(trigger, update_days[victim])
        sent, present = _respond(rng, trigger, due, rng.random(len(victim)) < OUTCOME_COMMUNICATED_ON_TIME)
        j.add("OUTCOME_COMMUNICATED", v_crime[victim][present], sent[present], "VCL", victim=victim[present])

    # VPS offered for charged cases (Q7), sometimes taken when the crime was recorded.
    idx, victim = _expand(crime_index[charged], first, count)
    trigger = t_charge[charged][idx]
    due = _due(trigger, 5)
    at, present = _respond(rng, trigger, due, rng.random(len(victim)) < VPS_OFFERED_ON_TIME, missing_share=0.5)
    at_report = rng.random(len(victim)) < 0.2
    at = np.where(at_report, v_reported[victim] + _uniform(rng, len(victim), HOUR, DAY), at)
    response = rng.choice(["VPS_TAKEN", "VPS_DECLINED", "VPS_OFFERED"], len(victim), p=[0.75, 0.20, 0.05])
    taken_by_wcu = (rng.random(len(victim)) < 0.6) & ~at_report   # the police take it at recording
    for kind in ("VPS_TAKEN", "VPS_DECLINED", "VPS_OFFERED"):
        rows = present & (response == kind)
        system = np.where(taken_by_wcu & (response == "VPS_TAKEN"), "WCU", "VCL")[rows]
        j.add(kind, v_crime[victim][rows], at[rows], system, victim=victim[rows])

    # VPS used at sentencing (Q8) and the victim told how (Q9).
    sentenced = np.zeros(n, dtype=bool)
    sentenced[crime_index[decided][verdict[decided] == "SENTENCED"]] = True
    used = present & (response == "VPS_TAKEN") & sentenced[v_crime[victim]] & (rng.random(len(victim)) < 0.9)
    u_victim = victim[used]
    t_used = t_verdict[v_crime[u_victim]] + _uniform(rng, len(u_victim), 0, 2 * HOUR)
    j.add("VPS_USED", v_crime[u_victim], t_used, "WCU", victim=u_victim)
    due = _due(t_used, update_days[u_victim])
    sent, present = _respond(rng, t_used, due, rng.random(len(u_victim)) < VPS_FEEDBACK_ON_TIME)
    system = np.where(rng.random(len(u_victim)) < 0.8, "WCU", "VCL")
    j.add("VPS_USE_COMMUNICATED", v_crime[u_victim][present], sent[present], system[present],
          victim=u_victim[present])
    return j


# --- the source systems' native rows ---------------------------------------------------------

def _audit(rng: np.random.Generator, at: np.ndarray, horizon: int, *, min_lag: int, max_lag: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """created / modified times and which rows exist by the extract (late rows may not yet)."""
    n = len(at)
    lag = _uniform(rng, n, min_lag, max_lag)
    late = rng.random(n) < LATE_ROW_SHARE
    lag[late] = _uniform(rng, int(late.sum()), 2 * DAY, 10 * DAY)
    created = at + lag
    corrected = rng.random(n) < CORRECTED_ROW_SHARE
    modified = np.where(corrected, created + _uniform(rng, n, DAY, 15 * DAY), created)
    return created, np.minimum(modified, horizon), created <= horizon


def _pick_rows(rng: np.random.Generator, candidates: np.ndarray, share: float) -> np.ndarray:
    """Row positions among `candidates` (bool mask) chosen at `share` of all rows."""
    pool = np.flatnonzero(candidates)
    k = min(len(pool), round(share * len(candidates)))
    return np.sort(rng.choice(pool, k, replace=False)) if k else np.array([], dtype=np.int64)


def _record_bad(bad: list[pd.DataFrame], source: str, table: str, ids: pd.Series, kind: str) -> None:
    bad.append(pd.DataFrame({"source": source, "table": table,
                             "row_id": ids.astype("string").to_numpy(), "kind": kind}))


def _crime_numbers(rng: np.random.Generator, reported: np.ndarray) -> pd.Series:
    """`DD/NNNNNN/YY`: division, serial within division and year, year of recording."""
    n = len(reported)
    division = rng.integers(20, 30, n)
    year = _local_naive(reported).astype("datetime64[Y]").astype(int) + 1970
    serial = pd.DataFrame({"d": division, "y": year}).groupby(["d", "y"]).cumcount().to_numpy() + 1
    return (pd.Series(division, dtype="int64").astype("string") + "/"
            + pd.Series(serial, dtype="int64").astype("string").str.zfill(6) + "/"
            + pd.Series(year % 100, dtype="int64").astype("string").str.zfill(2))


def _crime_recording(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    n = len(crimes)
    reported = crimes["reported"].to_numpy()
    crime_no = _crime_numbers(rng, reported)
    crimes["crime_no"] = crime_no.to_numpy()
    units = _native_codes(config, "reporting_unit")
    offences = _native_codes(config, "offence_code")
    unit = crimes["department"].map(units).to_numpy(dtype=object)
    offence = crimes["offence"].map(offences).to_numpy(dtype=object)
    letter = rng.choice(list("ABCDEFGH"), n)
    team = pd.Series(unit, dtype="string") + "-" + pd.Series(letter, dtype="string") + \
        pd.Series(rng.integers(1, 7, n), dtype="int64").astype("string")
    collar = pd.Series(rng.integers(1000, 9999, n), dtype="int64").astype("string")
    created, modified, _ = _audit(rng, reported, np.iinfo(np.int64).max, min_lag=60, max_lag=2 * HOUR)
    frame = pd.DataFrame({
        "crime_id": np.arange(1, n + 1, dtype=np.int64),
        "crime_no": crime_no,
        "recorded_at": local_text(reported),
        "reporting_unit": pd.Series(unit, dtype="string"),
        "owning_team": team,
        "oic_collar": collar,
        "offence_code": pd.Series(offence, dtype="string"),
        "da_marker": pd.Series(np.where(crimes["domestic_abuse"], "Y", "N"), dtype="string"),
        "hate_marker": pd.Series(np.where(crimes["hate_crime"], "Y", "N"), dtype="string"),
        "created_at": local_text(np.minimum(created, horizon)),
        "modified_at": local_text(np.minimum(modified, horizon)),
    })
    for column, code, kind in (("offence_code", "ZZ9", "unknown_offence_code"),
                               ("reporting_unit", "SOC", "unknown_unit_code")):
        rows = _pick_rows(rng, np.ones(n, dtype=bool), BAD_CRIME_SHARE)
        frame.loc[rows, column] = code
        _record_bad(bad, "crime_recording", "crimes", frame.loc[rows, "crime_id"], kind)

    m = len(victims)
    people = personal_details(rng, m)
    v_reported = reported[victims["crime"].to_numpy()]
    v_created, v_modified, _ = _audit(rng, v_reported, np.iinfo(np.int64).max, min_lag=60, max_lag=3 * HOUR)
    markers = pd.Series("", index=range(m), dtype="string")
    for native_code, flag in config.codes("marker").items():
        has = victims[flag].to_numpy()
        markers = markers.where(~has, markers.where(markers == "", markers + ";") + native_code)
    victim_table = pd.DataFrame({
        "victim_no": np.arange(1, m + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[victims["crime"].to_numpy()],
        "forename": people["forename"], "surname": people["surname"],
        "date_of_birth": victims["date_of_birth"].to_numpy(),
        "phone": people["phone"], "address_line": people["address_line"],
        "town": people["town"], "postcode": people["postcode"],
        "markers": markers,
        "created_at": local_text(np.minimum(v_created, horizon)),
        "modified_at": local_text(np.minimum(v_modified, horizon)),
    }).astype({"crime_no": "string", "date_of_birth": "string"})
    victims["victim_no"] = victim_table["victim_no"].to_numpy()
    victims["crime_no"] = victim_table["crime_no"].to_numpy()
    victims["name"] = (people["forename"] + " " + people["surname"]).to_numpy()

    milestone_codes = _native_codes(config, "milestone_code")
    ms = events[(events["system"] == "CRS") & (events["event_type"] != "CRIME_FINALISED")]
    ms = _with_audit(rng, ms, horizon, min_lag=300, max_lag=6 * HOUR)
    ms_crime = ms["crime"].to_numpy()
    at = ms["at"].to_numpy().copy()
    before = _pick_rows(rng, np.ones(len(ms), dtype=bool), BEFORE_REPORT_SHARE)
    at[before] = reported[ms_crime[before]] - _uniform(rng, len(before), DAY, 3 * DAY)
    milestones = pd.DataFrame({
        "milestone_id": np.arange(1, len(ms) + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[ms_crime],
        "victim_no": pd.array([pd.NA] * len(ms), dtype="Int64"),
        "milestone_code": ms["event_type"].map(milestone_codes).astype("string").to_numpy(),
        "milestone_at": local_text(at),
        "created_at": local_text(ms["created"].to_numpy()),
        "modified_at": local_text(ms["modified"].to_numpy()),
    }).astype({"crime_no": "string", "milestone_code": "string"})
    _record_bad(bad, "crime_recording", "milestones", milestones.loc[before, "milestone_id"], "before_report")
    unknown = _pick_rows(rng, ~np.isin(np.arange(len(ms)), before), BAD_CODE_SHARE)
    milestones.loc[unknown, "milestone_code"] = "WNT"
    _record_bad(bad, "crime_recording", "milestones", milestones.loc[unknown, "milestone_id"], "unknown_code")

    fin = _with_audit(rng, events[events["event_type"] == "CRIME_FINALISED"], horizon,
                      min_lag=300, max_lag=12 * HOUR)
    finalisations = pd.DataFrame({
        "finalisation_id": np.arange(1, len(fin) + 1, dtype=np.int64),
        "crime_no": crime_no.to_numpy()[fin["crime"].to_numpy()],
        "ho_outcome": fin["outcome"].to_numpy().astype(np.int64),
        "finalised_at": local_text(fin["at"].to_numpy()),
        "created_at": local_text(fin["created"].to_numpy()),
        "modified_at": local_text(fin["modified"].to_numpy()),
    }).astype({"crime_no": "string"})
    return {"crimes": frame, "victims": victim_table, "milestones": milestones,
            "finalisations": finalisations}


def _with_audit(rng, rows: pd.DataFrame, horizon: int, *, min_lag: int, max_lag: int) -> pd.DataFrame:
    """The rows that exist by the extract, with created/modified, in the order they were written."""
    created, modified, exists = _audit(rng, rows["at"].to_numpy(), horizon, min_lag=min_lag, max_lag=max_lag)
    out = rows.assign(created=created, modified=modified)[exists]
    return out.sort_values(["created", "at", "crime", "victim"], kind="stable").reset_index(drop=True)


def _victim_contact(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    contact_types = _native_codes(config, "contact_type")
    responses = _native_codes(config, "vps_response")
    channels = np.array(list(config.codes("channel")), dtype=object)
    rows = _with_audit(rng, events[events["system"] == "VCL"], horizon, min_lag=60, max_lag=8 * HOUR)
    k = len(rows)
    kind = rows["event_type"]
    is_vps = kind.isin(list(responses))
    contact_type = kind.map(contact_types).astype("string").where(~is_vps, "VPS")
    crime = rows["crime"].to_numpy()
    reported = crimes["reported"].to_numpy()
    at = rows["at"].to_numpy().copy()
    acks = (kind == "WRITTEN_ACKNOWLEDGEMENT").to_numpy()
    before = _pick_rows(rng, acks, BEFORE_REPORT_SHARE / 2)
    at[before] = reported[crime[before]] - _uniform(rng, len(before), DAY, 3 * DAY)
    contacts = pd.DataFrame({
        "contact_id": np.arange(1, k + 1, dtype=np.int64),
        "crime_number": pd.Series(crimes["crime_no"].to_numpy()[crime], dtype="string"),
        "crs_victim_no": pd.Series(victims["victim_no"].to_numpy()[np.maximum(rows["victim"].to_numpy(), 0)],
                                   dtype="Int64").where(rows["victim"].to_numpy() >= 0),
        "contact_type": contact_type.to_numpy(),
        "vps_response": kind.map(responses).astype("string").to_numpy(),
        "channel": channels[rng.choice(len(channels), k, p=[0.3, 0.3, 0.15, 0.2, 0.05])],
        "staff_no": pd.Series(rng.integers(10000, 99999, k), dtype="int64").astype("string"),
        "contacted_at": utc_text(at),
        "created_at": utc_text(rows["created"].to_numpy()),
        "modified_at": utc_text(rows["modified"].to_numpy()),
    }).astype({"contact_type": "string", "vps_response": "string", "channel": "string"})
    _record_bad(bad, "victim_contact", "contacts", contacts.loc[before, "contact_id"], "before_report")
    free = ~np.isin(np.arange(k), before)
    unknown = _pick_rows(rng, free, BAD_CODE_SHARE)
    contacts.loc[unknown, ["contact_type", "vps_response"]] = ["CBK", pd.NA]
    _record_bad(bad, "victim_contact", "contacts", contacts.loc[unknown, "contact_id"], "unknown_code")
    free[unknown] = False
    missing = _pick_rows(rng, free, MISSING_CRIME_SHARE)
    contacts.loc[missing, "crime_number"] = pd.NA
    _record_bad(bad, "victim_contact", "contacts", contacts.loc[missing, "contact_id"], "missing_crime_ref")
    return {"contacts": contacts}


def _drop_rows(rng, events: pd.DataFrame, system: str, horizon: int) -> pd.DataFrame:
    """A partner's rows, each in the file of the local day it was last updated.

    A corrected row appears twice: the original delivery (its time keyed wrongly, minutes to
    two hours late) and, in a later day's file, the correction with a later last-updated time.
    A few whole days' files are re-delivered as `_v2`: there, a tenth of the rows put right a
    time the original file had keyed as midnight.
    """
    rows = _with_audit(rng, events[events["system"] == system], horizon, min_lag=HOUR, max_lag=20 * HOUR)
    rows["row"] = np.arange(1, len(rows) + 1)
    corrected = rows[rows["modified"] > rows["created"]]
    original = corrected.assign(at=corrected["at"] + _uniform(rng, len(corrected), 10 * 60, 2 * HOUR),
                                last_updated=corrected["created"])
    latest = rows.assign(last_updated=rows["modified"])
    out = pd.concat([original, latest], ignore_index=True)
    local_day = _local_naive(out["last_updated"].to_numpy()).astype("datetime64[D]")
    out["file_day"] = pd.Series(np.datetime_as_string(local_day, unit="D"), dtype="string").str.replace("-", "")
    out["redelivery"] = ""

    days = np.sort(out["file_day"].unique())[:-3]
    if len(days):
        chosen = rng.choice(days, min(REDELIVERED_FILES, len(days)), replace=False)
        in_chosen = out["file_day"].isin(chosen).to_numpy()
        again = out[in_chosen].assign(redelivery="_v2",
                                      last_updated=np.minimum(out.loc[in_chosen, "last_updated"] + DAY, horizon))
        wrong = in_chosen & (rng.random(len(out)) < 0.1)
        midnight = start_of_local_day(local_dates(_instants(out.loc[wrong, "at"].to_numpy())))
        out.loc[wrong, "at"] = midnight.as_unit("s").asi8
        out = pd.concat([out, again], ignore_index=True)
    out = out.sort_values(["file_day", "redelivery", "last_updated", "row"], kind="stable")
    return out.reset_index(drop=True)


def _duplicate_rows(rng, frame: pd.DataFrame, bad: list, source: str, table: str, id_column: str) -> pd.DataFrame:
    """Repeat a few rows verbatim in the same file (a partner's export glitch)."""
    rows = _pick_rows(rng, np.ones(len(frame), dtype=bool), DUPLICATE_SHARE)
    _record_bad(bad, source, table, frame.loc[rows, id_column], "duplicate")
    out = pd.concat([frame, frame.iloc[rows]])
    return out.sort_index(kind="stable").reset_index(drop=True)


def _victim_support(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    activities = _native_codes(config, "activity")
    in_need_codes = _native_codes(config, "in_need")
    rows = _drop_rows(rng, events, "VS", horizon)
    victim = rows["victim"].to_numpy()
    in_need = rows["in_need"].to_numpy()
    frame = pd.DataFrame({
        "Referral Ref": "VS" + rows["row"].astype("string").str.zfill(8),
        "Police Crime No": pd.Series(crimes["crime_no"].to_numpy()[rows["crime"].to_numpy()], dtype="string"),
        "Police Victim No": pd.Series(victims["victim_no"].to_numpy()[victim], dtype="int64").astype("string"),
        "Client Name": pd.Series(victims["name"].to_numpy()[victim], dtype="string"),
        "Activity": rows["event_type"].map(activities).astype("string"),
        "In Need": pd.Series(np.where(in_need == 1, in_need_codes["true"],
                                      np.where(in_need == 0, in_need_codes["false"], "")), dtype="string"),
        "Activity Date": uk_text(rows["at"].to_numpy()),
        "Last Updated": uk_text(rows["last_updated"].to_numpy()),
        "source_file": "referrals_" + rows["file_day"] + rows["redelivery"] + ".csv",
    })
    n = len(frame)
    taken = np.zeros(n, dtype=bool)
    for column, value, share, kind in (
        ("Activity", "Self-referral", BAD_CODE_SHARE, "unknown_code"),
        ("Police Crime No", "", MISSING_CRIME_SHARE, "missing_crime_ref"),
        ("Activity Date", None, UNPARSEABLE_DATE_SHARE, "unparseable_date"),
    ):
        rows_bad = _pick_rows(rng, ~taken, share)
        taken[rows_bad] = True
        if value is None:   # 31 February: right shape, impossible date
            frame.loc[rows_bad, column] = "31/02/" + frame.loc[rows_bad, column].str.slice(6)
        else:
            frame.loc[rows_bad, column] = value
        _record_bad(bad, "victim_support", "referrals", frame.loc[rows_bad, "Referral Ref"], kind)
    frame = _duplicate_rows(rng, frame, bad, "victim_support", "referrals", "Referral Ref")
    return {"referrals": frame}


def _witness_care(rng, crimes, victims, events, horizon, config, bad) -> dict[str, pd.DataFrame]:
    update_types = _native_codes(config, "update_type")
    results = _native_codes(config, "court_result")
    rows = _drop_rows(rng, events, "WCU", horizon)
    victim = rows["victim"].to_numpy()
    has_victim = victim >= 0
    frame = pd.DataFrame({
        "WCU ID": rows["row"].to_numpy().astype(np.int64),
        "Police Ref": pd.Series(crimes["crime_no"].to_numpy()[rows["crime"].to_numpy()], dtype="string"),
        "Witness ID": pd.Series(victims["victim_no"].to_numpy()[np.maximum(victim, 0)],
                                dtype="Int64").where(has_victim),
        "Witness Name": pd.Series(victims["name"].to_numpy()[np.maximum(victim, 0)],
                                  dtype="string").where(has_victim, ""),
        "Update Type": rows["event_type"].map(update_types).astype("string"),
        "Court Result": rows["court"].map(results).astype("string").fillna(""),
        "Event Date": local_text(rows["at"].to_numpy()),
        "Last Modified": local_text(rows["last_updated"].to_numpy()),
        "source_file": "wcu_" + rows["file_day"] + rows["redelivery"] + ".xlsx",
    })
    unknown = _pick_rows(rng, np.ones(len(frame), dtype=bool), BAD_CODE_SHARE)
    frame.loc[unknown, ["Update Type", "Court Result"]] = ["Special measures", ""]
    _record_bad(bad, "witness_care", "WCU Updates", frame.loc[unknown, "WCU ID"], "unknown_code")
    frame = _duplicate_rows(rng, frame, bad, "witness_care", "WCU Updates", "WCU ID")
    return {"WCU Updates": frame}
