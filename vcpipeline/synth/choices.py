"""The victim's choices in the synthetic force (RULES.md v2, Right 6): a contact plan agreed at
first contact, opting out and back in with a new plan, periodic updates as agreed, contacts held
back while opted out, the witness care unit informing the victim after charge, and the method of
every contact (the agreed one, mostly). Whole columns at once, from the journey's generator."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcpipeline.synth.calibration import (
    AGREED_METHOD_SHARE,
    AGREED_PLAN_SHARE,
    AGREED_UPDATE_ON_TIME,
    AGREED_UPDATES_STOPPED,
    ENHANCED_INTERVAL_DAYS,
    FALLBACK_METHOD,
    METHOD_AS_AGREED,
    OPT_BACK_IN_SHARE,
    OPT_OUT_RESPECTED,
    OPT_OUT_SHARE,
    POST_CHARGE_BY_WITNESS_CARE,
    STANDARD_INTERVAL_DAYS,
    UNAGREED_METHOD_SHARE,
)
from vcpipeline.synth.events import EventLog, Victims
from vcpipeline.synth.timing import DAY, HOUR, uniform

NEVER = np.iinfo(np.int64).max
# Contacts that keep the victim informed: held back while the victim is opted out, and after
# charge made by the witness care unit.
INFORMING = ("VICTIM_UPDATE", "OUTCOME_COMMUNICATED", "VPS_USE_COMMUNICATED")
# Contacts with the victim: each has a method (channel), the agreed one when the force keeps to it.
CONTACTS = ("WRITTEN_ACKNOWLEDGEMENT", *INFORMING, "VPS_OFFERED", "VPS_TAKEN", "VPS_DECLINED",
            "OPTED_OUT", "OPTED_IN")


@dataclass(frozen=True)
class Plans:
    """Each victim's choices: the plan agreed at first contact, an opt-out, and an opt-in with a
    new plan (times in seconds, NEVER when it did not happen; method "" when none agreed)."""

    t_agreed: np.ndarray
    method: np.ndarray
    interval: np.ndarray       # days; 0: no periodic updates agreed
    t_out: np.ndarray
    t_in: np.ndarray
    t_reagreed: np.ndarray
    method_again: np.ndarray
    interval_again: np.ndarray

    def method_at(self, victim: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The agreed method in force at each instant ("" before any agreement)."""
        return np.where(at >= self.t_reagreed[victim], self.method_again[victim],
                        np.where(at >= self.t_agreed[victim], self.method[victim], ""))

    def opted_out_at(self, victim: np.ndarray, at: np.ndarray) -> np.ndarray:
        return (at >= self.t_out[victim]) & (at < self.t_in[victim])


def draw_plan(rng: np.random.Generator, enhanced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A method and an interval (days) per victim: weekly updates for most enhanced victims,
    fortnightly or four-weekly for the others, and some who want no periodic updates."""
    n = len(enhanced)
    methods = np.array(list(AGREED_METHOD_SHARE), dtype=object)
    share = np.array(list(AGREED_METHOD_SHARE.values()))
    method = methods[rng.choice(len(methods), n, p=share / share.sum())]
    standard = rng.choice(STANDARD_INTERVAL_DAYS[0], n, p=STANDARD_INTERVAL_DAYS[1])
    enhanced_days = rng.choice(ENHANCED_INTERVAL_DAYS[0], n, p=ENHANCED_INTERVAL_DAYS[1])
    return method, np.where(enhanced, enhanced_days, standard).astype(np.int64)


def agree_contact_plans(rng: np.random.Generator, log: EventLog, people: Victims) -> Plans:
    """Most victims agree at first contact how and how often they are updated (Right 6)."""
    m = len(people.index)
    agreed = rng.random(m) < AGREED_PLAN_SHARE
    at = people.reported + uniform(rng, m, 10 * 60, 2 * DAY)
    method, interval = draw_plan(rng, people.enhanced)
    log.add("CONTACT_AGREED", people.crime[agreed], at[agreed], "VCL", victim=people.index[agreed],
            channel=method[agreed], interval=interval[agreed])
    never = np.full(m, NEVER, dtype=np.int64)
    return Plans(t_agreed=np.where(agreed, at, NEVER), method=np.where(agreed, method, ""),
                 interval=np.where(agreed, interval, 0), t_out=never, t_in=never, t_reagreed=never,
                 method_again=np.full(m, "", dtype=object), interval_again=np.zeros(m, dtype=np.int64))


def opt_out_and_back_in(rng: np.random.Generator, log: EventLog, people: Victims, plans: Plans) -> Plans:
    """A few victims ask for no further services; some of those later ask again, and the force
    agrees a new plan with them (RULES.md: an opt-in is not an anchor, the new agreement is)."""
    m = len(people.index)
    out = rng.random(m) < OPT_OUT_SHARE
    t_out = people.reported + uniform(rng, m, 2 * DAY, 45 * DAY)
    back = out & (rng.random(m) < OPT_BACK_IN_SHARE)
    t_in = t_out + uniform(rng, m, 5 * DAY, 40 * DAY)
    t_reagreed = t_in + uniform(rng, m, 10 * 60, 2 * HOUR)
    method, interval = draw_plan(rng, people.enhanced)
    log.add("OPTED_OUT", people.crime[out], t_out[out], "VCL", victim=people.index[out])
    log.add("OPTED_IN", people.crime[back], t_in[back], "VCL", victim=people.index[back])
    log.add("CONTACT_AGREED", people.crime[back], t_reagreed[back], "VCL", victim=people.index[back],
            channel=method[back], interval=interval[back])
    return dataclasses.replace(
        plans, t_out=np.where(out, t_out, NEVER), t_in=np.where(back, t_in, NEVER),
        t_reagreed=np.where(back, t_reagreed, NEVER), method_again=np.where(back, method, ""),
        interval_again=np.where(back, interval, 0))


def update_as_agreed(rng: np.random.Generator, log: EventLog, people: Victims, plans: Plans,
                      ended: np.ndarray, horizon: int) -> None:
    """Periodic updates under each agreed plan, until the investigation ends (`ended`, per
    victim) or the victim opts out: mostly within the agreed interval, some late, and now and
    then the force stops sending them."""
    for start, interval, stop in ((plans.t_agreed, plans.interval, np.minimum(ended, plans.t_out)),
                                  (plans.t_reagreed, plans.interval_again, ended)):
        last = start.copy()
        active = (interval > 0) & (start < np.minimum(stop, horizon))
        while active.any():   # one step of every victim's chain at a time: a few dozen steps
            victim = np.flatnonzero(active)
            n, span = len(victim), interval[victim] * DAY
            draw = rng.random(n)
            on_time = draw < AGREED_UPDATE_ON_TIME
            gap = np.where(on_time, (rng.uniform(0.6, 0.97, n) * span).astype(np.int64),
                           span + DAY + rng.exponential(4 * DAY, n).astype(np.int64))
            sent = last[victim] + gap
            keep = (sent < np.minimum(stop[victim], horizon)) & (draw < 1 - AGREED_UPDATES_STOPPED)
            log.add("VICTIM_UPDATE", people.crime[victim[keep]], sent[keep], "VCL", victim=victim[keep])
            last[victim] = sent
            active[victim[~keep]] = False


def respect_opt_outs(rng: np.random.Generator, events: pd.DataFrame, plans: Plans) -> pd.DataFrame:
    """While a victim is opted out the force holds back most contacts that would inform them."""
    victim, at = events["victim"].to_numpy(), events["at"].to_numpy()
    named = victim >= 0
    held = np.zeros(len(events), dtype=bool)
    held[named] = plans.opted_out_at(victim[named], at[named])
    held &= events["event_type"].isin(INFORMING).to_numpy() & (rng.random(len(events)) < OPT_OUT_RESPECTED)
    return events[~held].reset_index(drop=True)


def hand_over_to_witness_care(rng: np.random.Generator, events: pd.DataFrame, charged: np.ndarray,
                              t_charge: np.ndarray) -> pd.DataFrame:
    """After charge the witness care unit keeps the victim informed: most informing contacts
    from then on are in its drops, not the contact log (RULES.md "Who owns an obligation")."""
    crime, at = events["crime"].to_numpy(), events["at"].to_numpy()
    after_charge = charged[crime] & (at >= t_charge[crime])
    informing = events["event_type"].isin(INFORMING).to_numpy()
    by_wcu = rng.random(len(events)) < POST_CHARGE_BY_WITNESS_CARE
    system = events["system"].to_numpy(dtype=object)
    moved = informing & after_charge
    events["system"] = np.where(moved, np.where(by_wcu, "WCU", "VCL"), system)
    return events


def contact_methods(rng: np.random.Generator, events: pd.DataFrame, plans: Plans) -> pd.DataFrame:
    """Each contact's method: the victim's agreed one, mostly; else the force's fallback (the
    phone call that became an e-mail); a victim with no plan gets the usual mix."""
    n = len(events)
    victim, at = events["victim"].to_numpy(), events["at"].to_numpy()
    contact = events["event_type"].isin(CONTACTS).to_numpy() & (victim >= 0)
    agreed = np.full(n, "", dtype=object)
    agreed[contact] = plans.method_at(victim[contact], at[contact])
    fallback = pd.Series(agreed).map(FALLBACK_METHOD).fillna("").to_numpy(dtype=object)
    methods = np.array(list(UNAGREED_METHOD_SHARE), dtype=object)
    share = np.array(list(UNAGREED_METHOD_SHARE.values()))
    usual = methods[rng.choice(len(methods), n, p=share / share.sum())]
    kept = rng.random(n) < METHOD_AS_AGREED
    method = np.where(agreed == "", usual, np.where(kept, agreed, fallback))
    events["channel"] = np.where(contact, method, events["channel"].to_numpy(dtype=object))
    return events
