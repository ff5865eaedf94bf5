"""The Airflow UI plugin serves the reports through Airflow's own API server, to signed-in users only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vcpipeline import settings
from vcpipeline.orchestration import airflow_env

PROBE = Path(__file__).with_name("airflow_probe.py")

pytestmark = pytest.mark.slow  # ~20 s: an Airflow API server app in its own process


@pytest.fixture(scope="module")
def plugin_answers(tmp_path_factory: pytest.TempPathFactory, sqlite_warehouse: str) -> dict:
    """Every request of the probe, answered by the API server app with our plugins loaded."""
    from vcpipeline.report.run import build_period_report

    root = tmp_path_factory.mktemp("plugin")
    out = root / "out"
    build_period_report(sqlite_warehouse, "2026Q1", out / "report")
    build_period_report(sqlite_warehouse, "2025-12", out / "report")
    (out / "report" / "notes.txt").write_text("not served")
    (root / "secret.txt").write_text("outside the report folder")
    docs = build_hostile_data_docs(out / "data_docs")
    (docs / "results.json").write_text("{}")  # not a file type of the site: never served
    (docs / ".hidden.html").write_text("<p>hidden</p>")
    page = next((docs / "validations").rglob("*.html")).relative_to(docs).as_posix()
    gets = {"docs_page": f"/vcp-reports/data_docs/{page}",
            "docs_css": "/vcp-reports/data_docs/static/styles/vcp_offline.css",
            "docs_image": "/vcp-reports/data_docs/static/images/logo-long.png",
            "docs_font": "/vcp-reports/data_docs/static/fonts/HKGrotesk/HKGrotesk-Light.otf",
            "docs_json": "/vcp-reports/data_docs/results.json",
            "docs_hidden": "/vcp-reports/data_docs/.hidden.html",
            "docs_nul": "/vcp-reports/data_docs/index%00.html",
            "report_nul": "/vcp-reports/reports/victims-code-2026Q1%00.html"}
    home = root / "airflow"
    home.mkdir()
    airflow_env.seed_metadata_db(home, settings.cache_dir() / "airflow")
    env = {**os.environ, **airflow_env.airflow_home_env(home), "VCP_OUT_DIR": str(out),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "reader:viewer",
           "AIRFLOW__API_AUTH__JWT_SECRET": "report-plugin-test-secret", "VCP_PROBE_GETS": json.dumps(gets)}
    done = subprocess.run([sys.executable, str(PROBE)], env=env, cwd=airflow_env.PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


HOSTILE = "<script>alert(9)</script>"


def build_hostile_data_docs(folder: Path) -> Path:
    """A real Data Docs site for a batch whose department (the reporting unit) is a script; its folder."""
    import pandas as pd

    from vcpipeline.validation.docs import build_data_docs
    from vcpipeline.validation.validate import validate_batch

    crimes = pd.DataFrame({"crime_ref": ["EX1"], "reported_at": ["2026-03-02T09:30:00Z"], "department": [HOSTILE],
                           "offence_category": ["BURGLARY"], "domestic_abuse": ["false"], "hate_crime": ["false"]},
                          dtype="string")
    validation = validate_batch(crimes, "canonical_crimes", row_id="crime_ref", now="2026-06-01T00:00:00Z")
    return build_data_docs([validation], folder).parent


@pytest.mark.parametrize("request_name", ["anonymous_index", "anonymous_latest", "anonymous_report"])
def test_anonymous_request_is_refused_with_401(plugin_answers: dict, request_name: str) -> None:
    assert plugin_answers[request_name]["status"] == 401
    assert "Victims Code" not in plugin_answers[request_name]["body"]


def test_invalid_token_is_refused_with_403(plugin_answers: dict) -> None:
    assert plugin_answers["invalid_token"]["status"] == 403


def test_user_without_a_role_may_not_view_the_reports(plugin_answers: dict) -> None:
    assert plugin_answers["no_role"]["status"] == 403


def test_index_lists_past_reports_newest_first_for_a_signed_in_viewer(plugin_answers: dict) -> None:
    for name in ("index", "index_cookie"):  # Bearer token (API) or the UI's session cookie
        answer = plugin_answers[name]
        assert answer["status"] == 200, answer
        body = answer["body"]
        assert body.index("reports/victims-code-2026Q1.html") < body.index("reports/victims-code-2025-12.html")
    listed = json.loads(plugin_answers["list"]["body"])
    assert [entry["period"] for entry in listed] == ["2026Q1", "2025-12"]


def test_latest_redirects_to_the_newest_report_which_is_served(plugin_answers: dict) -> None:
    latest = plugin_answers["latest"]
    assert latest["status"] == 307
    assert latest["location"] == "reports/victims-code-2026Q1.html"
    report = plugin_answers["report"]
    assert report["status"] == 200
    assert "<h1>Victims Code compliance: 2026Q1" in report["body"]
    assert "script-src" not in report["csp"] and "default-src 'none'" in report["csp"]


def test_report_tables_and_data_docs_are_served_beside_it(plugin_answers: dict) -> None:
    assert plugin_answers["csv"]["status"] == 200
    assert plugin_answers["csv"]["body"].startswith("period,rule,")
    assert plugin_answers["data_docs"]["status"] == 200


def test_nothing_outside_the_reports_or_of_another_kind_is_served(plugin_answers: dict) -> None:
    assert plugin_answers["traversal"]["status"] == 404
    assert plugin_answers["hidden_suffix"]["status"] == 404


def test_plugin_is_read_only(plugin_answers: dict) -> None:
    assert plugin_answers["post"]["status"] == 405
    assert plugin_answers["delete"]["status"] == 405


def test_plugin_registers_its_app_and_a_navigation_view(plugin_answers: dict) -> None:
    plugins = json.loads(plugin_answers["plugins"]["body"])["plugins"]
    ours = next(p for p in plugins if p["name"] == "vcp_reports")
    assert ours["fastapi_apps"][0]["url_prefix"] == "/vcp-reports"
    assert ours["external_views"][0]["url_route"] == "vcp-reports"
    assert any(p["name"] == "vcp_scheduling" for p in plugins)  # the other plugin still loads


def test_data_docs_show_a_hostile_source_value_as_text_under_a_policy_that_runs_no_script(plugin_answers: dict) -> None:
    page = plugin_answers["docs_page"]
    assert page["status"] == 200
    assert HOSTILE not in page["body"] and "&lt;script&gt;alert(9)&lt;/script&gt;" in page["body"]
    policy = {part.split()[0]: part.split()[1:] for part in page["csp"].split("; ")}
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy
    assert policy["frame-ancestors"] == ["'self'"] and policy["base-uri"] == ["'none'"]
    assert page["nosniff"] == "nosniff"


@pytest.mark.parametrize(("request_name", "media_type"), [
    ("docs_css", "text/css"), ("docs_image", "image/png"), ("docs_font", "font/otf")])
def test_data_docs_serve_the_stylesheets_images_and_fonts_the_site_ships(plugin_answers: dict, request_name: str,
                                                                           media_type: str) -> None:
    answer = plugin_answers[request_name]
    assert answer["status"] == 200
    assert answer["type"].startswith(media_type)
    assert "default-src 'none'" in answer["csp"] and answer["nosniff"] == "nosniff"


@pytest.mark.parametrize("request_name", ["docs_json", "docs_hidden", "docs_nul", "report_nul"])
def test_other_files_and_impossible_names_in_the_data_docs_or_reports_are_not_found(plugin_answers: dict,
                                                                                    request_name: str) -> None:
    assert plugin_answers[request_name]["status"] == 404
