"""Browser share and its upgrade to the agent, over real WebSockets on SQLite and PostgreSQL.

The join page joins as ``client="browser"``: the session records the mode, the console is told,
the grant can only be *view*. A continuation code lets ``veo agent`` continue THAT session (same
id and ticket, consent asked again): single use, short-lived, only for that session, and refused
with the same errors and rate limits as join codes.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from tests.integration.downloads_support import stand_in
from tests.integration.test_signaling import Env, closed_with, env, negotiate, recv, send

from veo.config import Settings
from veo.server.db.base import utcnow
from veo.server.downloads import store
from veo.server.sessions.models import RemoteSession

if TYPE_CHECKING:
    from starlette.testclient import WebSocketTestSession

_ = env  # the fixture, shared with test_signaling


def browser_join(ws: WebSocketTestSession, code: str) -> dict[str, Any]:
    send(ws, {"type": "join", "code": code, "platform": "browser", "language": "es", "client": "browser"})
    return recv(ws)


def agent_join(ws: WebSocketTestSession, code: str) -> dict[str, Any]:
    send(ws, {"type": "join", "code": code, "platform": "linux", "language": "en"})
    return recv(ws)


def shared(env: Env, console: WebSocketTestSession, browser: WebSocketTestSession, code: str) -> str:
    """A browser share up to *active* (view); returns the session id."""
    assert recv(console, "session_state")["status"] == "waiting"
    joined = browser_join(browser, code)
    assert joined["type"] == "joined", joined
    agent_joined = recv(console, "agent_joined")
    assert agent_joined["mode"] == "browser" and agent_joined["upgraded"] is False
    state = recv(console, "session_state")
    assert state["mode"] == "browser" and state["status"] == "joined"
    negotiate(browser, console)
    # the browser ticks whatever it likes: the server keeps view only
    send(browser, {"type": "consent", "granted": ["view", "control", "clipboard"], "sas_confirmed": True})
    assert recv(console, "consent")["granted"] == ["view"]
    assert recv(console, "session_state")["status"] == "active"
    sid: str = joined["session_id"]
    return sid


def upgrade_code(browser: WebSocketTestSession) -> dict[str, Any]:
    send(browser, {"type": "upgrade_request"})
    return recv(browser, "upgrade_code")


def test_browser_share_records_the_mode_and_grants_view_only(env: Env) -> None:
    created = env.create(permissions=["view", "control"])
    with env.console(created["id"]) as console, env.agent() as browser:
        sid = shared(env, console, browser, created["code"])
    row = env.row(sid)
    assert row.mode == "browser" and row.granted_permissions == ["view"]
    joined = env.actions(sid, "session.joined")[0]
    assert joined.details["mode"] == "browser"
    assert env.actions(sid, "session.consented")[0].details["mode"] == "browser"
    out = env.client.get(f"/api/v1/sessions/{sid}", headers={"x-test-user": "tech"}).json()
    assert out["mode"] == "browser" and out["upgraded_at"] is None


def test_an_agent_may_not_ask_for_a_continuation_code(env: Env) -> None:
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        assert recv(console, "session_state")["status"] == "waiting"
        agent_join(agent, created["code"])
        recv(console, "agent_joined")
        recv(console, "session_state")
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        recv(console, "consent")
        send(agent, {"type": "upgrade_request"})
        assert recv(agent, "error")["code"] == "out_of_order"
    assert env.actions(created["id"], "session.continuation_issued") == []


def test_upgrade_continues_the_same_session_with_a_new_consent(env: Env) -> None:
    created = env.create(permissions=["view", "control"])
    sid = created["id"]
    with env.console(sid) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        send(console, {"type": "sas_confirm"})
        recv(browser, "technician_confirmed")
        recv(console, "session_state")
        env.hub.settings = env.hub.settings.model_copy(
            update={"agent_download_url": "https://downloads.example.org/veo"}
        )
        issued = upgrade_code(browser)
        assert issued["command"] == f"veo agent --server http://veo.test --code {issued['code']}"
        assert issued["download_url"] == "https://downloads.example.org/veo"
        assert issued["code"] != created["code"]
        # with a build in this server's folder: /download, whose Linux file carries this code
        store.add(store.agents_dir(env.hub.settings.data_dir), stand_in(env.hub.settings.data_dir / "dist"))
        placed = upgrade_code(browser)  # a new continuation code replaces the previous one
        assert placed["download_url"] == f"http://veo.test/download?code={placed['code']}"
        with env.agent() as agent:
            joined = agent_join(agent, placed["code"])
            assert joined["type"] == "joined" and joined["session_id"] == sid
            assert joined["ticket_id"] == env.ticket_id
            assert recv(browser, "upgraded")["type"] == "upgraded"
            assert closed_with(browser) == 1000
            again = recv(console, "agent_joined")
            assert again["mode"] == "agent" and again["upgraded"] is True
            state = recv(console, "session_state")
            assert state["status"] == "joined" and state["mode"] == "agent"
            assert state["technician_sas_confirmed"] is False, "the new connection needs the codes again"
            # the console takes the agent's new offer; the user consents again, now with control
            negotiate(agent, console)
            send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
            assert recv(console, "consent")["granted"] == ["view", "control"]
            state = recv(console, "session_state")
            assert state["status"] == "active" and state["agent_connected"] is True
    row = env.row(sid)
    assert row.mode == "agent" and row.upgraded_at is not None and row.live_continuation_digest is None
    assert row.ticket_id == env.ticket_id and row.granted_permissions == ["view", "control"]
    actions = [a.action for a in env.actions(sid)]
    assert actions.count("session.consented") == 2, actions
    first, second = env.actions(sid, "session.consented")
    assert first.details["granted"] == ["view"] and first.details["mode"] == "browser"
    assert second.details["granted"] == ["view", "control"] and second.details["extends"] == "browser_share"
    assert actions.index("session.continuation_issued") < actions.index("session.upgraded")
    assert env.actions(sid, "session.upgraded")[0].details["from"] == "browser"
    assert all(issued["code"] not in str(a.details) for a in env.actions(sid)), "codes are never audited"


def test_the_continuation_code_works_once(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        code = upgrade_code(browser)["code"]
        with env.agent() as agent:
            assert agent_join(agent, code)["session_id"] == sid
            with env.agent() as second:
                refused = agent_join(second, code)
                assert refused["code"] == "code_used" and refused["fatal"] is True
    assert env.actions(action="session.code_rejected")[-1].details == {"reason": "used"}


def test_an_expired_continuation_code_is_refused_and_the_share_goes_on(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        code = upgrade_code(browser)["code"]
        with env.db.session() as s:
            row = s.get(RemoteSession, sid)
            assert row is not None
            row.continuation_expires_at = utcnow() - timedelta(seconds=1)
        with env.agent() as agent:
            assert agent_join(agent, code)["code"] == "code_expired"
        assert env.row(sid).mode == "browser" and env.row(sid).status == "active"
        # a fresh one works, and replaces any earlier one
        first = upgrade_code(browser)["code"]
        second = upgrade_code(browser)["code"]
        with env.agent() as agent:
            assert agent_join(agent, first)["code"] == "code_unknown"  # replaced, no trace kept
        with env.agent() as agent:
            assert agent_join(agent, second)["session_id"] == sid


def test_a_continuation_code_belongs_to_its_session_and_to_the_agent(env: Env) -> None:
    one, other = env.create(), env.create()
    with env.console(one["id"]) as console, env.agent() as browser:
        shared(env, console, browser, one["code"])
        code = upgrade_code(browser)["code"]
        # a browser cannot continue a browser share with it (the code is spent)
        with env.agent() as second_browser:
            assert browser_join(second_browser, code)["code"] == "code_used"
    # the other session's join code still joins the other session only
    with env.agent() as agent:
        assert agent_join(agent, other["code"])["session_id"] == other["id"]
    assert env.row(one["id"]).mode == "browser"


def test_wrong_continuation_codes_count_against_the_same_rate_limit(env: Env) -> None:
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        good = upgrade_code(browser)["code"]
        wrong = f"{(int(good) + 1) % 10**9:09d}"
        for _attempt in range(env.hub.limiter.max_failures):
            with env.agent() as agent:
                assert agent_join(agent, wrong)["code"] == "code_unknown"
        with env.agent() as agent:
            assert agent_join(agent, good)["code"] == "rate_limited"
        assert env.slept, "each refusal after the first waited longer"
    assert env.row(created["id"]).mode == "browser"


def test_ending_the_share_voids_its_continuation_code(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        code = upgrade_code(browser)["code"]
        send(browser, {"type": "hangup", "reason": "user_stopped"})
        assert recv(browser, "ended")["by"] == "user"
    assert env.row(sid).live_continuation_digest is None
    with env.agent() as agent:
        assert agent_join(agent, code)["code"] == "code_used"
    assert env.row(sid).status == "ended" and env.row(sid).mode == "browser"


async def test_join_page_offers_the_browser_share_under_the_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/join?code=123456789")
    assert page.status_code == 200
    html = page.text
    assert 'id="share"' in html and 'data-ws-url="/ws/agent"' in html
    assert 'id="share-code"' in html and 'value="123 456 789"' in html
    assert '<script type="module" src="/static/join/share.js"></script>' in html
    block = re.search(r'<script type="application/json" id="share-i18n">(.*?)</script>', html, re.S)
    assert block is not None
    strings = json.loads(block.group(1))
    assert "{technician}" in strings["consent.who"] and "{label}" in strings["live.label"]
    # no inline script other than JSON data, and the CSP forbids inline script anyway
    assert re.findall(r"<script(?![^>]*(?:src=|application/json))", html) == []
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    for path in ("/static/join/share.js", "/static/join/offerer.js", "/static/join/overlay.js"):
        served = await client.get(path)
        assert served.status_code == 200 and "javascript" in served.headers["content-type"], path


def test_the_download_address_must_be_a_web_address() -> None:
    assert Settings(agent_download_url="https://dl.example.org/veo.msi").agent_download_url
    with pytest.raises(ValidationError, match="VEO_AGENT_DOWNLOAD_URL"):
        Settings(agent_download_url="file:///etc/passwd")


async def test_join_page_links_the_operators_download(app: FastAPI, client: httpx.AsyncClient) -> None:
    # no build in this server's folder: /download says so; an operator's own address replaces it
    assert '<a id="agent-download" href="/download?lang=en"' in (await client.get("/join")).text
    app.state.settings = app.state.settings.model_copy(
        update={"agent_download_url": "https://dl.example.org/veo"}
    )
    html = (await client.get("/join")).text
    assert '<a id="agent-download" href="https://dl.example.org/veo"' in html
