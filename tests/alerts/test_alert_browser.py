"""One team lead's e-mail as a person sees it, in headless Chromium: the enhanced marker, the
officer headings, due today, and at a phone's 390 px nothing wider than the screen.

Chromium is driven over the DevTools protocol with the report tests' harness
(tests/report/test_report_browser.py: `Chromium`), loaded from its file.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from vcpipeline.alerts.compose import compose_team_alerts

from .conftest import AS_OF, TEAMS, night_one, no_log, obligation

_HARNESS = Path(__file__).resolve().parents[1] / "report" / "test_report_browser.py"


def _chromium_class():
    spec = importlib.util.spec_from_file_location("_vcp_report_browser_harness", _HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Chromium


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    binary = next((found for name in ("chromium", "chromium-browser", "google-chrome")
                   if (found := shutil.which(name))), None)
    if binary is None:
        message = "Chromium not installed: `apt-get install -y chromium` (CI installs it)"
        if os.environ.get("VCP_REQUIRE_CHROMIUM"):
            pytest.fail(message)
        pytest.skip(message)
    session = _chromium_class()(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="module")
def alert_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RESP-B3's e-mail of Thursday 2 April, with a long trigger list and agreed contact methods."""
    night = pd.concat([night_one(), pd.DataFrame([
        obligation("CR-1020", "investigation_update", "BREACHED", "2026-04-01", trigger=event,
                   trigger_type=kind, collar="7781", enhanced=True)
        for event, kind in (("EV-201", "SUSPECT_ARRESTED"), ("EV-202", "SUSPECT_INTERVIEWED"),
                            ("EV-203", "SUSPECT_BAILED"))])], ignore_index=True)
    contacts = pd.DataFrame({"crime_ref": ["CR-1001"], "victim_id": ["V1"], "agreed_channel": ["phone"]})
    alert = next(a for a in compose_team_alerts(night, TEAMS, no_log(), AS_OF, contacts=contacts,
                                                data_engineering_email="data-engineering@force.example")
                 if a.team == "RESP-B3")
    page = tmp_path_factory.mktemp("alert") / "alert.html"
    page.write_text(alert.html, encoding="utf-8")
    return page


def _look(browser, width: int) -> dict:
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": width < 600},
                 session=True)
    browser.send("Page.reload", session=True)
    browser.events.clear()
    browser.wait_for("Page.loadEventFired")
    script = """(() => {
      const seen = el => el.getClientRects().length > 0;
      const boxes = [...document.body.querySelectorAll('*')].filter(seen).map(el => {
        const r = el.getBoundingClientRect();
        return {tag: el.tagName, text: el.innerText.slice(0, 40), left: r.left, right: r.right};
      });
      const text = sel => [...document.querySelectorAll(sel)].filter(seen).map(el => el.innerText.trim());
      return {
        viewport: document.documentElement.clientWidth,
        scroll: document.documentElement.scrollWidth,
        boxes,
        officers: text('h3.officer'),
        enhanced: text('.tag.enhanced'),
        today: text('.tag.today'),
        header_shown: text('table.items thead th').length,
        label: getComputedStyle(document.querySelector('table.items td'), '::before').content,
        lines: text('table.items tbody tr'),
      };
    })()"""
    return browser.send("Runtime.evaluate", {"expression": script, "returnByValue": True},
                        session=True)["result"]["value"]


def test_an_alert_reads_on_a_phone_with_enhanced_victims_and_officers_visible(browser, alert_page):
    browser.open(alert_page.as_uri())
    assert browser.errors() == []
    phone = _look(browser, 390)
    assert phone["viewport"] == 390
    assert phone["scroll"] <= 390, "the page scrolls sideways at 390 px"
    wide = [box for box in phone["boxes"] if box["right"] > 390.5 or box["left"] < -0.5]
    assert wide == [], wide[:5]
    assert phone["officers"][:2] == ["Officer 4521 (2)", "Officer 7781 (2)"]  # breaches to do, by officer
    assert phone["enhanced"] == ["ENHANCED SERVICE"] * 3  # CR-1004, CR-1020 (one line), CR-2005
    assert phone["today"] == ["DUE TODAY"] * 4
    assert phone["header_shown"] == 0 and phone["label"] == '"Crime: "'  # stacked: each cell says what it is
    collapsed = [line for line in phone["lines"] if line.startswith("CR-1020")]
    assert len(collapsed) == 1 and "an arrest, an interview and a suspect's bail" in collapsed[0]
    desktop = _look(browser, 1280)
    assert desktop["header_shown"] > 0  # a table with its header row on a wide screen
    assert desktop["scroll"] <= 1280
