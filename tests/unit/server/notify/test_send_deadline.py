"""One SMTP exchange has a deadline, not only a timeout per socket operation.

A server that keeps answering one byte at a time never trips ``smtplib``'s timeout, so without
a deadline a send could outlive the outbox lease while another node sends the same row. The
stand-in here greets, then answers EHLO one byte per 0.2 s forever (each read well inside the
60 s timeout): the send must fail with the deadline's own reason and the socket be cut.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.config import Settings
from veo.server.notify import mailer


@pytest.fixture
def trickling_server() -> Iterator[tuple[int, threading.Event]]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    cut = threading.Event()

    def serve() -> None:
        connection, _address = listener.accept()
        with connection:
            connection.sendall(b"220 slow.example ESMTP\r\n")
            connection.recv(1024)  # EHLO
            try:
                while True:  # "250-" ... one byte at a time, never the end of the line
                    connection.sendall(b"2")
                    time.sleep(0.2)
            except OSError:
                cut.set()  # the client shut its socket down

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, cut
    listener.close()
    thread.join(timeout=10)


async def test_a_trickling_server_is_cut_at_the_deadline(
    trickling_server: tuple[int, threading.Event], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cut = trickling_server
    monkeypatch.setattr(mailer, "SEND_DEADLINE_SECONDS", 1.0)
    settings = Settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout_seconds=60,
        smtp_starttls=False,
        smtp_from="veo@example.org",
    )
    payload = {"subject": "s", "text": "t", "html": "<p>t</p>", "language": "en"}
    with pytest.raises(mailer.DeliveryError) as failed:
        await mailer.send(settings, "user@example.org", payload, 1)
    assert failed.value.message == mailer.TOO_SLOW  # the deadline's own reason, not a timeout
    assert not failed.value.permanent  # tried again later, by whichever node claims it then
    assert cut.wait(timeout=30)
