"""The report's pure pieces: the rate leaves WAIVED out, the agreed-method share, department names."""

from __future__ import annotations

import math

import pandas as pd

from vcpipeline.report.model import RULES, department_label, with_agreed_rate, with_rate


def test_waived_obligations_change_due_but_never_the_compliance_rate() -> None:
    counts = {"due": [10, 14], "met_on_time": [6, 6], "met_late": [1, 1], "breached": [1, 1], "pending": [2, 2],
              "waived": [0, 4]}
    rates = with_rate(pd.DataFrame(counts))["compliance_rate"]
    assert rates[0] == rates[1] == 6 / 8


def test_agreed_method_share_is_kept_over_compared_and_no_figure_when_nothing_was_compared() -> None:
    frame = with_agreed_rate(pd.DataFrame({"agreed_method_compared": [60, 0, None],
                                           "agreed_method_kept": [50, 0, None]}))
    assert frame["agreed_method_rate"][0] == 50 / 60
    assert math.isnan(frame["agreed_method_rate"][1]) and math.isnan(frame["agreed_method_rate"][2])
    assert frame["agreed_method_compared"].dtype == "int64"


def test_departments_have_plain_names_and_an_unknown_code_still_reads_as_words() -> None:
    assert department_label("FORCE_RESPONSE") == "Force Response"
    assert department_label("WITNESS_CARE") == "Witness Care"
    assert department_label("ALL") == "All departments"
    assert department_label("ROADS_POLICING") == "Roads Policing"


def test_agreed_update_is_reported_after_the_other_q5_rule_in_board_paper_order() -> None:
    assert RULES[:4] == ("acknowledgement", "needs_referral", "investigation_update", "agreed_update")
    assert RULES[-1] == "vps_feedback"
