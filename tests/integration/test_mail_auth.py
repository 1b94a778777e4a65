"""SMTP with a login (VEO_SMTP_USERNAME / VEO_SMTP_PASSWORD) against aiosmtpd requiring AUTH."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import Inbox, free_port, manual_worker, new_ticket
from tests.support import BASE_URL

from veo.config import Settings
from veo.server.notify.models import OutboxMessage

USER, PASSWORD = "veo-mailer", "s3cret-mail"
#: AUTH without TLS is what this loopback test wants; production sets VEO_SMTP_STARTTLS or SSL.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def _check(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    received = Inbox()
    controller = Controller(
        received,
        hostname="127.0.0.1",
        port=smtp_port,
        authenticator=_check,
        auth_required=True,
        auth_require_tls=False,  # loopback only: TLS is the operator's VEO_SMTP_STARTTLS/SSL
    )
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_username=USER,
        smtp_password=PASSWORD,
        outbox_poll_seconds=3600,
    )


async def test_login_then_send(app: FastAPI, inbox: Inbox) -> None:
    worker = await manual_worker(app)
    new_ticket(app)
    await worker.run_once()
    assert len(inbox.messages) == 1
    with app.state.db.session() as s:
        assert s.scalars(select(OutboxMessage.status)).all() == ["sent"]
