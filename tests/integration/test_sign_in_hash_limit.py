"""A burst of sign-ins hashes a few passwords at a time (issue 12 re-test B), SQLite and PostgreSQL.

Every sign-in hashes, unknown e-mails too (argon2, 19 MiB each). On anyio's default 40 threads a
burst of 150 ran 40 hashes at once (RSS 263 → 612 MB) and a token request waited 4.1 s for a
thread. The hasher is replaced by a double that counts how many run at once and holds them all on
an event, so the test sees the most that ever ran together and whether another request finishes
while the burst is held, without timing anything.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.support import BASE_URL, api_token, make_user

from veo.server.auth import passwords
from veo.tasks import spawn

# about the hashing itself: the real argon2 parameters (tests/conftest.py)
pytestmark = pytest.mark.real_argon2

BURST = 60  # more than anyio's 40 default threads: before the limit they were all taken
EMAIL = "tech@example.org"


class HeldHasher:
    """The real hasher, counting the calls running at once and holding each until ``release``."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.entered = 0

    def _held(self, work: Any, *args: Any) -> Any:
        with self._lock:
            self.running += 1
            self.entered += 1
            self.peak = max(self.peak, self.running)
        try:
            self.release.wait(120)  # bounded: a failing test must not leave threads behind forever
            return work(*args)
        finally:
            with self._lock:
                self.running -= 1

    def verify(self, password_hash: str, password: str) -> bool:
        return bool(self._held(self.real.verify, password_hash, password))

    def hash(self, password: str) -> str:
        return str(self._held(self.real.hash, password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return bool(self.real.check_needs_rehash(password_hash))


def _client(app: FastAPI, i: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(f"10.{i // 200}.{i % 200}.9", 40000 + i))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def test_a_burst_hashes_at_most_the_cap_and_other_requests_keep_their_threads(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(app.state.db)
    other = _client(app, 999)
    headers = await api_token(other, EMAIL)  # before the double: a real sign-in
    double = HeldHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", double)
    clients = [_client(app, i) for i in range(BURST)]
    burst = [
        spawn(
            c.post("/api/v1/auth/token", json={"email": f"nobody{i}@example.org", "password": "wrong pass!"})
        )
        for i, c in enumerate(clients)
    ]
    try:
        for _ in range(6000):  # wait (bounded) until the hashes the cap allows are held
            if double.running >= passwords.CONCURRENT_HASHES:
                break
            await asyncio.sleep(0.01)
        assert double.running >= passwords.CONCURRENT_HASHES
        await asyncio.sleep(0.2)  # give the rest of the burst every chance to take more threads
        tickets = spawn(other.get("/api/v1/tickets", headers=headers))
        done, _pending = await asyncio.wait({tickets}, timeout=60)
        assert tickets in done, "a token request got no thread while the sign-ins were held"
        assert tickets.result().status_code == 200
        # it finished while every sign-in of the burst was still held or queued
        assert not any(t.done() for t in burst)
        assert double.running == passwords.CONCURRENT_HASHES
    finally:
        double.release.set()
        answers = await asyncio.gather(*burst)
        for c in [*clients, other]:
            await c.aclose()
    assert [a.status_code for a in answers] == [401] * BURST
    assert double.entered == BURST  # every sign-in was hashed, one batch after another
    assert double.peak == passwords.CONCURRENT_HASHES, f"{double.peak} hashes ran at once"
    print(f"\n{BURST} sign-ins at once: at most {double.peak} hashes ran together")


def test_hashes_outside_sign_in_share_the_same_cap() -> None:
    """Creating accounts or setting passwords (admin pages, worker threads) is bounded too."""
    double = HeldHasher(passwords._hasher)
    real = passwords._hasher
    passwords._hasher = double
    threads = [threading.Thread(target=passwords.hash_password, args=("a long password",)) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for _ in range(6000):
            if double.entered >= passwords.CONCURRENT_HASHES:
                break
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)  # every chance for more to start
        assert double.running == passwords.CONCURRENT_HASHES
    finally:
        double.release.set()
        for t in threads:
            t.join(120)
        passwords._hasher = real
    assert double.entered == 8 and double.peak == passwords.CONCURRENT_HASHES
