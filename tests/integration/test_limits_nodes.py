"""Limits with two nodes: two real apps (``create_app``) on one PostgreSQL database (issue 16).

An attacker who spreads sign-ins or join codes over the nodes of a deployment must get the tries
of one node. Sign-in counters are rows of the shared database (``auth/limits.py``); the join
limiter's counts are in Redis (``ratelimit_redis.py``), here under a key prefix of this test's
own on the shared Redis. Each app stands for one ``veo server`` process; the requests alternate
between them, each from its own address, so only the account's count can add them up.
"""

from __future__ import annotations

import json
import logging
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from tests.support import BASE_URL, PASSWORD, make_user
from tests.unit.server.sessions.limiter_stores import REDIS_URL, closed_port

from veo.config import Settings
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.db.engine import Database
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.ratelimit import RedemptionLimiter
from veo.server.sessions.ratelimit_redis import RedisStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(120)


def _audit(db: Database) -> list[tuple[str, dict[str, Any]]]:
    with db.session() as s:
        return [(e.action, e.details) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


async def _sign_in(app: Any, address: str, password: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.post(
            "/api/v1/auth/token", json={"email": "tech@example.org", "password": password}
        )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_wrong_passwords_over_two_nodes_lock_the_account_after_five_in_all(
    settings: Settings,
) -> None:
    nodes = [create_app(settings), create_app(settings)]
    db: Database = nodes[0].state.db
    async with nodes[0].router.lifespan_context(nodes[0]), nodes[1].router.lifespan_context(nodes[1]):
        make_user(db)
        # five wrong passwords, alternating nodes, each from a new address (no address delay)
        wrong = [await _sign_in(nodes[i % 2], f"198.51.100.{i}", "wrong password!") for i in range(5)]
        assert [r.status_code for r in wrong] == [401] * 5
        # the sixth try, the right password, on either node: locked (with a node each, 5 per
        # node, the account would have needed 10 wrong passwords)
        for i, node in enumerate(nodes):
            locked = await _sign_in(node, f"203.0.113.{i}", PASSWORD)
            assert locked.status_code == 429 and locked.json()["code"] == "account_locked", locked.text
        # the same address refused again on both nodes: counted by each node's refusal log
        for _ in range(3):
            for node in nodes:
                assert (await _sign_in(node, "203.0.113.9", PASSWORD)).status_code == 429
    rows = _audit(db)  # both lifespans ended: each node wrote its open summaries
    actions = [action for action, _ in rows]
    assert actions.count("auth.login_failed") == 5 and actions.count("auth.account_locked") == 1
    # The refusal logs are per node: the first refusal of a kind per address group and window is
    # written at once by EACH node that sees one (2 here, not 1), the rest summarized per node.
    # Nothing is lost: rows and summaries together count every refusal.
    immediate = [d for a, d in rows if a == "auth.login_locked"]
    summaries = [d for a, d in rows if a == "auth.login_refusals"]
    assert len(immediate) == 4  # 203.0.113.0 and .1 once each; 203.0.113.9 once per node
    assert len(summaries) == 2 and sum(d["count"] for d in summaries) == 4


@pytest.fixture
def two_nodes(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps on one database whose join limiters share one Redis (a prefix of this test's own)."""
    prefix = f"veo-test:{uuid.uuid4().hex}:"
    apps = [create_app(settings), create_app(settings)]
    for app in apps:
        hub: SignalingHub = app.state.hub

        async def no_sleep(seconds: float) -> None:
            return None

        hub.sleep = no_sleep  # the growing delay is the limiter's decision; not waited for here
        hub.limiter = RedemptionLimiter(store=RedisStore.from_url(REDIS_URL, prefix=prefix))
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        yield first, second


def _join(client: TestClient, code: str) -> Any:
    with client.websocket_connect("/ws/agent") as ws:
        ws.send_text(
            json.dumps({"v": 1, "type": "join", "code": code, "platform": "linux", "language": "en"})
        )
        return ws.receive_json()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_wrong_join_codes_over_two_nodes_share_one_allowance(
    two_nodes: tuple[TestClient, TestClient],
) -> None:
    answers = [_join(two_nodes[i % 2], f"{300000000 + i}")["code"] for i in range(8)]
    assert answers == ["code_unknown"] * 5 + ["rate_limited"] * 3  # 10 lookups with a limiter per node


def test_a_join_is_refused_plainly_when_the_limiters_redis_is_unreachable(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings)
    app.state.hub.limiter = RedemptionLimiter(store=RedisStore.from_url(f"redis://127.0.0.1:{closed_port()}"))
    with caplog.at_level(logging.INFO), TestClient(app) as client:
        answer = _join(client, "300000000")
    assert answer["type"] == "error" and answer["code"] == "server_unavailable" and answer["fatal"]
    assert "Traceback" not in json.dumps(answer) and "Redis" not in answer["message"]
    assert not [r for r in caplog.records if r.exc_info], "no traceback in the server's log either"
    assert any("refused a join" in r.getMessage() for r in caplog.records)
