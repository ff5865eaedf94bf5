"""No victim's name, contact detail or date of birth reaches any alert: proved on a synthetic force
whose source systems are full of them, run through the real adapters, rule engine and composer."""

from __future__ import annotations

import re
from datetime import date

import pytest

from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.reference import synthetic_team_reference

from .conftest import no_log

PERSONAL_COLUMNS = ("forename", "surname", "phone", "address_line", "postcode", "date_of_birth",
                    "Client Name", "Witness Name")


@pytest.fixture(scope="module")
def synthetic_alerts():
    from vcpipeline.rules.engine import evaluate
    from vcpipeline.rules.prepare import prepare
    from vcpipeline.rules.ruleset import load_rulesets
    from vcpipeline.sources.config import load_source_config
    from vcpipeline.synth.force import ForceSpec, generate_force
    from vcpipeline.synth.summary import canonical_rows

    configs = load_source_config()
    force = generate_force(ForceSpec(crimes=600, start=date(2026, 3, 1), days=30, tail_days=2, seed=3), configs)
    canonical = canonical_rows(force.native, configs)
    as_of = force.spec.extracted_at  # 1 April 2026, local midnight
    prepared = prepare({name: frame.astype("string").fillna("") for name, frame in canonical.items()}, as_of)
    obligations = evaluate(prepared.crimes, prepared.victims, prepared.events, as_of, load_rulesets())
    owners = prepared.crimes.loc[:, ["crime_ref", "team", "officer_collar"]]
    obligations = obligations.merge(owners, on="crime_ref", how="left")
    teams = synthetic_team_reference(prepared.crimes.loc[:, ["department", "team"]], seed=3)
    alerts = compose_team_alerts(obligations, teams, no_log(), as_of, all_clear=True)
    return force, alerts


def _personal_values(force) -> set[str]:
    values: set[str] = set()
    for tables in force.native.values():
        for frame in tables.values():
            for column in PERSONAL_COLUMNS:
                if column in frame.columns:
                    values.update(v for v in frame[column].dropna().astype(str) if len(v) >= 5)
    victims = force.native["crime_recording"]["victims"]
    values.update((victims["forename"] + " " + victims["surname"]).astype(str))
    return values


_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _phrases(text: str, longest: int = 4) -> set[tuple[str, ...]]:
    """Every run of 1..`longest` consecutive words: a value leaks if its words appear in a row."""
    words = _TOKEN.findall(text)
    return {tuple(words[i:i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)}


def test_no_victim_name_contact_detail_or_birth_date_reaches_any_alert(synthetic_alerts):
    force, alerts = synthetic_alerts
    assert sum(alert.new_breaches for alert in alerts) > 50  # the force does let victims down
    personal = {tuple(_TOKEN.findall(value)): value for value in _personal_values(force)}
    assert len(personal) > 1000
    seen: set[tuple[str, ...]] = set()
    for alert in alerts:
        message = alert.email()
        # The key headers are a team code and ISO dates, which a young victim's birth date resembles.
        headers = " ".join(f"{name} {value}" for name, value in message.items()
                           if name not in ("Message-ID", "X-VCP-Message-Key", "X-VCP-As-Of"))
        parts = " ".join(part.get_content() for part in message.iter_parts())
        seen |= _phrases(" ".join((headers, parts, alert.text, alert.html)))
    leaked = sorted(value for words, value in personal.items() if words in seen)
    assert leaked == []


def test_the_synthetic_force_exercises_the_default_lead_path(synthetic_alerts):
    _, alerts = synthetic_alerts
    assert any(alert.team == "" and alert.unknown_team_crimes > 0 for alert in alerts)
    assert len({alert.recipient for alert in alerts}) == len(alerts)
