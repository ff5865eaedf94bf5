"""Differential test: `vcp sla`'s path (prepare + evaluate, as the CLI calls them) against the
independent plain-Python reference implementation of RULES.md v2 (`reference.py`), row for row,
on random small forces with the victim's choices, at as-of instants in the middle of the data."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vcpipeline.canonical import CRIME_COLUMNS, EVENT_COLUMNS, VICTIM_COLUMNS
from vcpipeline.parsing import read_canonical_folder
from vcpipeline.rules.commands import parse_as_of
from vcpipeline.rules.engine import evaluate, obligations_csv_bytes
from vcpipeline.rules.prepare import prepare
from vcpipeline.rules.ruleset import load_rulesets


def _load_reference():
    """tests/rules/reference.py (the importlib import mode keeps test modules from importing siblings)."""
    path = Path(__file__).with_name("reference.py")
    spec = importlib.util.spec_from_file_location("vcp_rules_reference", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


reference = _load_reference()
RULESETS = load_rulesets()
# RULES.md's worked examples, where the shared contract keeps them (never copied here).
SHARED_EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "domain" / "examples"
EXAMPLES = sorted(p for p in SHARED_EXAMPLES.iterdir() if p.is_dir()) if SHARED_EXAMPLES.is_dir() else []

# Where the calendar is interesting: the 2020 Code's start (1 April 2021) with BST starting on
# 28 March 2021; Easter 2026 (Good Friday 3 April, Easter Monday 6 April); the autumn fold of 2026
# (25 October); Christmas and New Year 2025-26.
BASES = [pd.Timestamp("2021-03-24T08:00:00Z"), pd.Timestamp("2026-03-30T07:00:00Z"),
         pd.Timestamp("2026-10-21T09:00:00Z"), pd.Timestamp("2025-12-22T10:00:00Z")]
TYPES = ["WRITTEN_ACKNOWLEDGEMENT", "NEEDS_ASSESSMENT", "SUPPORT_REFERRAL", "REFERRAL_DECLINED",
         "SUSPECT_ARRESTED", "SUSPECT_INTERVIEWED", "SUSPECT_CHARGED", "SUSPECT_RELEASED_UNDER_INVESTIGATION",
         "DECISION_NOT_TO_INVESTIGATE", "VICTIM_UPDATE", "CRIME_FINALISED", "COURT_OUTCOME",
         "OUTCOME_COMMUNICATED", "VPS_OFFERED", "VPS_DECLINED", "VPS_USED", "VPS_USE_COMMUNICATED",
         "CONTACT_AGREED", "OPTED_OUT", "OPTED_IN", "CRIME_REPORTED"]
# The victim's choices and updates are drawn more often: they are what version 2 is about.
WEIGHTED_TYPES = [*TYPES, "CONTACT_AGREED", "CONTACT_AGREED", "VICTIM_UPDATE", "VICTIM_UPDATE",
                  "VICTIM_UPDATE", "OPTED_OUT", "SUSPECT_ARRESTED"]
CHANNELS = ["", "", "phone", "email", "letter", "sms", "visit", "Phone"]
SETTINGS = settings(max_examples=60, deadline=None)


def _text(instant: pd.Timestamp) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def forces(draw, fractions: bool = False) -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """Canonical text frames for 1-3 crimes of 1-3 victims each, up to 30 events, and an as-of
    (`fractions`: some events at fractions of a second, which order them but are not printed)."""
    base = draw(st.sampled_from(BASES))
    # A coarse grid of hours makes ties at one instant common.
    step = draw(st.sampled_from([1, 6, 24]))
    crimes, victims = [], []
    for c in range(draw(st.integers(1, 3))):
        ref = f"C{c}"
        reported = base + pd.Timedelta(hours=draw(st.integers(0, 10 * 24 // step)) * step)
        crimes.append({"crime_ref": ref, "reported_at": _text(reported), "department": draw(st.sampled_from(
            ["IIT", "PPU", "FORCE_CONTACT"])), "offence_category": draw(st.sampled_from(
                ["theft", "theft", "burglary", "sexual_offence"])),
            "domestic_abuse": draw(st.sampled_from(["false", "false", "true"])), "hate_crime": "false"})
        victims += [{"crime_ref": ref, "victim_id": f"V{c}{v}",
                     "age_at_report": draw(st.sampled_from(["", "35", "35", "17", "80"])),
                     "vulnerable": draw(st.sampled_from(["false", "false", "false", "true"])),
                     "intimidated": "false", "persistently_targeted": "false"}
                    for v in range(draw(st.integers(1, 3)))]
    span_days = draw(st.sampled_from([3, 12, 40]))  # short spans: more met, more ties
    n_events = draw(st.integers(0, 30))
    numbers = draw(st.permutations(range(n_events)))  # E10 sorts before E2: id order != time order
    events = []
    for i in range(n_events):
        crime = draw(st.sampled_from(crimes))
        own = [v["victim_id"] for v in victims if v["crime_ref"] == crime["crime_ref"]]
        kind = draw(st.sampled_from(WEIGHTED_TYPES))
        after = pd.Timedelta(hours=draw(st.integers(0, span_days * 24 // step)) * step,
                             seconds=draw(st.sampled_from([0, 0, 0, 1, 59])))
        events.append({
            "event_id": f"E{numbers[i]}", "crime_ref": crime["crime_ref"],
            "victim_id": draw(st.sampled_from(["", *own])), "event_type": kind,
            # Fractions of a second order events within one second of output text.
            "occurred_at": _text(pd.Timestamp(crime["reported_at"]) + after).replace(
                "Z", draw(st.sampled_from(["Z", "Z", "Z", ".25Z", ".999999Z"])) if fractions else "Z"),
            "in_need": draw(st.sampled_from(["", "true", "false"])) if kind == "NEEDS_ASSESSMENT" else "",
            "outcome_code": draw(st.sampled_from(["0", "1", "2", "15", "20", "21"]))
            if kind == "CRIME_FINALISED" else "",
            "court_result": draw(st.sampled_from(["SENTENCED", "ACQUITTED", "ADJOURNED"]))
            if kind == "COURT_OUTCOME" else "",
            "channel": draw(st.sampled_from(CHANNELS)),
            "interval_days": draw(st.sampled_from(["", "0", "1", "3", "7", "14"])) if kind == "CONTACT_AGREED" else "",
        })
    # As of the middle of the data (some crimes not yet reported, some events not yet happened) or long after.
    as_of = base + pd.Timedelta(hours=draw(st.sampled_from([12, 60, 24 * 7, 24 * 15, 24 * 30, 24 * 90])),
                                minutes=draw(st.sampled_from([0, 30])))
    frames = {
        "crimes": pd.DataFrame(crimes, columns=list(CRIME_COLUMNS), dtype="string"),
        "victims": pd.DataFrame(victims, columns=list(VICTIM_COLUMNS), dtype="string"),
        "events": pd.DataFrame(events, columns=[*EVENT_COLUMNS, "interval_days"], dtype="string"),
    }
    return frames, as_of


def engine_rows(raw: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> list[dict[str, str]]:
    ready = prepare(raw, as_of)
    obligations = evaluate(ready.crimes, ready.victims, ready.events, as_of, RULESETS)
    return list(csv.DictReader(io.StringIO(obligations_csv_bytes(obligations).decode())))


def reference_rows(raw: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> list[dict[str, str]]:
    ready = prepare(raw, as_of)
    return reference.evaluate(ready.crimes, ready.victims, ready.events, as_of)


def differences(ours: list[dict], theirs: list[dict]) -> str:
    lines = [f"engine only:    {','.join(r.values())}" for r in ours if r not in theirs]
    lines += [f"reference only: {','.join(r.values())}" for r in theirs if r not in ours]
    return "\n".join(lines) or "same rows, different order"


@pytest.mark.parametrize("example_folder", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_reference_reproduces_the_worked_examples(example_folder: Path) -> None:
    as_of = parse_as_of((example_folder / "as_of.txt").read_text().strip())
    ready = prepare(read_canonical_folder(example_folder), as_of)
    expected = list(csv.DictReader((example_folder / "obligations.csv").open(newline="")))
    assert reference.evaluate(ready.crimes, ready.victims, ready.events, as_of) == expected


@SETTINGS
@given(forces())
def test_vcp_sla_agrees_with_the_reference_row_for_row(force) -> None:
    raw, as_of = force
    ours, theirs = engine_rows(raw, as_of), reference_rows(raw, as_of)
    assert ours == theirs, f"as of {as_of}:\n{differences(ours, theirs)}"


def _two_arrests_in_one_second() -> tuple[dict[str, pd.DataFrame], pd.Timestamp]:
    """E2 at 10:00:00.25 and E1 at 10:00:00.5: both print as 10:00:00Z, so E1's row sorts first."""
    arrests = [{**dict.fromkeys((*EVENT_COLUMNS, "interval_days"), ""), "crime_ref": "C1", "event_id": event_id,
                "event_type": "SUSPECT_ARRESTED", "occurred_at": occurred_at}
               for event_id, occurred_at in (("E2", "2026-03-03T10:00:00.25Z"), ("E1", "2026-03-03T10:00:00.5Z"))]
    raw = {
        "crimes": pd.DataFrame([{"crime_ref": "C1", "reported_at": "2026-03-02T09:30:00Z", "department": "IIT",
                                 "offence_category": "theft", "domestic_abuse": "false", "hate_crime": "false"}],
                               dtype="string"),
        "victims": pd.DataFrame([{"crime_ref": "C1", "victim_id": "V1", "age_at_report": "35", "vulnerable": "false",
                                  "intimidated": "false", "persistently_targeted": "false"}], dtype="string"),
        "events": pd.DataFrame(arrests, dtype="string"),
    }
    return raw, pd.Timestamp("2026-03-31T12:00:00Z")


@SETTINGS
@example(_two_arrests_in_one_second())
@given(forces(fractions=True))
def test_vcp_sla_agrees_with_the_reference_when_events_have_fractions_of_a_second(force) -> None:
    raw, as_of = force
    ours, theirs = engine_rows(raw, as_of), reference_rows(raw, as_of)
    assert ours == theirs, f"as of {as_of}:\n{differences(ours, theirs)}"
