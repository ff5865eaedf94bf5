"""An SMTP server on loopback that files every message it receives as an `.eml` file.

Tests and the demo point the `vcp_smtp` connection at it and then read the folder, so alert
and failure e-mails are checked as the bytes a real mail server would have received.

    with MailSink(Path("out/mail")) as sink:
        ...  # send mail to sink.host:sink.port
        sink.messages()  # parsed e-mails, oldest first
"""

from __future__ import annotations

import email
import email.policy
import itertools
import re
import threading
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class _SaveToFolder:
    """aiosmtpd handler: write each accepted message to the folder, one file per recipient list."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            number = next(self._counter)
        first = _UNSAFE.sub("_", (envelope.rcpt_tos or ["unknown"])[0])
        path = self.folder / f"{number:05d}-{first}.eml"
        data = envelope.original_content or envelope.content
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class MailSink:
    """A running SMTP sink: `host`, `port`, `folder`; stop it with `stop()` or a `with` block."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.folder = Path(folder)
        self.host = host
        self._requested_port = port
        self._controller: Any = None
        self.port = port

    def start(self) -> MailSink:
        from aiosmtpd.controller import Controller

        self.folder.mkdir(parents=True, exist_ok=True)
        # Port 0: ask the OS for a free port, so parallel test sessions never collide
        # (aiosmtpd's readiness check needs the real number up front).
        self.port = self._requested_port or _free_port(self.host)
        self._controller = Controller(_SaveToFolder(self.folder), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def files(self) -> list[Path]:
        """The `.eml` files received so far, oldest first."""
        return sorted(self.folder.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        """The e-mails received so far, parsed, oldest first."""
        return [read_message(path) for path in self.files()]


def read_message(path: Path) -> EmailMessage:
    """Parse one `.eml` file."""
    with path.open("rb") as handle:
        return email.message_from_binary_file(handle, policy=email.policy.default)  # type: ignore[return-value]


def message_text(message: EmailMessage) -> str:
    """The message's text (plain or HTML body), for assertions and the demo's summary."""
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""


def main() -> None:
    """`python -m vcpipeline.orchestration.mailsink [FOLDER] [PORT]`: run a sink until Ctrl-C."""
    import sys
    import time

    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/mail")
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 1025
    with MailSink(folder, port=port) as sink:
        print(f"SMTP sink on {sink.host}:{sink.port}, saving to {folder}/ (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
