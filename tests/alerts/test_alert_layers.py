"""The alerts stage's shape: a pure core that reads nothing, a store, rendering with templates
loaded once, and the run/commands entry points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vcpipeline.alerts as alerts_package
from vcpipeline.alerts.compose import compose_team_alerts
from vcpipeline.alerts.render import load_templates
from vcpipeline.alerts.wording import rule_wording
from vcpipeline.rules.ruleset import load_rulesets

from .conftest import AS_OF, TEAMS, night_one, no_log

PACKAGE = Path(alerts_package.__file__).parent
PURE_CORE = ("messages", "selection", "wording", "contact", "compose")
# What only the store, rendering, delivery and the entry points may import.
IO_MODULES = ("sqlalchemy", "jinja2", "smtplib", "vcpipeline.warehouse", "vcpipeline.alerts.store",
              "vcpipeline.alerts.deliver", "vcpipeline.alerts.run", "airflow")


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", PURE_CORE)
def test_the_pure_core_imports_no_warehouse_smtp_or_template_engine(module):
    reached = {name for name in _imports(module)
               if any(name == banned or name.startswith(banned + ".") for banned in IO_MODULES)}
    assert not reached


def test_composing_with_templates_and_rule_wording_handed_in_reads_no_file(monkeypatch):
    import jinja2

    templates = load_templates()
    wording = rule_wording(load_rulesets())
    expected = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF, True)

    def no_reading(*_args, **_kwargs):
        raise AssertionError("a file was read while composing")

    monkeypatch.setattr(jinja2.FileSystemLoader, "get_source", no_reading)
    monkeypatch.setattr("vcpipeline.rules.ruleset.load_rulesets", no_reading)
    monkeypatch.setattr(Path, "read_text", no_reading)
    monkeypatch.setattr(Path, "open", no_reading)
    alerts = compose_team_alerts(night_one(), TEAMS, no_log(), AS_OF, True,
                                 templates=templates, wording=wording)
    assert [(a.subject, a.text, a.html) for a in alerts] == [(a.subject, a.text, a.html) for a in expected]
