"""Version 2 dip sample: the reviewer sees each victim's agreed method and opt-outs, findings say
in plain words when nothing was owed because of the victim's choice, and the questions' words are
the rule set's."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pandas as pd
from openpyxl import load_workbook

from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.sampling.choices import (
    AGREED_METHOD_HEADER,
    OPTED_OUT_HEADER,
    agreed_contact_text,
    opted_out_text,
)
from vcpipeline.sampling.questions import (
    NOT_OWED_BY_CHOICE,
    QUESTIONS,
    board_questions,
    crime_findings,
)
from vcpipeline.sampling.reviews import WRONG_SAMPLE, worksheet_problem
from vcpipeline.sampling.store import draw_and_store_sample, read_sample
from vcpipeline.sampling.worksheets import (
    REVIEW_SHEET,
    WorksheetContent,
    worksheet_header,
    write_worksheets,
)

AS_OF = pd.Timestamp("2026-04-01T00:00:00Z")


def _obligations(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({
        "crime_ref": [r[0] for r in rows], "victim_id": ["V1"] * len(rows), "rule": [r[1] for r in rows],
        "trigger_at": pd.Timestamp("2026-01-05T10:00:00Z"), "due_at": pd.Timestamp("2026-01-13T00:00:00Z"),
        "met_at": pd.NaT, "status": [r[2] for r in rows],
    })


def _events(*rows: tuple[str, str, str, str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "crime_ref", "victim_id", "event_type", "occurred_at", "channel"])


def test_a_question_whose_obligations_were_all_waived_reads_not_owed_by_the_victims_choice():
    obligations = _obligations([
        ("C1", "outcome_notification", "WAIVED"), ("C1", "vps_offer", "WAIVED"), ("C1", "vps_offer", "MET"),
        ("C2", "investigation_update", "MET"), ("C2", "agreed_update", "BREACHED"),
        ("C3", "agreed_update", "WAIVED"),
    ])
    findings = crime_findings(pd.Series(["C1", "C2", "C3"]), obligations).set_index(["crime_ref", "question"])
    finding, answer = findings["finding"], findings["automated_answer"]
    assert finding["C1", "Q6"] == NOT_OWED_BY_CHOICE == "not owed: the victim's choice"
    assert answer["C1", "Q6"] == "N/A"
    assert finding["C1", "Q7"] == "MET"  # a waived obligation beside a met one: the met one speaks
    assert finding["C1", "Q1"] == "COMPLIANT"  # WAIVED is never a failure
    assert finding["C2", "Q5"] == "BREACHED"  # Q5 is answered by agreed_update too
    assert finding["C3", "Q5"] == NOT_OWED_BY_CHOICE
    assert findings["finding"].str.len().max() <= 32  # sample_findings.finding


def test_the_questions_words_are_the_rule_sets_and_q5_is_answered_by_both_update_rules():
    rulesets = load_rulesets()
    assert {q.id: (q.label, q.text) for q in QUESTIONS if q.rule} == {
        q.id: (rulesets.rule(q.rule).label, rulesets.rule(q.rule).worksheet_question) for q in QUESTIONS if q.rule}
    assert next(q for q in QUESTIONS if q.id == "Q5").rules == ("investigation_update", "agreed_update")
    assert next(q for q in QUESTIONS if q.id == "Q9").rule == "vps_feedback"  # board_question "Q8/Q9"
    changed = RuleSets(tuple(dataclasses.replace(s, rules=tuple(
        dataclasses.replace(r, label="VPS offered", worksheet_question="Was a VPS offered?")
        if r.name == "vps_offer" else r for r in s.rules)) for s in rulesets.sets),
        rulesets.enhanced_offence_categories, rulesets.source)
    q7 = next(q for q in board_questions(changed) if q.id == "Q7")
    assert (q7.label, q7.text) == ("VPS offered", "Was a VPS offered?")


def test_each_victims_agreed_method_and_interval_in_force_per_crime():
    victims = pd.DataFrame({"crime_ref": ["C1", "C1", "C2", "C3"], "victim_id": ["V2", "V1", "V1", "V1"]})
    events = _events(
        ("E1", "C1", "", "CONTACT_AGREED", "2026-02-01T10:00:00Z", "email"),
        ("E2", "C1", "V1", "CONTACT_AGREED", "2026-03-01T10:00:00Z", "phone"),
        ("E3", "C2", "V1", "CONTACT_AGREED", "2026-03-01T10:00:00Z", ""),
        ("E4", "C3", "V1", "CONTACT_AGREED", "2026-04-02T10:00:00Z", "sms"),  # after the as-of
    ).assign(interval_days=[0, 14, 1, 7])
    text = agreed_contact_text(victims, events, AS_OF)
    assert text.to_dict() == {
        "C1": "V1: phone, every 14 days\nV2: email",
        "C2": "V1: plan agreed, no method, every 1 day",
        "C3": "V1: no contact plan agreed",
    }


def test_opt_outs_show_their_local_dates_and_when_the_victim_opted_back_in():
    victims = pd.DataFrame({"crime_ref": ["C1", "C1", "C2"], "victim_id": ["V1", "V2", "V1"]})
    events = _events(
        ("E1", "C1", "V1", "OPTED_IN", "2026-01-10T10:00:00Z", ""),       # no effect: never opted out
        ("E2", "C1", "V1", "OPTED_OUT", "2026-02-02T23:30:00Z", ""),      # local 2 Feb (GMT)
        ("E3", "C1", "V1", "OPTED_OUT", "2026-02-05T10:00:00Z", ""),      # already out: not shown
        ("E4", "C1", "V1", "OPTED_IN", "2026-02-20T10:00:00Z", ""),
        ("E5", "C1", "", "OPTED_OUT", "2026-03-30T23:30:00Z", ""),        # every victim; local 31 Mar (BST)
        ("E6", "C2", "V1", "OPTED_OUT", "2026-04-02T10:00:00Z", ""),      # after the as-of
    )
    assert opted_out_text(victims, events, AS_OF).to_dict() == {
        "C1": "V1: 2026-02-02 (back in 2026-02-20), 2026-03-31\nV2: 2026-03-31"}


def test_worksheets_show_the_agreed_method_and_opt_out_columns(force_engine, tmp_path):
    from vcpipeline.warehouse.load import start_batch, upsert_events

    draw_and_store_sample(force_engine, "2026Q1", size=30, minimum=5)
    with force_engine.connect() as conn:
        refs = sorted(read_sample(conn, "2026Q1").crimes["crime_ref"].astype(str))
    chosen, other = refs[0], refs[1]
    events = _events(("CH-1", chosen, "V1", "CONTACT_AGREED", "2026-01-20T10:00:00Z", "phone"),
                     ("CH-2", chosen, "V1", "OPTED_OUT", "2026-02-03T10:00:00Z", ""))
    with force_engine.begin() as conn:
        batch = start_batch(conn, "victim_contact", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
        upsert_events(conn, events.assign(
            occurred_at=pd.to_datetime(events["occurred_at"], utc=True), source_system="victim_contact",
            source_row_id=events["event_id"], extracted_at=pd.Timestamp("2026-04-01T00:30:00Z")), batch)
    paths = write_worksheets(force_engine, "2026Q1", tmp_path / "sample")
    header = worksheet_header()
    rows = {}
    for path in paths:
        sheet = load_workbook(path)[REVIEW_SHEET]
        assert [cell.value for cell in sheet[1]] == list(header)
        for values in sheet.iter_rows(min_row=2, values_only=True):
            rows[values[0]] = dict(zip(header, values, strict=True))
    assert rows[chosen][AGREED_METHOD_HEADER] == "V1: phone"
    assert rows[chosen][OPTED_OUT_HEADER] == "V1: 2026-02-03"
    assert rows[other][AGREED_METHOD_HEADER] in ("V1: no contact plan agreed", None)  # None: no victim
    assert rows[other][OPTED_OUT_HEADER] is None


def test_a_returned_worksheet_of_the_earlier_format_is_refused_with_the_reason():
    content = WorksheetContent({"format": "vcp-dip-sample-worksheet/1"}, (), pd.DataFrame())
    kind, problem = worksheet_problem(content, "2026Q1", "hash")
    assert kind == WRONG_SAMPLE and "earlier format" in problem and "write and send the current one" in problem
