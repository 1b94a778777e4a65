"""Password hashing with argon2id (RFC 9106), at or above OWASP's minimum (m=19 MiB, t=2, p=1).

Hashes carry their own parameters, so raising them later only needs :func:`needs_rehash` on the
next successful login. :func:`dummy_verify` spends the same time as a real check so that a login
for an unknown e-mail cannot be told apart by timing.

Each hash takes 19 MiB and a core for tens of milliseconds, and anyone can ask for one (unknown
e-mails are hashed too). Unbounded, a burst of 150 wrong sign-ins ran 40 at once on anyio's
default threads: RSS 263 → 612 MB, and a token request waited 4.1 s for a thread. So at most
:data:`CONCURRENT_HASHES` run at once in the process (``_slots``, around every hash, whoever
calls), and sign-in steps wait for their turn in the event loop, not on a thread
(:func:`limiter`, used by ``login.in_thread``): the default threads stay free for other requests.
"""

from __future__ import annotations

import os
import secrets
import threading

from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import Type

MEMORY_COST_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1
MIN_LENGTH = 12
MAX_LENGTH = 1024

_hasher = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM, type=Type.ID
)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

#: argon2 runs at once in this process: 2 to 4, by the number of CPUs (each one uses 19 MiB)
CONCURRENT_HASHES = max(2, min(4, os.cpu_count() or 2))
_slots = threading.BoundedSemaphore(CONCURRENT_HASHES)
_limiter: RunVar[CapacityLimiter] = RunVar("veo_password_limiter")


def limiter() -> CapacityLimiter:
    """The worker threads that may run steps which hash, in this event loop (one per loop)."""
    try:
        return _limiter.get()
    except LookupError:
        made = CapacityLimiter(CONCURRENT_HASHES)
        _limiter.set(made)
        return made


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _slots:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def dummy_verify(password: str) -> None:
    """Burn one verification's worth of time for an unknown account."""
    verify_password(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def generate_password() -> str:
    """A one-time password: 16 URL-safe characters (~96 bits), easy to copy from a terminal."""
    return secrets.token_urlsafe(12)
