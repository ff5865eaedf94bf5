"""The board paper's nine dip-sample questions and what the pipeline already knows about each.

Reviewers answer every question `Yes`, `No`, `N/A` or `No data` for a sampled crime. The
worksheet's separate, hidden findings sheet (opened after answering, so it cannot anchor the
answer) shows the automated **finding** for that crime in plain English (`FINDING_TEXT`), built
from its obligations (RULES.md), so the survey can measure how often reviewers and the rule
engine agree.

The questions' labels and wording for Q3–Q7 and Q9 are the rule set's (`label`,
`worksheet_question` of the rule whose `board_question` names it; Q5 is answered by
`investigation_update` and the victim-led `agreed_update`, and reads as the former): see
`board_questions`. Q1, Q2 and Q8 are no rule's, so their words are here.

Per question the finding is one word or phrase (`No data` for every question but Q2 when the crime
has no obligations at all, i.e. the rule engine has not evaluated it):

- a rule's question (Q3–Q7, Q9): the worst status of its rules' obligations over the crime's
  victims, worst first `BREACHED`, `MET_LATE`, `PENDING`, `MET`, then `WAIVED`, shown as
  "not owed: the victim's choice" (opted out, or agreed another plan: RULES.md v2); `n/a` when the
  rule owes nothing (e.g. no arrest, so no update was due);
- Q1 (compliant): `NOT_COMPLIANT` when any obligation is `BREACHED` or `MET_LATE` (RULES.md),
  else `COMPLIANT`;
- Q8 (VPS used): `USED` when a `vps_feedback` obligation exists (it is triggered by `VPS_USED`),
  `n/a` when the crime was never charged (no `vps_offer`), else `No data` (charged, no use recorded);
- Q2 (good service): `REVIEWER`, a judgement no rule can make.

Each finding maps to the answer the automated check would give (`automated_answer`): MET,
COMPLIANT and USED are Yes; BREACHED, MET_LATE and NOT_COMPLIANT are No; n/a and not owed are
N/A; a PENDING obligation, REVIEWER and No data are No data (undecided, so left out of the
agreement).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vcpipeline.rules.ruleset import RuleSets, load_rulesets
from vcpipeline.sampling.survey import NO, NO_DATA, NOT_APPLICABLE, YES


@dataclass(frozen=True)
class Question:
    """One board-paper question: its id, its short label, the paper's wording, its rules."""

    id: str
    label: str
    text: str
    rule: str | None  # the obligation rule that answers it and gives its words, when there is one
    rules: tuple[str, ...] = ()  # every rule whose obligations answer it (`rule` first)


# The nine questions in the board paper's order; those no rule answers keep their words here.
QUESTION_ORDER: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7", "Q8", "Q9")
REVIEWER_QUESTIONS: Mapping[str, tuple[str, str]] = {
    "Q1": ("Victims Code compliant", "Do you think this has been Victims Code compliant?"),
    "Q2": ("Good level of service", "Do you think a good level of service was provided?"),
    "Q8": ("VPS used", "Was the VPS used?"),
}


def board_questions(rulesets: RuleSets) -> tuple[Question, ...]:
    """The nine questions, those a rule answers worded from the rule set (latest set's words).

    A rule answers the last question its `board_question` names (`Q8/Q9`: Q9; Q8 is read from
    whether that rule was triggered). Of several rules answering one question, the one that is not
    periodic gives the question its words (the Code's own duty; the periodic one adds the
    victim-led part). A question no rule and no fixed wording covers is an error.
    """
    answering: dict[str, list[str]] = {}
    for name in rulesets.rule_names():
        rule = rulesets.rule(name)
        answering.setdefault(rule.board_question.split("/")[-1], []).append(name)
    questions = []
    for qid in QUESTION_ORDER:
        if qid in REVIEWER_QUESTIONS:
            questions.append(Question(qid, *REVIEWER_QUESTIONS[qid], None))
            continue
        names = sorted(answering.get(qid, ()), key=lambda n: (rulesets.rule(n).kind == "periodic", n))
        if not names:
            raise ValueError(f"{rulesets.source}: no rule answers board-paper question {qid}")
        primary = rulesets.rule(names[0])
        questions.append(Question(qid, primary.label, primary.worksheet_question, primary.name, tuple(names)))
    return tuple(questions)


QUESTIONS: tuple[Question, ...] = board_questions(load_rulesets())  # the packaged rule sets, read once
QUESTION_IDS: tuple[str, ...] = tuple(question.id for question in QUESTIONS)
QUESTIONS_BY_ID: Mapping[str, Question] = {question.id: question for question in QUESTIONS}

# Worst first: the finding for a rule is its worst obligation's status.
STATUS_SEVERITY: tuple[str, ...] = ("BREACHED", "MET_LATE", "PENDING", "MET", "WAIVED")
RULE_NOT_OWED = "n/a"
NOT_OWED_BY_CHOICE = "not owed: the victim's choice"  # every obligation of the question WAIVED
COMPLIANT, NOT_COMPLIANT, USED, REVIEWER = "COMPLIANT", "NOT_COMPLIANT", "USED", "REVIEWER"
FINDING_ANSWERS: Mapping[str, str] = {
    "MET": YES, COMPLIANT: YES, USED: YES,
    "BREACHED": NO, "MET_LATE": NO, NOT_COMPLIANT: NO,
    RULE_NOT_OWED: NOT_APPLICABLE, NOT_OWED_BY_CHOICE: NOT_APPLICABLE,
    "PENDING": NO_DATA, REVIEWER: NO_DATA, NO_DATA: NO_DATA,
}
FINDING_COLUMNS: tuple[str, ...] = ("crime_ref", "question", "finding", "automated_answer")
# The obligation columns the findings read (others, whatever they hold, are never looked at).
OBLIGATION_INPUT_COLUMNS: tuple[str, ...] = ("crime_ref", "victim_id", "rule", "trigger_at", "due_at",
                                             "met_at", "status")


def automated_answers(findings: pd.Series) -> pd.Series:
    """Findings to the Yes / No / N/A / No data the automated check gives (unknown → No data)."""
    return findings.map(FINDING_ANSWERS).fillna(NO_DATA).astype("str")


def _worst_status_by_rule(obligations: pd.DataFrame) -> pd.DataFrame:
    """One row per (crime_ref, rule): the worst status among the crime's obligations of that rule."""
    severity = pd.Categorical(obligations["status"].astype("str"), categories=STATUS_SEVERITY, ordered=True)
    frame = pd.DataFrame({"crime_ref": obligations["crime_ref"].astype("str").to_numpy(),
                          "rule": obligations["rule"].astype("str").to_numpy(),
                          "code": severity.codes})
    frame = frame[frame["code"] >= 0]
    worst = frame.groupby(["crime_ref", "rule"], sort=False)["code"].min()
    return worst.rename("code").reset_index()


def crime_findings(crime_refs: pd.Series, obligations: pd.DataFrame,
                   questions: tuple[Question, ...] = QUESTIONS) -> pd.DataFrame:
    """The automated finding per sampled crime and question (FINDING_COLUMNS, sorted by crime, question).

    `obligations` has at least crime_ref, rule and status (the warehouse's `obligations` table or
    `vcp sla` output); obligations of crimes outside `crime_refs` are ignored. `questions`
    (`board_questions`) says which rules answer which question.
    """
    refs = pd.Index(pd.unique(crime_refs.astype("str")), name="crime_ref")
    owed = obligations[obligations["crime_ref"].astype("str").isin(refs)]
    worst = _worst_status_by_rule(owed).pivot_table(index="crime_ref", columns="rule", values="code",
                                                    aggfunc="min").reindex(index=refs)
    status_names = np.array([NOT_OWED_BY_CHOICE if status == "WAIVED" else status
                             for status in STATUS_SEVERITY], dtype=object)

    def rule_finding(*rules: str) -> np.ndarray:
        present = [rule for rule in rules if rule in worst.columns]
        if not present:
            return np.full(len(refs), RULE_NOT_OWED, dtype=object)
        codes = worst[present].min(axis=1)
        return np.where(codes.isna(), RULE_NOT_OWED,
                        status_names[codes.fillna(0).astype("int64").to_numpy()])

    evaluated = pd.Index(owed["crime_ref"].astype("str").unique())
    failing = pd.Index(owed.loc[owed["status"].isin(("BREACHED", "MET_LATE")), "crime_ref"]
                       .astype("str").unique())
    has_rule = {rule: (rule_finding(rule) != RULE_NOT_OWED) for rule in ("vps_offer", "vps_feedback")}
    per_question = {
        "Q1": np.where(~refs.isin(evaluated), NO_DATA,
                       np.where(refs.isin(failing), NOT_COMPLIANT, COMPLIANT)),
        "Q2": np.full(len(refs), REVIEWER, dtype=object),
        "Q8": np.where(has_rule["vps_feedback"], USED,
                       np.where(has_rule["vps_offer"], NO_DATA, RULE_NOT_OWED)),
    }
    for question in questions:
        if question.rule is not None:
            per_question[question.id] = rule_finding(*(question.rules or (question.rule,)))
    for question in QUESTION_IDS:  # a crime the rule engine never evaluated: nothing is known
        if question != "Q2":
            per_question[question] = np.where(refs.isin(evaluated), per_question[question], NO_DATA)
    wide = pd.DataFrame({"crime_ref": refs, **{qid: per_question[qid] for qid in QUESTION_IDS}})
    long = wide.melt(id_vars="crime_ref", var_name="question", value_name="finding")
    long["finding"] = long["finding"].astype("str")
    long["automated_answer"] = automated_answers(long["finding"])
    return long.sort_values(["crime_ref", "question"], kind="stable", ignore_index=True)[list(FINDING_COLUMNS)]


# A finding as the reviewer reads it (the warehouse keeps the code, `sample_findings.finding`).
FINDING_TEXT: Mapping[str, str] = {
    "MET": "Yes: met on time",
    "MET_LATE": "No: met, but late",
    "BREACHED": "No: not met by the deadline",
    "PENDING": "Not decided: not met yet, still within the deadline",
    RULE_NOT_OWED: "N/A: nothing was owed",
    NOT_OWED_BY_CHOICE: "N/A: not owed, the victim's choice",
    COMPLIANT: "Yes: every obligation met on time",
    NOT_COMPLIANT: "No: at least one obligation not met, or met late",
    USED: "Yes: the VPS's use in court is recorded",
    REVIEWER: "No automated finding: your judgement",
    NO_DATA: "No data: the crime's obligations have not been evaluated",
}
FINDING_CODES: Mapping[str, str] = {text: code for code, text in FINDING_TEXT.items()}
# What each status says happened, after the due date (`obligations_text`).
_OUTCOME_WORDS: Mapping[str, str] = {
    "MET": "met on time", "MET_LATE": "met late", "BREACHED": "not met by the deadline",
    "PENDING": "not met yet (still within the deadline)", "WAIVED": "not owed: the victim's choice",
}
REPORT_TRIGGER = "the crime report"


def finding_text(findings: pd.Series) -> pd.Series:
    """Finding codes in plain English (an unknown code is shown as it is)."""
    return findings.map(FINDING_TEXT).fillna(findings).astype("str")


def _day_labels(instants: pd.Series) -> pd.Series:
    """`5 Jan 2026`: each instant's local date ('' when missing)."""
    from vcpipeline.calendar import local_dates

    index = pd.DatetimeIndex(local_dates(instants))
    labels = pd.Series(index.strftime("%d %b %Y"), index=instants.index).str.replace(r"^0", "", regex=True)
    return labels.where(instants.notna().to_numpy(), "")


def obligations_text(obligations: pd.DataFrame, *, outcome: bool = True,
                     rulesets: RuleSets | None = None) -> pd.Series:
    """Per crime, its obligations in plain English, one line each (crime_ref index).

    `Update the victim (V1), after an arrest on 5 Jan 2026: due by 12 Jan 2026; met on time on
    6 Jan 2026`. The rule's action and, when the frame has `trigger_event_type`, the event that
    started the clock (`the crime report` when `trigger_event_id` is ''; else the rule's own words)
    come from the rule set. Without `outcome` the line stops at the due date: what was owed, not
    whether it was met, so the reviewer's sheet does not anchor their answer. Pseudonymous victim
    ids and local dates only.
    """
    from vcpipeline.alerts.wording import TRIGGER_PHRASES

    if obligations.empty:
        return pd.Series(dtype="str", index=pd.Index([], name="crime_ref"))
    rulesets = rulesets or load_rulesets()
    ordered = obligations.sort_values(["crime_ref", "victim_id", "trigger_at", "rule"], kind="stable")
    rules = ordered["rule"].astype("str")
    names = rules.unique()
    known = {name: rulesets.rule(name) for name in names if name in rulesets.rule_names()}
    action = rules.map({n: r.alert_sentence for n, r in known.items()}).fillna(rules)
    trigger = rules.map({n: r.alert_trigger for n, r in known.items()}).fillna("its trigger")
    if "trigger_event_type" in ordered:
        event = ordered["trigger_event_type"].astype("str").map(TRIGGER_PHRASES)
        trigger = event.where(event.notna(), trigger)
    if "trigger_event_id" in ordered:
        trigger = trigger.where(ordered["trigger_event_id"].fillna("").astype("str").ne(""), REPORT_TRIGGER)
    # The due date shown is the last day to act: due_at is the first instant after it.
    due = _day_labels(ordered["due_at"] - pd.Timedelta(microseconds=1))
    lines = (action + " (" + ordered["victim_id"].astype("str").fillna("") + "), after " + trigger
             + " on " + _day_labels(ordered["trigger_at"]) + ": due by " + due)
    if outcome:
        met = _day_labels(ordered["met_at"])
        status = ordered["status"].astype("str")
        lines = (lines + "; " + status.map(_OUTCOME_WORDS).fillna(status)
                 + met.where(met == "", " on " + met))
    return lines.groupby(ordered["crime_ref"].astype("str").to_numpy()).agg("\n".join).rename_axis("crime_ref")
