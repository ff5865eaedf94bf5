"""The report renders in headless Chromium with no console error, paints something, and prints.

Chromium is driven over the DevTools protocol (a websocket; `websockets` comes with Airflow):
every console message, uncaught exception and browser log entry of level error is collected
while the page loads from its file, offline. A control page with a broken image and a script
error proves the harness does see errors.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*")


class Chromium:
    """One headless Chromium and one page in it, spoken to over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path) -> None:
        from websockets.sync.client import connect

        self.process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        endpoint = self._endpoint()
        self.socket = connect(endpoint, max_size=None, open_timeout=30)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1000, "height": 700, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _endpoint(self) -> str:
        deadline = time.monotonic() + 30
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if match := re.search(r"DevTools listening on (ws://\S+)", line):
                return match.group(1)
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("Chromium did not open its DevTools endpoint")

    def send(self, method: str, params: dict | None = None, session: bool = False, timeout: float = 60) -> dict:
        message_id = next(self.ids)
        message = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.socket.recv(timeout=left)))
            except TimeoutError:
                return

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=True)
        self.wait_for("Page.loadEventFired")
        self.drain(0.5)  # late console messages

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails', {}).get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"network: {params.get('errorText')}")
        return found

    def screenshot(self) -> bytes:
        return base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"])

    def pdf(self) -> bytes:
        return base64.b64decode(self.send("Page.printToPDF", {"printBackground": False}, session=True)["data"])

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    session = Chromium(chromium, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield session
    finally:
        session.close()


def png_pixels(png: bytes) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) to a height × width × channels array."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data, header = 8, b"", None
    while position < len(png):
        length, kind = struct.unpack(">I4s", png[position:position + 8])
        body = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            data += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(height, stride + 1)
    image = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int64)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: a running sum per channel
            row = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) % 256
        elif kind == 2:  # Up
            row = (line + previous) % 256
        else:  # Average or Paeth: each byte depends on the one before it
            row = np.zeros(stride, dtype=np.int64)
            for x in range(stride):
                left = row[x - channels] if x >= channels else 0
                up = previous[x]
                if kind == 3:
                    row[x] = (line[x] + (left + up) // 2) % 256
                else:
                    corner = previous[x - channels] if x >= channels else 0
                    estimate = left + up - corner
                    pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                    nearest = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                    row[x] = (line[x] + nearest) % 256
        image[y] = row
        previous = row
    return image.reshape(height, width, channels)


@pytest.fixture(scope="module")
def report_page(sqlite_warehouse: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vcpipeline.report.run import build_period_report

    return build_period_report(sqlite_warehouse, "2026Q1", tmp_path_factory.mktemp("browser") / "report")


def test_report_renders_in_chromium_without_a_console_error(browser: Chromium, report_page: Path,
                                                            tmp_path: Path) -> None:
    browser.open(report_page.as_uri())
    assert browser.errors() == []
    title = browser.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                         session=True)["result"]["value"]
    assert title.startswith("Victims Code compliance: 2026Q1")
    shot = browser.screenshot()
    (tmp_path / "report.png").write_bytes(shot)
    pixels = png_pixels(shot)[..., :3].reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    assert len(colours) > 1, "the screenshot is blank"
    assert (pixels.sum(axis=1) < 3 * 200).mean() > 0.01  # some ink, not a white page with a dot


def test_report_prints_to_a_pdf(browser: Chromium, report_page: Path) -> None:
    browser.open(report_page.as_uri())
    pdf = browser.pdf()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000


# A4 less the report's 12 mm print margins, in CSS pixels (96 per inch): the box print lays out in.
MM = 96 / 25.4
A4_CONTENT = (round((210 - 2 * 12) * MM), round((297 - 2 * 12) * MM))
BOXES = """(() => {
  const page = document.documentElement.clientWidth;
  const tables = [...document.querySelectorAll('table')].map(t => {
    const wrap = t.closest('.table-wrap') || t.parentElement, box = t.getBoundingClientRect();
    const cells = [...t.querySelectorAll('td')];
    return {id: t.id, right: box.right, width: box.width, bottom: box.bottom + window.scrollY,
            container: wrap.getBoundingClientRect().right, scrolls: wrap.scrollWidth > wrap.clientWidth,
            smallest_font: Math.min(...cells.map(c => parseFloat(getComputedStyle(c).fontSize)), 99)};
  });
  return {page, document: document.documentElement.scrollWidth, tables};
})()"""


def layout(browser: Chromium, page: Path, width: int, media: str = "screen") -> dict:
    """Every table's box at a viewport `width` (print media for the page's print layout)."""
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}, session=True)
    browser.send("Emulation.setEmulatedMedia", {"media": media}, session=True)
    try:
        browser.open(page.as_uri())
        return browser.send("Runtime.evaluate", {"expression": BOXES, "returnByValue": True},
                            session=True)["result"]["value"]
    finally:
        browser.send("Emulation.setEmulatedMedia", {"media": ""}, session=True)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1000, "height": 700, "deviceScaleFactor": 1, "mobile": False}, session=True)


def clipped(boxes: dict) -> list[str]:
    """Tables wider than their container or the page, or hidden behind a sideways scroll."""
    return [f"{t['id']}: right {t['right']:.0f} > {min(t['container'], boxes['page']):.0f}"
            + (" (scrolls)" if t["scrolls"] else "")
            for t in boxes["tables"] if t["scrolls"] or t["right"] > min(t["container"], boxes["page"]) + 0.5]


@pytest.mark.parametrize("width", [1440, 1280])
def test_no_table_is_clipped_or_scrolls_sideways_on_a_desktop(browser: Chromium, report_page: Path,
                                                              width: int) -> None:
    boxes = layout(browser, report_page, width)
    assert len(boxes["tables"]) >= 10
    assert clipped(boxes) == []
    assert boxes["document"] <= boxes["page"]


def test_tables_read_as_labelled_rows_on_a_phone(browser: Chromium, report_page: Path) -> None:
    boxes = layout(browser, report_page, 390)
    assert clipped(boxes) == []
    assert boxes["document"] <= boxes["page"]  # no sideways scroll of the whole page either
    assert min(t["smallest_font"] for t in boxes["tables"]) >= 12  # readable, not shrunk to fit


def test_no_table_is_wider_than_an_a4_page_and_the_survey_is_on_the_first(browser: Chromium,
                                                                          report_page: Path) -> None:
    width, height = A4_CONTENT
    boxes = layout(browser, report_page, width, media="print")
    assert clipped(boxes) == []
    survey = next(t for t in boxes["tables"] if t["id"] == "t-survey")
    assert survey["bottom"] <= height, "the survey table does not fit on the first A4 page"


def test_the_printed_a4_pdf_carries_the_survey_s_right_hand_column_on_page_one(
        browser: Chromium, report_page: Path, tmp_path: Path) -> None:
    import shutil

    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    browser.open(report_page.as_uri())
    pdf = base64.b64decode(browser.send("Page.printToPDF", {"preferCSSPageSize": True}, session=True)["data"])
    (tmp_path / "report.pdf").write_bytes(pdf)
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(tmp_path / "report.pdf"), "-"],
                           capture_output=True, text=True, check=True).stdout
    assert "Latest Victims Code survey results" in first
    assert "kappa" in first and "Q9" in first  # the last column and the last row, on page one


def test_harness_sees_a_clipped_table(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text('<!DOCTYPE html><title>x</title><div class="table-wrap" style="overflow-x:auto">'
                    '<table id="wide"><tr>' + "<td>wide&nbsp;cell&nbsp;text</td>" * 40 + "</tr></table></div>",
                    encoding="utf-8")
    assert clipped(layout(browser, page, 1440)) != []


def test_harness_sees_console_errors_and_broken_resources(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><title>x</title><img src="missing.png" alt="">'
                    '<script>console.error("boom")</script>', encoding="utf-8")
    browser.open(page.as_uri())
    errors = " ".join(browser.errors())
    assert "boom" in errors and ("missing.png" in errors or "ERR_FILE_NOT_FOUND" in errors)
