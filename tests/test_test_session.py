"""The rules every test session keeps (tests/conftest.py): temporary output folders, a guard on the
checkout's out/ and var/, and repeatable hypothesis examples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vcpipeline import settings as vcp_settings

CONFTEST = Path(__file__).with_name("conftest.py")
CHECKOUT = CONFTEST.resolve().parents[1]


def test_outputs_and_working_state_default_to_the_sessions_own_temporary_folders() -> None:
    for folder in (vcp_settings.out_dir(), vcp_settings.var_dir()):
        assert folder.is_absolute() and not folder.resolve().is_relative_to(CHECKOUT)
    assert vcp_settings.warehouse_url() == f"sqlite:///{vcp_settings.var_dir() / 'warehouse.db'}"


def test_the_default_warehouse_lives_in_the_var_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCP_VAR_DIR", "/srv/vcp/var")
    monkeypatch.delenv("VCP_WAREHOUSE_URL", raising=False)
    assert vcp_settings.warehouse_url() == "sqlite:////srv/vcp/var/warehouse.db"
    monkeypatch.delenv("VCP_VAR_DIR")
    assert vcp_settings.warehouse_url() == "sqlite:///var/warehouse.db"
    monkeypatch.setenv("VCP_WAREHOUSE_URL", "postgresql+psycopg://db/vcp")
    assert vcp_settings.warehouse_url() == "postgresql+psycopg://db/vcp"


def test_the_airflow_metadata_cache_is_outside_the_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert vcp_settings.cache_dir() == tmp_path / "vcpipeline"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert vcp_settings.cache_dir() == Path.home() / ".cache" / "vcpipeline"


def test_hypothesis_runs_the_repeatable_profile_by_default() -> None:
    if os.environ.get("VCP_HYPOTHESIS_PROFILE", "repeatable") != "repeatable":
        pytest.skip("another hypothesis profile was chosen")
    assert settings.default.derandomize and settings.default.database is None


_drawn: list[list[int]] = []


@settings(max_examples=5)
@given(st.lists(st.integers()))
def _draw(values: list[int]) -> None:
    _drawn.append(values)


def test_hypothesis_draws_the_same_examples_every_run() -> None:
    if not settings.default.derandomize:
        pytest.skip("the fuzz profile is random on purpose")
    _draw()
    first = list(_drawn)
    _drawn.clear()
    _draw()
    assert _drawn == first


# The guard, proved on a copy of the test tree's conftest in a throw-away checkout.

INNER_TESTS = '''
import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def test_writes_where_settings_point():
    from vcpipeline import settings
    (settings.out_dir() / "report").mkdir(parents=True)
    (settings.out_dir() / "report" / "q.html").write_text("fixture report")
    (settings.var_dir()).mkdir(parents=True)
    (settings.var_dir() / "warehouse.db").write_text("fixture warehouse")


def test_writes_into_the_checkout():
    if os.environ.get("WRITE_INTO_CHECKOUT"):
        (CHECKOUT / "out" / "report").mkdir(parents=True, exist_ok=True)
        (CHECKOUT / "out" / "report" / "victims-code-2026Q3.html").write_text("24 obligations at 0.0%")
        (CHECKOUT / "var" / "warehouse.db").write_text("overwritten")
'''


@pytest.fixture
def throwaway_checkout(pytester: pytest.Pytester) -> pytest.Pytester:
    """A checkout with a demo's out/ and var/ and the suite's conftest; nothing else."""
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "conftest.py").write_text(CONFTEST.read_text())
    (pytester.path / "tests" / "test_inner.py").write_text(INNER_TESTS)
    (pytester.path / "out" / "report").mkdir(parents=True)
    (pytester.path / "out" / "report" / "victims-code-2026Q3.html").write_text("the demo's report")
    (pytester.path / "var").mkdir()
    (pytester.path / "var" / "warehouse.db").write_text("the demo's warehouse")
    return pytester


def test_a_session_whose_tests_write_only_where_settings_point_passes(throwaway_checkout) -> None:
    result = throwaway_checkout.runpytest_subprocess("-p", "no:cacheprovider", "tests")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert (throwaway_checkout.path / "var" / "warehouse.db").read_text() == "the demo's warehouse"


def test_a_session_whose_tests_write_into_the_checkout_fails_naming_the_paths(
        throwaway_checkout, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRITE_INTO_CHECKOUT", "1")
    result = throwaway_checkout.runpytest_subprocess("-p", "no:cacheprovider", "tests")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*2 passed*"], consecutive=False)
    result.stdout.fnmatch_lines([
        "*FAILED: tests wrote into the checkout's out and var*",
        "modified out/report/victims-code-2026Q3.html*",
        "modified var/warehouse.db*",
    ])
