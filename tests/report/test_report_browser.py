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


def test_harness_sees_console_errors_and_broken_resources(browser: Chromium, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><title>x</title><img src="missing.png" alt="">'
                    '<script>console.error("boom")</script>', encoding="utf-8")
    browser.open(page.as_uri())
    errors = " ".join(browser.errors())
    assert "boom" in errors and ("missing.png" in errors or "ERR_FILE_NOT_FOUND" in errors)
