"""What a team lead reads in the morning e-mail, and acts on in 30 seconds (issue 14): enhanced
victims and due-today marked, items under their officer, a victim's identical obligations on one
line, weekend items carried to the next working day, breaches still open, met late apart, how to
correct a breach done but not recorded, one configured sender, and subjects that read back as written."""

from __future__ import annotations

import email
import email.policy
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.messages import LocalSenderError, configured_sender, refuse_local_sender

from .conftest import AS_OF, TEAMS, night_one, no_log, obligation

DATA_ENGINEERING = "data-engineering@force.example"


def _by_team(alerts):
    return {alert.message_key.split("/")[0]: alert for alert in alerts}


def _log(*nights) -> pd.DataFrame:
    """The alert log after these nights' e-mails were sent: each item with its e-mail's as-of."""
    frames = [alert.items.assign(announced_at=alert.as_of) for alerts in nights for alert in alerts]
    return pd.concat([no_log(), *frames], ignore_index=True)


def _section(text: str, heading: str) -> str:
    """The text part's section under `heading` (up to the next upper-case heading)."""
    start = text.index(heading)
    following = re.search(r"\n\n[A-Z][A-Z0-9 ,:'.]+(\(|\n|\?)", text[start + len(heading):])
    return text[start:start + len(heading) + (following.start() if following else len(text))]


def _night(as_of: str) -> pd.Timestamp:
    return pd.Timestamp(as_of)


def test_enhanced_victims_are_marked_and_due_today_stands_apart_from_due_soon():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    lines = {line.split(",")[0][2:]: line for line in alert.text.splitlines() if line.startswith("- CR-")}
    assert "[ENHANCED SERVICE]" in lines["CR-2005"] and "[ENHANCED SERVICE]" in lines["CR-1004"]
    assert "[ENHANCED SERVICE]" not in lines["CR-2004"]
    assert lines["CR-2000"].endswith("(DUE TODAY).") and lines["CR-2004"].endswith("(due soon).")
    assert alert.html.count('class="tag enhanced"') == 2
    assert alert.html.count('class="tag today"') == 4  # CR-2000..2003 are due on Thursday itself


def test_items_are_grouped_under_the_officer_in_the_case():
    night = pd.concat([night_one(), pd.DataFrame([
        obligation("CR-1010", "acknowledgement", "BREACHED", "2026-03-30", collar="7781"),
        obligation("CR-1011", "acknowledgement", "BREACHED", "2026-03-27", collar=""),
    ])], ignore_index=True)
    alert = _by_team(compose_team_alerts(night, TEAMS, no_log(), AS_OF))["RESP-B3"]
    to_do = _section(alert.text, "BREACHED, STILL NOT DONE")
    headings = re.findall(r"^Officer (\S+ ?\S*) \((\d+)\):$", to_do, flags=re.MULTILINE)
    assert headings == [("4521", "2"), ("7781", "2"), ("not recorded", "1")]
    under_7781 = to_do.split("Officer 7781 (2):\n")[1].split("Officer not recorded")[0]
    assert [line[2:9] for line in under_7781.splitlines() if line] == ["CR-1004", "CR-1010"]  # oldest first
    assert alert.html.count('<h3 class="officer">') == 3 + 1 + 1  # to do, due soon, met late


def test_a_victims_identical_obligations_due_the_same_day_are_one_line_naming_their_triggers():
    night = pd.DataFrame([
        obligation("CR-8001", "investigation_update", "BREACHED", "2026-04-01", trigger=event,
                   trigger_type=kind)
        for event, kind in (("EV-81", "SUSPECT_ARRESTED"), ("EV-82", "SUSPECT_INTERVIEWED"),
                            ("EV-83", "SUSPECT_BAILED"))
    ])
    alert = compose_team_alerts(night, TEAMS, no_log(), AS_OF)[0]
    lines = [line for line in alert.text.splitlines() if line.startswith("- CR-8001")]
    assert lines == ["- CR-8001, victim V1: Update the victim within 5 working days of an arrest, an "
                     "interview and a suspect's bail. Due Wed 1 Apr 2026 (not yet done)."]
    assert alert.html.count("<td data-label=\"Crime\">CR-8001</td>") == 1
    assert len(alert.items) == 3 and alert.new_breaches == 3  # each obligation is still logged
    assert "— 3 new breaches, 0 due by" in alert.subject


def test_items_first_sent_on_saturday_and_sunday_are_listed_again_in_mondays_email():
    saturday, sunday, monday = (_night("2026-04-11T01:00Z"), _night("2026-04-12T01:00Z"),
                                _night("2026-04-13T01:00Z"))
    week = pd.DataFrame([
        obligation("CR-9001", "acknowledgement", "BREACHED", "2026-04-10"),   # news on Saturday
        obligation("CR-9002", "acknowledgement", "BREACHED", "2026-04-11"),   # news on Sunday
        obligation("CR-9003", "vps_offer", "PENDING", "2026-04-13", trigger="EV-93"),  # at risk from Saturday
        obligation("CR-9004", "acknowledgement", "BREACHED", "2026-04-09"),   # news on Friday
    ])
    friday = compose_team_alerts(week, TEAMS, no_log(), _night("2026-04-10T01:00Z"))
    friday_log = _log(friday).loc[lambda f: f["crime_ref"] == "CR-9004"]  # only CR-9004 was due by then
    sat = compose_team_alerts(week, TEAMS, friday_log, saturday)
    sun = compose_team_alerts(week, TEAMS, pd.concat([friday_log, _log(sat)]), sunday)
    assert [set(a.items["crime_ref"]) for a in sat] == [{"CR-9001", "CR-9003"}]
    assert [set(a.items["crime_ref"]) for a in sun] == [{"CR-9002"}]
    log = pd.concat([friday_log, _log(sat, sun)], ignore_index=True)
    mon = compose_team_alerts(week, TEAMS, log, monday)
    assert len(mon) == 1
    text = mon[0].text
    assert "- CR-9001, victim V1: " in text and "First sent Sat 11 Apr 2026." in text
    assert "- CR-9002, victim V1: " in text and "First sent Sun 12 Apr 2026." in text
    assert "- CR-9003, victim V1: " in _section(text, "DUE TODAY OR BY")
    assert "CR-9004" not in _section(text, "BREACHED, STILL NOT DONE")  # Friday's was read on Friday
    assert mon[0].items.empty  # carried, not announced again: the log keeps the first e-mail
    assert mon[0].subject.endswith("2 new breaches, 1 due by Tue 14 Apr")
    tuesday = compose_team_alerts(week, TEAMS, log, _night("2026-04-14T01:00Z"))
    assert all("First sent" not in a.text for a in tuesday)  # carried once, to the next working day


def test_a_bank_holiday_weekends_items_reach_the_next_working_day():
    """Easter 2026: Good Friday 3 April to Easter Monday 6 April; Tuesday's e-mail lists them."""
    days = ["2026-04-03", "2026-04-04", "2026-04-05", "2026-04-06"]
    week = pd.DataFrame([obligation(f"CR-95{i}", "acknowledgement", "BREACHED", day)
                         for i, day in enumerate(["2026-04-02", "2026-04-03", "2026-04-04", "2026-04-05"])])
    log = no_log()
    for day in days:
        sent = compose_team_alerts(week, TEAMS, log, pd.Timestamp(f"{day}T01:00Z"))
        log = pd.concat([log, _log(sent)], ignore_index=True)
    tuesday = compose_team_alerts(week, TEAMS, log, pd.Timestamp("2026-04-07T01:00Z"))
    assert len(tuesday) == 1
    assert re.findall(r"First sent (\w+ \d+ Apr)", tuesday[0].text) == [
        "Fri 3 Apr", "Sat 4 Apr", "Sun 5 Apr", "Mon 6 Apr"]


def test_still_open_lists_breaches_not_yet_done_oldest_first_capped_with_a_count():
    old = [obligation(f"CR-6{i:03d}", "acknowledgement", "BREACHED", f"2026-03-{i + 5:02d}")
           for i in range(13)]
    late = obligation("CR-6999", "acknowledgement", "MET_LATE", "2026-03-04", met_at="2026-03-06T09:00:00Z")
    night = pd.DataFrame([*old, late])
    logged = _log(compose_team_alerts(night, TEAMS, no_log(), pd.Timestamp("2026-03-26T02:00Z")))
    today = pd.concat([night, pd.DataFrame([obligation("CR-7000", "vps_offer", "PENDING", "2026-04-02")])])
    alert = compose_team_alerts(today, TEAMS, logged, AS_OF)[0]
    still_open = _section(alert.text, "STILL OPEN")
    crimes = re.findall(r"^- (CR-\d+)", still_open, flags=re.MULTILINE)
    assert crimes == [f"CR-6{i:03d}" for i in range(10)]  # oldest due first, capped at 10
    assert "... and 3 more." in still_open
    assert "CR-6999" not in still_open  # met (late): not open
    assert "<p>... and 3 more.</p>" in alert.html


def test_met_late_is_apart_from_breaches_still_not_done_and_needs_no_action():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    assert alert.subject == "Victims Code: Force Response Team B3 — 3 new breaches, 1 met late, 7 due by Tue 7 Apr"
    assert "CR-1003" not in _section(alert.text, "BREACHED, STILL NOT DONE (3)")
    met_late = _section(alert.text, "MET LATE: NO ACTION NEEDED (1)")
    assert "- CR-1003, victim V1: " in met_late and "(met late: no action needed)" in met_late
    assert "Met late: no action needed (1)</h2>" in alert.html
    assert alert.met_late == 1 and alert.new_breaches == 4


def test_every_email_says_where_to_record_what_was_done_and_whom_to_contact():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF,
                                         data_engineering_email=DATA_ENGINEERING))["RESP-B3"]
    help_ = _section(alert.text, "DONE BUT NOT RECORDED?")
    assert "- Acknowledge the crime report in writing: Victim contact log: a contact of contact_type ACK" in help_
    assert "Victim support referrals: an Activity 'Needs assessment'" in help_
    assert f"contact data engineering ({DATA_ENGINEERING})" in help_
    assert f'href="mailto:{DATA_ENGINEERING}"' in alert.html


def test_a_long_subject_reads_back_with_single_spaces():
    frame = pd.DataFrame([obligation("CR-1", "acknowledgement", "BREACHED", "2026-03-31",
                                     department="VVA", team="VVA-B3")])
    teams = pd.DataFrame({"department": ["VVA"], "team": ["VVA-B3"], "lead_name": ["Lead"],
                          "lead_email": ["lead@force.example"]})
    alert = compose_team_alerts(frame, teams, no_log(), AS_OF)[0]
    assert len(alert.subject) > 78  # long enough to have been folded before the "—"
    read = email.message_from_bytes(alert.email().as_bytes(), policy=email.policy.default)
    assert read["Subject"] == alert.subject
    assert "  " not in read["Subject"]


def test_the_configured_sender_is_every_emails_and_a_localhost_sender_is_refused(monkeypatch):
    monkeypatch.setenv("VCP_MAIL_FROM", "Victims Code <victims-code@force.example>")
    assert configured_sender() == "Victims Code <victims-code@force.example>"
    monkeypatch.delenv("VCP_MAIL_FROM")
    assert configured_sender().endswith("@force.example>")
    for local in ("vcp-airflow@localhost", "alerts@host.localdomain", "root", "a@127.0.0.1"):
        with pytest.raises(LocalSenderError, match="VCP_MAIL_FROM"):
            refuse_local_sender(local)


def test_text_and_html_parts_list_the_same_items():
    alert = _by_team(compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF))["RESP-B3"]
    in_text = sorted(re.findall(r"^- (CR-\d+), victim", alert.text, flags=re.MULTILINE))
    in_html = sorted(re.findall(r'<td data-label="Crime">(CR-\d+)</td>', alert.html))
    assert in_text == in_html and len(in_text) == 12
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in alert.html


def test_saturdays_items_sent_and_logged_reach_mondays_email_through_the_warehouse(engine):
    """End to end through the alert log: Saturday's and Sunday's e-mails are sent and logged;
    Monday's lists their items again, logs nothing twice, and a rerun of Monday sends nothing."""
    from vcpipeline.alerts.reference import store_team_leads
    from vcpipeline.alerts.run import run_alerts
    from vcpipeline.warehouse.schema import alert_log

    from .conftest import store_night

    week = pd.DataFrame([
        obligation("CR-9101", "acknowledgement", "BREACHED", "2026-04-10"),
        obligation("CR-9102", "acknowledgement", "BREACHED", "2026-04-11"),
    ]).assign(trigger_event_type=None)
    store_night(engine, week)
    with engine.begin() as conn:
        store_team_leads(conn, TEAMS, AS_OF.to_pydatetime())
    sent = []
    for night in ("2026-04-11T01:00Z", "2026-04-12T01:00Z", "2026-04-13T01:00Z", "2026-04-13T01:00Z"):
        run_alerts(engine, pd.Timestamp(night), sent.append, sender="alerts@force.example")
    assert [m["X-VCP-Message-Key"] for m in sent] == ["RESP-B3/2026-04-11", "RESP-B3/2026-04-12",
                                                       "RESP-B3/2026-04-13"]
    monday = sent[-1].get_body(("plain",)).get_content()
    assert "- CR-9101, victim V1 (no method agreed): " in monday and "First sent Sat 11 Apr 2026." in monday
    assert "- CR-9102, victim V1 (no method agreed): " in monday and "First sent Sun 12 Apr 2026." in monday
    with engine.connect() as conn:
        logged = pd.read_sql(sa.select(alert_log.c.crime_ref, alert_log.c.message_key), conn)
    assert sorted(map(tuple, logged.to_numpy().tolist())) == [
        ("CR-9101", "RESP-B3/2026-04-11"), ("CR-9102", "RESP-B3/2026-04-12")]
