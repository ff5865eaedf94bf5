"""Each victim's journey through the investigation, as events in the order they happen.

The journey is drawn stage by stage, always in the same order from the one seeded generator
(which is what makes the force reproducible): the acknowledgement, the needs assessment and
referral, the investigation's milestones and the updates they oblige, the finalisation, court,
the outcome told to the victim, and the Victim Personal Statement; then the victim's choices
(`synth.choices`: plans agreed, opt-outs and opt-ins, periodic updates, the witness care unit
after charge, each contact's method). Deadlines are the rule-set file's (`RuleDeadlines`). Each
stage works on whole columns; nothing loops over crimes or victims.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcpipeline.synth import choices
from vcpipeline.synth.calibration import (
    ACKNOWLEDGED_ON_TIME,
    NEEDS_REFERRAL_ON_TIME,
    OUTCOME_COMMUNICATED_ON_TIME,
    UPDATE_ON_TIME,
    VPS_FEEDBACK_ON_TIME,
    VPS_OFFERED_ON_TIME,
)
from vcpipeline.synth.events import EventLog, Victims
from vcpipeline.synth.timing import DAY, HOUR, RuleDeadlines, respond, uniform

Milestone = tuple[str, np.ndarray, np.ndarray]   # (event type, crime positions, seconds)
NEVER = choices.NEVER


@dataclass(frozen=True)
class Investigation:
    """How each crime's investigation went: its milestones and where it ended."""

    milestones: list[Milestone]
    arrested: np.ndarray
    nfa: np.ndarray             # decided not to investigate
    t_nfa: np.ndarray
    disposal: np.ndarray        # after interview: charge, bail, RUI, no charge, out of court (0..4)
    t_disposal: np.ndarray
    charged: np.ndarray
    t_charge: np.ndarray
    released: np.ndarray
    t_released: np.ndarray
    out_of_court: np.ndarray


@dataclass(frozen=True)
class Court:
    """The verdicts of charged crimes (empty string: none yet)."""

    verdict: np.ndarray
    t_verdict: np.ndarray
    decided: np.ndarray


def journey(rng: np.random.Generator, crimes: pd.DataFrame, victims: pd.DataFrame,
            deadlines: RuleDeadlines, horizon: int) -> pd.DataFrame:
    """Every event of every crime until `horizon`: contacts, assessments, investigation,
    outcomes, court, VPS, and the victim's choices, each contact with its method."""
    log = EventLog()
    people = Victims.of(crimes, victims)
    _acknowledge(rng, log, people, deadlines)
    plans = choices.agree_contact_plans(rng, log, people)
    _assess_needs_and_refer(rng, log, people, deadlines)
    investigation = _investigate(rng, crimes)
    for kind, rows, at in investigation.milestones:
        log.add(kind, rows, at, "CRS")
        _update_victims(rng, log, people, rows, at, deadlines)
    code, t_final = _finalise(rng, crimes, investigation)
    finalised = code >= 0
    log.add("CRIME_FINALISED", np.flatnonzero(finalised), t_final[finalised], "CRS", outcome=code[finalised])
    court = _go_to_court(rng, log, crimes, investigation)
    notify = finalised & deadlines.notified("outcome_notification", code, crimes["rule_set"].to_numpy())
    _tell_outcome(rng, log, people, np.flatnonzero(notify), t_final[notify], deadlines)
    _tell_outcome(rng, log, people, np.flatnonzero(court.decided), court.t_verdict[court.decided], deadlines)
    victim, made_statement = _offer_vps(rng, log, people, investigation, deadlines)
    _use_vps_at_sentencing(rng, log, people, court, victim, made_statement, deadlines)
    plans = choices.opt_out_and_back_in(rng, log, people, plans)
    ended = np.minimum(np.where(notify, t_final, NEVER), np.where(court.decided, court.t_verdict, NEVER))
    choices.update_as_agreed(rng, log, people, plans, ended[people.crime], horizon)
    events = log.frame()
    events = choices.respect_opt_outs(rng, events, plans)
    events = choices.hand_over_to_witness_care(rng, events, investigation.charged,
                                                investigation.t_charge)
    return choices.contact_methods(rng, events, plans)


def _acknowledge(rng: np.random.Generator, log: EventLog, people: Victims, deadlines: RuleDeadlines) -> None:
    """The written acknowledgement (Q3): all but a handful within the force standard."""
    m = len(people.index)
    deadline = people.due(deadlines, "acknowledgement", people.reported, people.index)
    at, present = respond(rng, people.reported, deadline, rng.random(m) < ACKNOWLEDGED_ON_TIME)
    log.add("WRITTEN_ACKNOWLEDGEMENT", people.crime[present], at[present], "VCL", victim=people.index[present])


def _assess_needs_and_refer(rng: np.random.Generator, log: EventLog, people: Victims,
                            deadlines: RuleDeadlines) -> None:
    """Needs assessment and referral (Q4): the reporting department decides the rate.

    A victim in need is assessed promptly; the referral (or their decline) is what is late
    or on time. Otherwise the assessment itself is the contact that is late or on time.
    """
    m, reported = len(people.index), people.reported
    deadline = people.due(deadlines, "needs_referral", reported, people.index)
    p_needs = np.array([NEEDS_REFERRAL_ON_TIME[d] for d in people.department])
    on_time = rng.random(m) < p_needs
    done, present = respond(rng, reported, deadline, on_time, missing_share=0.15)
    in_need = rng.random(m) < 0.45
    prompt = reported + (rng.uniform(0.05, 0.6, m)
                         * np.maximum(np.minimum(done, deadline) - reported, HOUR)).astype(np.int64)
    assessed_at = np.where(in_need, prompt, done)
    assessed = present | in_need
    log.add("NEEDS_ASSESSMENT", people.crime[assessed], assessed_at[assessed], "VS",
            victim=people.index[assessed], in_need=in_need[assessed])
    referred = in_need & present
    declined = rng.random(m) < 0.15
    for kind, rows in (("SUPPORT_REFERRAL", referred & ~declined), ("REFERRAL_DECLINED", referred & declined)):
        log.add(kind, people.crime[rows], done[rows], "VS", victim=people.index[rows])


def _investigate(rng: np.random.Generator, crimes: pd.DataFrame) -> Investigation:
    """The investigation's milestones in the crime system: no further action, or an arrest,
    interview and disposal, and after bail or release under investigation a second decision."""
    n = len(crimes)
    reported = crimes["reported"].to_numpy()
    crime_index = np.arange(n)
    offence_arrest = np.where(crimes["serious"].to_numpy() | crimes["domestic_abuse"].to_numpy(), 0.55, 0.25)
    arrested = rng.random(n) < offence_arrest
    milestones: list[Milestone] = []

    nfa = ~arrested & (rng.random(n) < 0.45)
    t_nfa = reported + uniform(rng, n, 2 * HOUR, 4 * DAY)
    milestones.append(("DECISION_NOT_TO_INVESTIGATE", crime_index[nfa], t_nfa[nfa]))

    t_arrest = reported + HOUR + rng.exponential(2 * DAY, n).astype(np.int64)
    t_interview = t_arrest + uniform(rng, n, 2 * HOUR, 18 * HOUR)
    disposal = rng.choice(5, n, p=[0.28, 0.25, 0.25, 0.12, 0.10])  # charge, bail, RUI, no charge, out of court
    t_disposal = t_interview + uniform(rng, n, HOUR, 10 * HOUR)
    milestones += [
        ("SUSPECT_ARRESTED", crime_index[arrested], t_arrest[arrested]),
        ("SUSPECT_INTERVIEWED", crime_index[arrested], t_interview[arrested]),
    ]
    for kind, code in (("SUSPECT_CHARGED", 0), ("SUSPECT_BAILED", 1),
                       ("SUSPECT_RELEASED_UNDER_INVESTIGATION", 2), ("SUSPECT_RELEASED_NO_CHARGE", 3)):
        rows = arrested & (disposal == code)
        milestones.append((kind, crime_index[rows], t_disposal[rows]))
    return _decide_after_bail_or_rui(rng, milestones, arrested, nfa, t_nfa, disposal, t_disposal)


def _decide_after_bail_or_rui(rng: np.random.Generator, milestones: list[Milestone], arrested: np.ndarray,
                              nfa: np.ndarray, t_nfa: np.ndarray, disposal: np.ndarray,
                              t_disposal: np.ndarray) -> Investigation:
    """Bail (its conditions sometimes varied) or release under investigation ends weeks later in
    a charge or a release; the rest of the RUI cases stay open."""
    n = len(arrested)
    crime_index = np.arange(n)
    bailed = arrested & (disposal == 1)
    varied = bailed & (rng.random(n) < 0.3)
    milestones.append(("BAIL_CONDITIONS_CHANGED", crime_index[varied],
                       (t_disposal + uniform(rng, n, 5 * DAY, 20 * DAY))[varied]))
    t_after_bail = t_disposal + uniform(rng, n, 21 * DAY, 42 * DAY)
    bail_charged = bailed & (rng.random(n) < 0.5)
    bail_released = bailed & ~bail_charged
    rui = arrested & (disposal == 2)
    t_after_rui = t_disposal + uniform(rng, n, 30 * DAY, 90 * DAY)
    rui_next = rng.random(n)
    rui_charged, rui_released = rui & (rui_next < 0.3), rui & (rui_next >= 0.3) & (rui_next < 0.6)
    milestones += [
        ("SUSPECT_CHARGED", crime_index[bail_charged], t_after_bail[bail_charged]),
        ("SUSPECT_RELEASED_NO_CHARGE", crime_index[bail_released], t_after_bail[bail_released]),
        ("SUSPECT_CHARGED", crime_index[rui_charged], t_after_rui[rui_charged]),
        ("SUSPECT_RELEASED_NO_CHARGE", crime_index[rui_released], t_after_rui[rui_released]),
    ]
    return Investigation(
        milestones=milestones, arrested=arrested, nfa=nfa, t_nfa=t_nfa, disposal=disposal, t_disposal=t_disposal,
        charged=(arrested & (disposal == 0)) | bail_charged | rui_charged,
        t_charge=np.where(disposal == 0, t_disposal, np.where(bail_charged, t_after_bail, t_after_rui)),
        released=(arrested & (disposal == 3)) | bail_released | rui_released,
        t_released=np.where(disposal == 3, t_disposal, np.where(bail_released, t_after_bail, t_after_rui)),
        out_of_court=arrested & (disposal == 4),
    )


def _update_victims(rng: np.random.Generator, log: EventLog, people: Victims, rows: np.ndarray,
                    at: np.ndarray, deadlines: RuleDeadlines) -> None:
    """A milestone obliges an update to every victim of the crime (Q5)."""
    idx, victim = people.of_crimes(rows)
    trigger = at[idx]
    deadline = people.due(deadlines, "investigation_update", trigger, victim)
    p = np.array([UPDATE_ON_TIME[d] for d in people.department[victim]])
    sent, present = respond(rng, trigger, deadline, rng.random(len(victim)) < p, missing_share=0.4)
    log.add("VICTIM_UPDATE", people.crime[victim][present], sent[present], "VCL", victim=victim[present])


def _finalise(rng: np.random.Generator, crimes: pd.DataFrame, inv: Investigation) -> tuple[np.ndarray, np.ndarray]:
    """Each crime's Home Office outcome code and when it was finalised (-1: not finalised)."""
    n = len(crimes)
    reported = crimes["reported"].to_numpy()
    charged, nfa, released, out_of_court = inv.charged, inv.nfa, inv.released, inv.out_of_court
    code = np.full(n, -1)
    t_final = np.zeros(n, dtype=np.int64)
    code[charged], t_final[charged] = 1, inv.t_charge[charged] + uniform(rng, int(charged.sum()), 0, 6 * HOUR)
    code[nfa] = np.where(rng.random(int(nfa.sum())) < 0.7, 18, 14)
    t_final[nfa] = inv.t_nfa[nfa] + uniform(rng, int(nfa.sum()), 0, 2 * DAY)
    code[released] = rng.choice([15, 16, 21, 10], int(released.sum()))
    t_final[released] = inv.t_released[released] + uniform(rng, int(released.sum()), 0, 3 * DAY)
    code[out_of_court] = rng.choice([2, 3, 6, 8], int(out_of_court.sum()))
    t_final[out_of_court] = inv.t_disposal[out_of_court] + uniform(rng, int(out_of_court.sum()), 0, HOUR)
    unsolved = ~inv.arrested & ~nfa
    draw = rng.random(n)
    filed = unsolved & (draw < 0.55)
    code[filed], t_final[filed] = 18, (reported + uniform(rng, n, 5 * DAY, 40 * DAY))[filed]
    interim = unsolved & (draw >= 0.55) & (draw < 0.60)
    code[interim], t_final[interim] = 0, (reported + uniform(rng, n, DAY, 5 * DAY))[interim]
    transferred = unsolved & (draw >= 0.60) & (draw < 0.61)
    code[transferred], t_final[transferred] = 20, (reported + uniform(rng, n, 2 * DAY, 20 * DAY))[transferred]
    return code, t_final


def _go_to_court(rng: np.random.Generator, log: EventLog, crimes: pd.DataFrame, inv: Investigation) -> Court:
    """Court results from the witness care unit for charged crimes: a first hearing, then a verdict."""
    n, charged, t_charge = len(crimes), inv.charged, inv.t_charge
    crime_index = np.arange(n)
    t_hearing = t_charge + uniform(rng, n, 7 * DAY, 28 * DAY)
    first_result = np.where(crimes["serious"].to_numpy() & (rng.random(n) < 0.6), "COMMITTED_TO_CROWN_COURT",
                            rng.choice(["ADJOURNED", "REMANDED", ""], n, p=[0.3, 0.1, 0.6]))
    heard = charged & (first_result != "")
    log.add("COURT_OUTCOME", crime_index[heard], t_hearing[heard], "WCU", court=first_result[heard])
    t_verdict = np.maximum(t_charge + uniform(rng, n, 21 * DAY, 120 * DAY), t_hearing + DAY)
    verdict = rng.choice(["SENTENCED", "ACQUITTED", "DISCONTINUED", ""], n, p=[0.65, 0.15, 0.10, 0.10])
    decided = charged & (verdict != "")
    log.add("COURT_OUTCOME", crime_index[decided], t_verdict[decided], "WCU", court=verdict[decided])
    return Court(verdict=verdict, t_verdict=t_verdict, decided=decided)


def _tell_outcome(rng: np.random.Generator, log: EventLog, people: Victims, rows: np.ndarray,
                  at: np.ndarray, deadlines: RuleDeadlines) -> None:
    """The outcome communicated (Q6) to every victim of a notifiable finalisation or a verdict."""
    idx, victim = people.of_crimes(rows)
    trigger = at[idx]
    deadline = people.due(deadlines, "outcome_notification", trigger, victim)
    sent, present = respond(rng, trigger, deadline, rng.random(len(victim)) < OUTCOME_COMMUNICATED_ON_TIME)
    log.add("OUTCOME_COMMUNICATED", people.crime[victim][present], sent[present], "VCL", victim=victim[present])


def _offer_vps(rng: np.random.Generator, log: EventLog, people: Victims,
               inv: Investigation, deadlines: RuleDeadlines) -> tuple[np.ndarray, np.ndarray]:
    """The VPS offered for charged cases (Q7), sometimes taken when the crime was recorded.

    Returns the victims of charged crimes and which of them made a statement (a mask).
    """
    charged = np.flatnonzero(inv.charged)
    idx, victim = people.of_crimes(charged)
    trigger = inv.t_charge[charged][idx]
    at, present = respond(rng, trigger, people.due(deadlines, "vps_offer", trigger, victim),
                          rng.random(len(victim)) < VPS_OFFERED_ON_TIME,
                          missing_share=0.5)
    at_report = rng.random(len(victim)) < 0.2
    at = np.where(at_report, people.reported[victim] + uniform(rng, len(victim), HOUR, DAY), at)
    response = rng.choice(["VPS_TAKEN", "VPS_DECLINED", "VPS_OFFERED"], len(victim), p=[0.75, 0.20, 0.05])
    taken_by_wcu = (rng.random(len(victim)) < 0.6) & ~at_report   # the police take it at recording
    for kind in ("VPS_TAKEN", "VPS_DECLINED", "VPS_OFFERED"):
        rows = present & (response == kind)
        system = np.where(taken_by_wcu & (response == "VPS_TAKEN"), "WCU", "VCL")[rows]
        log.add(kind, people.crime[victim][rows], at[rows], system, victim=victim[rows])
    return victim, present & (response == "VPS_TAKEN")


def _use_vps_at_sentencing(rng: np.random.Generator, log: EventLog, people: Victims, court: Court,
                           victim: np.ndarray, made_statement: np.ndarray,
                           deadlines: RuleDeadlines) -> None:
    """The VPS used at sentencing (Q8) and the victim told how it was used (Q9)."""
    sentenced = np.zeros(len(court.verdict), dtype=bool)
    sentenced[np.flatnonzero(court.decided)[court.verdict[court.decided] == "SENTENCED"]] = True
    used = made_statement & sentenced[people.crime[victim]] & (rng.random(len(victim)) < 0.9)
    u_victim = victim[used]
    t_used = court.t_verdict[people.crime[u_victim]] + uniform(rng, len(u_victim), 0, 2 * HOUR)
    log.add("VPS_USED", people.crime[u_victim], t_used, "WCU", victim=u_victim)
    sent, present = respond(rng, t_used, people.due(deadlines, "vps_feedback", t_used, u_victim),
                            rng.random(len(u_victim)) < VPS_FEEDBACK_ON_TIME)
    system = np.where(rng.random(len(u_victim)) < 0.8, "WCU", "VCL")
    log.add("VPS_USE_COMMUNICATED", people.crime[u_victim][present], sent[present], system[present],
            victim=u_victim[present])
