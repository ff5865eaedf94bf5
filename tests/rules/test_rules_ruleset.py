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
    assert rulesets.rule_names() == ("acknowledgement", "agreed_update", "investigation_update",
                                     "needs_referral", "outcome_notification", "vps_feedback", "vps_offer")
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
    (A20 + 'kind = "first_event"\ntrigger = "crime_report"\nmet_by = ["WRITTEN_ACKNOWLEDGEMENT"]\n'
     'deadline = 5\nenhanced_deadline = 5\nunit = "working_days"',
     A20 + 'kind = "first_event"\ntrigger = "crime_report"\nmet_by = ["WRITTEN_ACKNOWLEDGEMENT"]\n'
     'deadline = 5\nenhanced_deadline = 5\nunit = "weeks"',
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


AU15 = "rule set 'vcop-2015', rule 'agreed_update'"
IU15 = "rule set 'vcop-2015', rule 'investigation_update'"


@pytest.mark.parametrize(("old", "new", "message"), [
    ('ends_with = "outcome_notification"', 'ends_with = "the_end"',
     f"{AU15}: ends_with 'the_end' is not a non-periodic rule of this rule set"),
    ('ends_with = "outcome_notification"\n', '',
     f"{AU15}: kind = \"periodic\" needs ends_with"),
    ('trigger_events = ["CONTACT_AGREED"]', 'trigger_events = ["VICTIM_UPDATE"]',
     f"{AU15}: kind = \"periodic\" needs trigger = \"events\" and trigger_events = [\"CONTACT_AGREED\"]"),
    ('unit = "calendar_days"\nends_with', 'unit = "working_days"\nends_with',
     f"{AU15}: kind = \"periodic\" counts calendar_days"),
    ('unit = "calendar_days"\nends_with', 'deadline = 5\nunit = "calendar_days"\nends_with',
     f"{AU15}: deadline does not apply to kind = \"periodic\""),
    ('waivable = true\npost_charge_owner = "WITNESS_CARE"\ncompare_channel = true\nlabel = "Updates within',
     'waivable = "yes"\npost_charge_owner = "WITNESS_CARE"\ncompare_channel = true\nlabel = "Updates within',
     f"{IU15}: waivable 'yes' is not true or false"),
    ('post_charge_owner = "WITNESS_CARE"', 'post_charge_owner = "witness care"',
     f"{IU15}: post_charge_owner 'witness care' is not a department code"),
    ('compare_channel = true', 'compare_channel = 1', f"{IU15}: compare_channel 1 is not true or false"),
    ('board_question = "Q5"', 'board_question = "Question 5"',
     f"{IU15}: board_question 'Question 5' is not a board-paper question"),
    ('alert_sentence = "Update the victim"\n', '', f"{IU15}: alert_sentence must be a non-empty string"),
    ('label = "Written acknowledgement"', 'label = ""',
     "rule set 'vcop-2015', rule 'acknowledgement': label must be a non-empty string"),
    ('deadline = 5\nenhanced_deadline = 1', 'deadline = 0\nenhanced_deadline = 1',
     f"{IU15}: deadline 0 is not a whole number of days 1-366"),
    ('kind = "first_event"\ntrigger = "events"\ntrigger_events = ["SUSPECT_CHARGED"]',
     'kind = "first_event"\nends_with = "acknowledgement"\ntrigger = "events"\ntrigger_events = ["SUSPECT_CHARGED"]',
     "rule set 'vcop-2015', rule 'vps_offer': ends_with only applies to kind = \"periodic\""),
])
def test_bad_version_2_rule_property_names_file_rule_set_and_rule(tmp_path, old, new, message) -> None:
    path = edited(tmp_path, old, new)
    with pytest.raises(RuleSetError) as error:
        load_rulesets(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_version_2_rule_properties_are_data_with_the_defaults_of_rules_md() -> None:
    for ruleset in load_rulesets().sets:
        rules = {rule.name: rule for rule in ruleset.rules}
        waivable = {"investigation_update", "outcome_notification", "vps_offer", "vps_feedback", "agreed_update"}
        assert {name for name, rule in rules.items() if rule.waivable} == waivable
        assert {name for name, rule in rules.items() if rule.post_charge_owner == "WITNESS_CARE"} == waivable
        assert {name for name, rule in rules.items() if rule.compare_channel} == waivable - {"vps_offer"}
        assert rules["agreed_update"].kind == "periodic"
        assert rules["agreed_update"].ends_with == "outcome_notification"


def test_every_rule_carries_its_words_in_one_place() -> None:
    rulesets = load_rulesets()
    questions = {name: rulesets.rule(name).board_question for name in rulesets.rule_names()}
    assert questions == {"acknowledgement": "Q3", "needs_referral": "Q4", "investigation_update": "Q5",
                         "agreed_update": "Q5", "outcome_notification": "Q6", "vps_offer": "Q7",
                         "vps_feedback": "Q8/Q9"}
    for name in rulesets.rule_names():
        rule = rulesets.rule(name)
        assert rule.label and rule.alert_sentence and rule.alert_trigger and rule.worksheet_question.endswith("?")
    assert rulesets.rule("acknowledgement").alert_sentence == "Acknowledge the crime report in writing"
    assert rulesets.rule("vps_offer").worksheet_question == "Was a VPS taken?"


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
