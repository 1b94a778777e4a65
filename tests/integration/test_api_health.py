"""Health, readiness, metrics, security headers and the JSON error shape of the whole app."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.test_auth_admin import admin_headers
from tests.support import app_settings, make_user

from veo.config import Settings
from veo.server.auth import service
from veo.server.db.engine import Database
from veo.server.middleware import csp

METRICS_TOKEN = "prometheus-" + "s" * 32


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The app of these tests lets Prometheus read /metrics with a token."""
    return app_settings(database_url, tmp_path, metrics_token=METRICS_TOKEN)


class FailingBus:
    """Stands in for an unreachable Redis: readiness must report it, not crash."""

    async def ping(self) -> None:
        raise ConnectionError("no route to redis")


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_readyz_names_the_failing_part(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: object
) -> None:
    real_bus, real_db = getattr(app.state, "bus", None), app.state.db
    app.state.bus = FailingBus()
    try:
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["failed"] == ["bus"]
        app.state.db = Database(f"sqlite:///{tmp_path}/missing-dir/nothing/veo.db")
        response = await client.get("/readyz")
        assert response.status_code == 503 and response.json()["failed"] == ["database", "bus"]
        assert response.json()["code"] == "not_ready"
        # the sentence names the parts in the reader's words, not the codes
        assert response.json()["message"] == ("Not ready: the database, the message bus (Redis) unreachable.")
    finally:
        app.state.db.dispose()
        app.state.db = real_db
        app.state.bus = real_bus


async def test_readyz_logs_an_outage_once_without_a_trace_and_its_end_once(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """HAProxy checks every node every second: a Redis outage is one warning line, not a trace
    per check, and its end one line too."""
    real_bus = getattr(app.state, "bus", None)
    app.state.bus = FailingBus()
    try:
        with caplog.at_level(logging.INFO, logger="veo.server.api.health"):
            for _check in range(3):
                assert (await client.get("/readyz")).json()["failed"] == ["bus"]
            app.state.bus = real_bus
            assert (await client.get("/readyz")).status_code == 200
    finally:
        app.state.bus = real_bus
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "veo.server.api.health"]
    assert lines == [
        (logging.WARNING, "readiness: bus unreachable: no route to redis"),
        (logging.INFO, "readiness: bus answers again"),
    ]
    assert not [r for r in caplog.records if r.exc_info]


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})).text
    assert 'veo_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "veo_active_sessions 0.0" in text


async def test_metrics_are_for_prometheus_and_admins_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    """The counters show how sign-ins and joins fail: not for strangers, nor for technicians."""
    stranger = await client.get("/metrics")
    assert stranger.status_code == 401 and stranger.json()["code"] == "not_authenticated"
    assert "veo_http_requests" not in stranger.text
    wrong = await client.get("/metrics", headers={"authorization": "Bearer " + "x" * 43})
    assert wrong.status_code == 401
    db: Database = app.state.db
    tech = make_user(db, "tech@example.org").user
    with db.session() as s:
        tech_token, _e = service.issue_api_token(s, tech)
    technician = await client.get("/metrics", headers={"authorization": f"Bearer {tech_token}"})
    assert technician.status_code == 403
    admin = await client.get("/metrics", headers=await admin_headers(app, client))
    assert admin.status_code == 200 and "veo_http_requests" in admin.text
    prometheus = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert prometheus.status_code == 200 and "veo_http_requests" in prometheus.text
    # the probes stay open
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        Settings(metrics_token="short")


async def test_security_headers_on_pages_json_and_static(app: FastAPI, client: httpx.AsyncClient) -> None:
    for path in ("/login", "/healthz", "/static/css/veo.css", "/nowhere"):
        headers = (await client.get(path)).headers
        assert headers["content-security-policy"] == csp(app.state.settings)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


async def test_errors_are_json_with_code_and_message(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong_method = await client.delete("/healthz")
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "method_not_allowed"
    html = await client.get("/nowhere", headers={"accept": "text/html"})
    assert html.status_code == 404 and "<html" in html.text


async def test_large_bodies_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/tickets", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"y" * 65536

    streamed = await client.post(
        "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["code"] == "request_too_large"


async def test_unexpected_errors_hide_the_trace(app: FastAPI) -> None:
    @app.get("/api/v1/test-boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/api/v1/test-boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error" and "secret" not in response.text


async def test_an_unexpected_error_on_a_page_is_the_error_page(app: FastAPI) -> None:
    """A browser got {"code":"internal_error",...} as raw text; it gets the site's error page now."""

    @app.get("/test-page-boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        response = await client.get("/test-page-boom?lang=es", headers={"accept": "text/html"})
    assert response.status_code == 500 and response.headers["content-type"].startswith("text/html")
    assert "Algo falló en el servidor; quedó registrado." in response.text
    assert "secret" not in response.text and "internal_error" not in response.text


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/tickets" in spec["paths"] and "/api/v1/auth/token" in spec["paths"]
