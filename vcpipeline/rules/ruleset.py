"""The Victims Code rule sets as data: load `rulesets.toml` and check every key.

How an obligation is met (the rule *kinds*) is code in `engine.py` and `agreed_update.py`;
triggers, meeting events, deadlines, which rules the victim's opt-out waives, who owns them after
charge, which compare the contact channel, and the words people read about each rule (its label,
board-paper question, alert sentence and worksheet question) are data, so a force can change them
without touching code. A bad file is a `RuleSetError` naming the file, rule set, rule and value,
never a half-loaded rule set.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from vcpipeline.canonical import COURT_RESULTS, EVENT_TYPES, OUTCOME_CODES
from vcpipeline.errors import InputError

DEFAULT_RULESETS = Path(__file__).with_name("rulesets.toml")

RuleKind = Literal["first_event", "needs_referral", "periodic"]
TriggerKind = Literal["crime_report", "events"]
KINDS: tuple[str, ...] = ("first_event", "needs_referral", "periodic")
TRIGGERS: tuple[str, ...] = ("crime_report", "events")
UNITS: tuple[str, ...] = ("calendar_days", "working_days")

_RULE_KEYS = frozenset({
    "kind", "trigger", "trigger_events", "first_trigger_only", "trigger_outcome_codes",
    "trigger_court_results", "met_by", "met_any_time", "referral_events",
    "deadline", "enhanced_deadline", "unit", "waivable", "post_charge_owner", "compare_channel",
    "ends_with", "label", "board_question", "alert_sentence", "alert_trigger", "worksheet_question",
})
_WORDS = ("label", "alert_sentence", "alert_trigger", "worksheet_question")
_DEPARTMENT = re.compile(r"[A-Z][A-Z0-9_]*")
_BOARD_QUESTION = re.compile(r"Q[1-9](/Q[1-9])*")
AGREEMENT = "CONTACT_AGREED"  # the event whose interval_days sets a periodic rule's deadline
_SET_KEYS = frozenset({"reported_from", "reported_until", "rules"})
_TOP_KEYS = frozenset({"enhanced_offence_categories", "rulesets"})


class RuleSetError(InputError):
    """A rule-set file that cannot be used: one line naming file, rule set, rule and value."""


@dataclass(frozen=True)
class Rule:
    """One obligation rule of one rule set, e.g. `investigation_update` of `vcop-2020`."""

    name: str
    kind: RuleKind
    trigger: TriggerKind
    trigger_events: frozenset[str]
    first_trigger_only: bool
    trigger_outcome_codes: frozenset[int] | None  # None: any code triggers
    trigger_court_results: frozenset[str] | None
    met_by: frozenset[str]
    met_any_time: bool
    referral_events: frozenset[str]
    deadline: int                # periodic rules: 0, the agreement's interval_days decides
    enhanced_deadline: int
    unit: Literal["working_days", "calendar_days"]
    waivable: bool = False       # WAIVED while the victim is opted out (RULES.md "Waived")
    post_charge_owner: str | None = None  # owner of obligations triggered at/after the first charge
    compare_channel: bool = False  # channel_as_agreed is reported (rules that keep the victim informed)
    ends_with: str | None = None   # periodic: the rule whose first trigger ends the investigation
    label: str = ""
    board_question: str = ""
    alert_sentence: str = ""     # what the team lead must do
    alert_trigger: str = ""      # what starts the clock, when the trigger type is not known
    worksheet_question: str = ""


@dataclass(frozen=True)
class RuleSet:
    """The rules for crimes reported on local dates in [reported_from, reported_until)."""

    name: str
    reported_from: dt.date | None
    reported_until: dt.date | None
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class RuleSets:
    """Every rule set, in date order, plus the offence categories that make a victim enhanced."""

    sets: tuple[RuleSet, ...]
    enhanced_offence_categories: frozenset[str]
    source: Path

    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sets)

    def rule_names(self) -> tuple[str, ...]:
        """Every rule name used by any rule set, sorted."""
        return tuple(sorted({r.name for s in self.sets for r in s.rules}))

    def rule(self, name: str) -> Rule:
        """The rule called `name` in the latest rule set that has it: its words for people."""
        for ruleset in reversed(self.sets):
            for rule in ruleset.rules:
                if rule.name == name:
                    return rule
        raise KeyError(name)


def load_rulesets(path: Path | None = None) -> RuleSets:
    """The rule sets in `path` (default: the packaged `rulesets.toml`), validated; cached per file version."""
    file = Path(path) if path is not None else DEFAULT_RULESETS
    try:
        stat = file.stat()
    except OSError:
        raise RuleSetError(f"rule-set file not found: {file}") from None
    return _load_cached(str(file.resolve()), stat.st_mtime_ns, stat.st_size)


def ruleset_fingerprint(path: Path | None = None) -> str:
    """SHA-256 of the rule-set file's bytes: which rules a published figure was measured by."""
    import hashlib

    file = Path(path) if path is not None else DEFAULT_RULESETS
    return hashlib.sha256(file.read_bytes()).hexdigest()


@lru_cache(maxsize=16)
def _load_cached(file: str, _mtime_ns: int, _size: int) -> RuleSets:
    path = Path(file)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetError(f"{path}: not valid TOML: {exc}") from None
    return parse_rulesets(data, path)


def parse_rulesets(data: dict[str, Any], source: Path | str = "<rulesets>") -> RuleSets:
    """Validate a decoded rule-set document; every complaint names where it is."""
    source = Path(source)
    where = f"{source}"
    _no_unknown_keys(data, _TOP_KEYS, where)
    categories = _string_list(data.get("enhanced_offence_categories", []), where,
                              "enhanced_offence_categories")
    sets_data = data.get("rulesets")
    if not isinstance(sets_data, dict) or not sets_data:
        raise RuleSetError(f"{where}: no [rulesets.<name>] tables")
    sets = [_parse_set(name, body, source) for name, body in sets_data.items()]
    sets.sort(key=lambda s: s.reported_from or dt.date.min)
    _check_coverage(sets, where)
    return RuleSets(tuple(sets), frozenset(categories), source)


def _parse_set(name: str, body: Any, source: Path) -> RuleSet:
    where = f"{source}: rule set {name!r}"
    if not isinstance(body, dict):
        raise RuleSetError(f"{where}: must be a table")
    _no_unknown_keys(body, _SET_KEYS, where)
    bounds = {}
    for key in ("reported_from", "reported_until"):
        value = body.get(key)
        if value is not None and (not isinstance(value, dt.date) or isinstance(value, dt.datetime)):
            raise RuleSetError(f"{where}: {key} {value!r} is not a date (write it bare: 2021-04-01)")
        bounds[key] = value
    if bounds["reported_from"] and bounds["reported_until"] and \
            bounds["reported_from"] >= bounds["reported_until"]:
        raise RuleSetError(f"{where}: reported_from is not before reported_until")
    rules_data = body.get("rules")
    if not isinstance(rules_data, dict) or not rules_data:
        raise RuleSetError(f"{where}: no [rulesets.{name!r}.rules.<rule>] tables")
    rules = tuple(_parse_rule(rule, rule_body, f"{where}, rule {rule!r}")
                  for rule, rule_body in sorted(rules_data.items()))
    kinds = {rule.name: rule.kind for rule in rules}
    for rule in rules:
        if rule.ends_with is not None and kinds.get(rule.ends_with, "periodic") == "periodic":
            raise RuleSetError(f"{where}, rule {rule.name!r}: ends_with {rule.ends_with!r} is not a "
                               "non-periodic rule of this rule set")
    return RuleSet(name, bounds["reported_from"], bounds["reported_until"], rules)


def _parse_rule(name: str, body: Any, where: str) -> Rule:
    if not isinstance(body, dict):
        raise RuleSetError(f"{where}: must be a table")
    _no_unknown_keys(body, _RULE_KEYS, where)
    kind = _choice(body, "kind", KINDS, where)
    trigger = _choice(body, "trigger", TRIGGERS, where)
    unit = _choice(body, "unit", UNITS, where)
    trigger_events = _event_types(body.get("trigger_events", []), where, "trigger_events")
    if trigger == "events" and not trigger_events:
        raise RuleSetError(f"{where}: trigger = \"events\" needs trigger_events")
    if trigger == "crime_report" and trigger_events:
        raise RuleSetError(f"{where}: trigger_events given but trigger = \"crime_report\"")
    met_by = _event_types(body.get("met_by", []), where, "met_by")
    if not met_by:
        raise RuleSetError(f"{where}: met_by is empty")
    referral = _event_types(body.get("referral_events", []), where, "referral_events")
    if kind == "needs_referral" and not referral:
        raise RuleSetError(f"{where}: kind = \"needs_referral\" needs referral_events")
    if kind != "needs_referral" and referral:
        raise RuleSetError(f"{where}: referral_events only applies to kind = \"needs_referral\"")
    ends_with = body.get("ends_with")
    if kind == "periodic":
        if trigger != "events" or trigger_events != {AGREEMENT}:
            raise RuleSetError(f"{where}: kind = \"periodic\" needs trigger = \"events\" and "
                               f"trigger_events = [\"{AGREEMENT}\"] (its interval_days is the deadline)")
        if unit != "calendar_days":
            raise RuleSetError(f"{where}: kind = \"periodic\" counts calendar_days, not {unit}")
        for key in ("deadline", "enhanced_deadline", "first_trigger_only", "met_any_time"):
            if key in body:
                raise RuleSetError(f"{where}: {key} does not apply to kind = \"periodic\"")
        if not isinstance(ends_with, str) or not ends_with:
            raise RuleSetError(f"{where}: kind = \"periodic\" needs ends_with (a rule name), not {ends_with!r}")
    elif ends_with is not None:
        raise RuleSetError(f"{where}: ends_with only applies to kind = \"periodic\"")
    codes = None
    if "trigger_outcome_codes" in body:
        raw = body["trigger_outcome_codes"]
        if not isinstance(raw, list) or any(
                not isinstance(c, int) or isinstance(c, bool) or c not in OUTCOME_CODES for c in raw):
            raise RuleSetError(f"{where}: trigger_outcome_codes {raw!r} must be a list of 0-22")
        if "CRIME_FINALISED" not in trigger_events:
            raise RuleSetError(f"{where}: trigger_outcome_codes needs CRIME_FINALISED in trigger_events")
        codes = frozenset(raw)
    results = None
    if "trigger_court_results" in body:
        listed = _string_list(body["trigger_court_results"], where, "trigger_court_results")
        unknown = sorted(set(listed) - COURT_RESULTS)
        if unknown:
            raise RuleSetError(f"{where}: trigger_court_results: unknown court result {unknown[0]!r}")
        if "COURT_OUTCOME" not in trigger_events:
            raise RuleSetError(f"{where}: trigger_court_results needs COURT_OUTCOME in trigger_events")
        results = frozenset(listed)
    deadline = 0 if kind == "periodic" else _days(body, "deadline", where, required=True)
    enhanced = _days(body, "enhanced_deadline", where, required=False)
    owner = body.get("post_charge_owner")
    if owner is not None and (not isinstance(owner, str) or not _DEPARTMENT.fullmatch(owner)):
        raise RuleSetError(f"{where}: post_charge_owner {owner!r} is not a department code (e.g. WITNESS_CARE)")
    words = {key: _text(body, key, where) for key in _WORDS}
    question = _text(body, "board_question", where)
    if not _BOARD_QUESTION.fullmatch(question):
        raise RuleSetError(f"{where}: board_question {question!r} is not a board-paper question (Q3, Q8/Q9)")
    return Rule(
        name=name, kind=kind, trigger=trigger, trigger_events=trigger_events,
        first_trigger_only=_flag(body, "first_trigger_only", where),
        trigger_outcome_codes=codes, trigger_court_results=results,
        met_by=met_by, met_any_time=_flag(body, "met_any_time", where),
        referral_events=referral, deadline=deadline,
        enhanced_deadline=deadline if enhanced is None else enhanced, unit=unit,
        waivable=_flag(body, "waivable", where), post_charge_owner=owner,
        compare_channel=_flag(body, "compare_channel", where), ends_with=ends_with,
        board_question=question, **words,
    )


def _check_coverage(sets: list[RuleSet], where: str) -> None:
    """Every crime gets exactly one rule set: the sets tile the timeline with no gap or overlap."""
    if sets[0].reported_from is not None:
        raise RuleSetError(f"{where}: rule set {sets[0].name!r}: the earliest rule set must leave "
                           "out reported_from (crimes reported before it would have no rule set)")
    if sets[-1].reported_until is not None:
        raise RuleSetError(f"{where}: rule set {sets[-1].name!r}: the latest rule set must leave "
                           "out reported_until")
    for before, after in pairwise(sets):
        if before.reported_until != after.reported_from:
            raise RuleSetError(
                f"{where}: rule set {before.name!r} ends {before.reported_until} but "
                f"{after.name!r} starts {after.reported_from}: every date needs exactly one rule set")


def _no_unknown_keys(body: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise RuleSetError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...], where: str) -> Any:
    value = body.get(key)
    if value not in allowed:
        raise RuleSetError(f"{where}: {key} {value!r} is not one of {', '.join(allowed)}")
    return value


def _string_list(value: Any, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleSetError(f"{where}: {key} must be a list of strings, not {value!r}")
    return value


def _event_types(value: Any, where: str, key: str) -> frozenset[str]:
    listed = _string_list(value, where, key)
    unknown = [v for v in listed if v not in EVENT_TYPES]
    if unknown:
        raise RuleSetError(f"{where}: {key}: unknown event type {unknown[0]!r}")
    return frozenset(listed)


def _days(body: dict[str, Any], key: str, where: str, *, required: bool) -> int | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 366:
        raise RuleSetError(f"{where}: {key} {value!r} is not a whole number of days 1-366")
    return value


def _text(body: dict[str, Any], key: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RuleSetError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value.strip()


def _flag(body: dict[str, Any], key: str, where: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise RuleSetError(f"{where}: {key} {value!r} is not true or false")
    return value

