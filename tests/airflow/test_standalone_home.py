"""`make airflow` opens the demo's Airflow home when the demo left one, so its runs are in the UI."""

from __future__ import annotations

from pathlib import Path

from vcpipeline.orchestration.standalone import standalone_env, ui_airflow_home


def test_without_a_demo_make_airflow_uses_its_own_home(tmp_path: Path):
    home, why = ui_airflow_home(tmp_path)
    assert home == (tmp_path / "airflow" / "standalone").resolve()
    assert "own" in why


def test_after_the_demo_make_airflow_opens_the_demos_home_and_says_so(tmp_path: Path):
    demo = tmp_path / "airflow" / "demo"
    demo.mkdir(parents=True)
    (demo / "airflow.db").write_bytes(b"")
    home, why = ui_airflow_home(tmp_path)
    assert home == demo.resolve()
    assert "demo" in why and "runs" in why


def test_an_empty_demo_folder_is_not_a_demo_home(tmp_path: Path):
    (tmp_path / "airflow" / "demo").mkdir(parents=True)
    assert ui_airflow_home(tmp_path)[0].name == "standalone"


def test_the_digest_links_to_data_docs_in_the_ui_it_starts(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__PORT", "8181")
    monkeypatch.delenv("VCP_AIRFLOW_BASE_URL", raising=False)
    env = standalone_env(tmp_path / "home", "127.0.0.1", 2525, f"sqlite:///{tmp_path / 'w.db'}")
    assert env["AIRFLOW_VAR_VCP_DATA_DOCS_URL"] == "http://localhost:8181/vcp-reports/data_docs/index.html"
