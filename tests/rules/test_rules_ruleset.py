"""Rule-set data file: the packaged rules load; a bad file says exactly where it is bad."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from vcpipeline.rules.ruleset import DEFAULT_RULESETS, RuleSetError, load_rulesets

A20 = '[rulesets."vcop-2020".rules.acknowledgement]\n'


def test_packaged_rulesets_cover_both_codes() -> None:
    rulesets = load_rulesets()
    assert rulesets.names() == ("vcop-2015", "vcop-2020")
    assert rulesets.sets[1].reported_from == dt.date(2021, 4, 1)
    assert rulesets.rule_names() == ("acknowledgement", "investigation_update", "needs_referral",
                                     "outcome_notification", "vps_feedback", "vps_offer")
    assert "gbh_with_intent" in rulesets.enhanced_offence_categories
    assert load_rulesets() is rulesets  # cached


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_RULESETS.read_text()
    assert old in text
    path = tmp_path / "rules.toml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    (A20 + 'kind = "first_event"', A20 + 'kind = "first_event"\nunit = "fortnights"',
     None),  # duplicate key: TOML itself refuses
    ('deadline = 5\nenhanced_deadline = 5\nunit = "working_days"\n\n[rulesets."vcop-2020".rules.needs_referral]',
     'deadline = 5\nenhanced_deadline = 5\nunit = "weeks"\n\n[rulesets."vcop-2020".rules.needs_referral]',
     "rule set 'vcop-2020', rule 'acknowledgement': unit 'weeks' is not one of calendar_days, working_days"),
    (A20 + 'kind = "first_event"\ntrigger = "crime_report"\nmet_by = ["WRITTEN_ACKNOWLEDGEMENT"]',
     A20 + 'kind = "first_event"\ntrigger = "crime_report"\nmet_by = ["LETTER_SENT"]',
     "rule set 'vcop-2020', rule 'acknowledgement': met_by: unknown event type 'LETTER_SENT'"),
    (A20 + 'kind = "first_event"', A20 + 'kind = "first_event"\ndeadlne = 3',
     "rule set 'vcop-2020', rule 'acknowledgement': unknown key 'deadlne'"),
    ('reported_from = 2021-04-01', 'reported_from = 2021-05-01',
     "rule set 'vcop-2015' ends 2021-04-01 but 'vcop-2020' starts 2021-05-01"),
    (A20 + 'kind = "first_event"', A20 + 'kind = "first_come_first_served"',
     "rule set 'vcop-2020', rule 'acknowledgement': kind 'first_come_first_served' is not one of"),
])
def test_bad_rule_set_file_names_file_rule_set_rule_and_value(tmp_path, old, new, message) -> None:
    path = edited(tmp_path, old, new)
    with pytest.raises(RuleSetError) as error:
        load_rulesets(path)
    assert str(path) in str(error.value)
    if message:
        assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_outcome_code_in_a_trigger_condition_is_refused(tmp_path) -> None:
    path = edited(tmp_path, "trigger_outcome_codes = [2, ", "trigger_outcome_codes = [99, ")
    with pytest.raises(RuleSetError, match="rule 'outcome_notification': trigger_outcome_codes"):
        load_rulesets(path)


def test_missing_rule_set_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RuleSetError, match="rule-set file not found"):
        load_rulesets(tmp_path / "absent.toml")


def test_edited_file_is_reloaded(tmp_path) -> None:
    path = edited(tmp_path, "deadline = 5\nenhanced_deadline = 1", "deadline = 5\nenhanced_deadline = 1")
    first = load_rulesets(path)
    path.write_text(path.read_text().replace("deadline = 5\nenhanced_deadline = 1",
                                             "deadline = 4\nenhanced_deadline = 1", 1) + "\n")
    assert load_rulesets(path) is not first
