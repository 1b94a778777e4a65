"""The shared PostgreSQL restarted under three nodes mid-session (issue 16, point 3).

The machine's PostgreSQL must never be restarted, so this module's cluster runs on a PostgreSQL
of its own (``tests/integration/pg_instance.py``: ``initdb`` and ``pg_ctl`` in a temporary
directory, a free port on the host's loopback for the test process, and a Unix socket in that
directory for the nodes in the namespace). While it is down: every node's ``/readyz`` names the
database; a request through HAProxy gets the node's own JSON 503 ``database_unavailable`` with
``Retry-After`` (HAProxy falls back to the nodes when none passes its check); the session's
picture keeps changing (the media does not pass through the server). After: every node ready
again, a click lands, a ticket can be created, no session, ticket or audit row lost, the
technician's *End session* reaches the agent across nodes, ``veo audit verify`` passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url
from tests.e2e.conftest import _unavailable
from tests.e2e.procs import wait_for
from tests.integration.pg_instance import PostgresInstance, postgres_instance

from .case import WATCH_SECONDS, MultiNodeCase, Picture, assert_none_lost, rows
from .cluster import Cluster, SharedDatabase

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInstance]:
    """Started for the module, stopped and deleted after. Its directory is not under the e2e
    directory: the server runs as ``postgres``, which may not enter root's private directories."""
    with postgres_instance(prefix="veo-multinode-pg-", unavailable=_unavailable) as instance:
        yield instance


@pytest.fixture(scope="module")
def database(postgres: PostgresInstance) -> SharedDatabase:
    """The instance's ``postgres`` database: the nodes through its Unix socket, the test by TCP."""
    name = make_url(postgres.url).database
    nodes_url = f"postgresql+psycopg://postgres@/{name}?host={postgres.directory}&port={postgres.port}"
    return SharedDatabase(nodes_url, postgres.url)


def test_postgresql_restarted_mid_session(
    across: Callable[[], MultiNodeCase],
    cluster: Cluster,
    database: SharedDatabase,
    postgres: PostgresInstance,
) -> None:
    case = across()
    case.click_lands()
    token = cluster.token()
    rows_before = rows(database.test_url)
    lines_before = len(case.live.agent.log.lines())
    case.start_watching()

    stopped_at = time.time()
    postgres.stop()
    try:
        wait_for(
            "every node's /readyz to say the database is unreachable",
            lambda: all(node.readiness() == (503, ["database"]) for node in cluster.nodes),
            20,
            case.logs,
        )
        cluster.proxy.wait_up(set(), case.logs)
        # through the proxy, the node answers for itself: JSON, a code, when to try again
        during = cluster.api("GET", "/api/v1/tickets", token=token)
        assert during.status_code == 503, during.text
        assert during.json()["code"] == "database_unavailable", during.text
        assert "retry-after" in during.headers, during.headers
        time.sleep(max(0.0, stopped_at + WATCH_SECONDS - time.time()))
    finally:
        if not postgres.running():
            postgres.start()
    ready_after = case.ready_again()
    picture = Picture.between(case.stop_watching(), stopped_at, time.time())

    case.session_went_on(picture, lines_before)
    created = cluster.api(
        "POST",
        "/api/v1/tickets",
        token=cluster.token(),
        json={
            "title": "After the database came back",
            "requester_name": "María Usuaria",
            "requester_email": "maria@example.com",
        },
    )
    assert created.status_code == 201, created.text
    assert_none_lost(rows_before, rows(database.test_url))
    case.end_by_technician()
    case.audit_verifies()
    print(
        f"\nmultinode/postgresql restarted: every node ready {ready_after:.1f} s after it came back; "
        f"meanwhile {picture.frames} frames decoded, "
        f"the picture still for {picture.longest_still:.2f} s at most"
    )
