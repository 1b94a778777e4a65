"""The report cache: same data, same copy; changed data, the old copy once and a refresh."""

from __future__ import annotations

import threading

from veo.server.reports.cache import FingerprintCache


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_same_fingerprint_is_computed_once() -> None:
    cache: FingerprintCache[int] = FingerprintCache()
    compute = Counter()
    assert cache.get("k", 1, compute) == 1
    assert cache.get("k", 1, compute) == 1
    assert cache.get("other", 1, compute) == 2
    assert compute.calls == 2


def test_changed_data_waits_unless_stale_is_ok() -> None:
    cache: FingerprintCache[int] = FingerprintCache()
    compute = Counter()
    cache.get("k", 1, compute)
    assert cache.get("k", 2, compute) == 2  # not stale_ok: computed while the caller waits


def test_stale_copy_served_while_one_refresh_runs() -> None:
    cache: FingerprintCache[str] = FingerprintCache()
    cache.get("k", 1, lambda: "old")
    release = threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        release.wait()
        return "new"

    assert cache.get("k", 2, slow, stale_ok=True) == "old"
    assert cache.get("k", 2, slow, stale_ok=True) == "old"  # no second refresh meanwhile
    release.set()
    cache.wait_idle()
    assert calls == [1]
    assert cache.get("k", 2, lambda: "unused", stale_ok=True) == "new"


def test_failed_refresh_leaves_the_next_reader_to_compute() -> None:
    cache: FingerprintCache[str] = FingerprintCache()
    cache.get("k", 1, lambda: "old")

    def broken() -> str:
        raise RuntimeError("database went away")

    assert cache.get("k", 2, broken, stale_ok=True) == "old"
    cache.wait_idle()
    assert cache.get("k", 2, lambda: "computed", stale_ok=True) == "computed"


def test_expired_copies_are_not_served_and_size_is_bounded() -> None:
    cache: FingerprintCache[int] = FingerprintCache(max_entries=2, max_age_s=0)
    compute = Counter()
    cache.get("a", 1, compute)
    assert cache.get("a", 2, compute, stale_ok=True) == 2  # too old to serve stale
    small: FingerprintCache[str] = FingerprintCache(max_entries=2)
    for key in "abc":
        small.get(key, 1, lambda key=key: key)
    assert small.get("a", 1, lambda: "recomputed") == "recomputed"  # "a" was evicted
