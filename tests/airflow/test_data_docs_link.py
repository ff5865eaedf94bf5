"""The digest's Data Docs link opens in a browser: the Airflow UI's reports plugin serves it."""

from __future__ import annotations

import ast

import pytest

from vcpipeline import settings
from vcpipeline.orchestration import airflow_env, variables

PLUGIN = airflow_env.PROJECT_ROOT / "plugins" / "vcp_reports.py"


def _plugin_data_docs_index() -> str:
    """The path the plugin serves Data Docs' index at: its URL prefix + its data_docs route."""
    tree = ast.parse(PLUGIN.read_text(encoding="utf-8"))
    prefix = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                  and any(getattr(t, "id", None) == "URL_PREFIX" for t in node.targets))
    route = next(decorator.args[0].value
                 for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "data_docs"
                 for decorator in node.decorator_list)
    return prefix + route.replace("{relative:path}", "index.html")


def test_the_default_data_docs_link_is_the_airflow_ui_plugins_page_not_a_file(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VCP_AIRFLOW_BASE_URL", raising=False)
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    url = variables.default_data_docs_url()
    assert url == "http://localhost:8080" + _plugin_data_docs_index()
    assert not url.startswith("file:")


def test_the_data_docs_link_follows_the_configured_airflow_base_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow-internal:8080")
    monkeypatch.setenv("VCP_AIRFLOW_BASE_URL", "https://airflow.force.example/pipeline/")
    assert settings.airflow_base_url() == "https://airflow.force.example/pipeline"
    assert variables.default_data_docs_url() == (
        "https://airflow.force.example/pipeline/vcp-reports/data_docs/index.html")
    monkeypatch.delenv("VCP_AIRFLOW_BASE_URL")
    assert variables.default_data_docs_url().startswith("http://airflow-internal:8080/vcp-reports/")
