"""``veo server``: run the web app, API and signaling with Uvicorn.

Uvicorn's own proxy headers stay off: with them it would believe ``X-Forwarded-For`` from
127.0.0.1 whatever ``VEO_TRUSTED_PROXIES`` says, and anything else on the machine could then pick
the client address that rate limits and the audit log rely on. ``veo.server.proxies`` reads the
header, from the proxies the operator named only. Logs go to stderr, one event per line.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from veo.protocol.base import MAX_MESSAGE_BYTES
from veo.server.cli_common import add_database_flags, fail, settings_from, use_terminal_language
from veo.server.lang import _

PROG = "veo server"
#: Transport limits: a WebSocket message is refused (close 1009) before it is buffered whole when
#: it is over 4x the protocol's limit (128 KiB of text is at most 512 KiB of UTF-8); below that,
#: ``veo.protocol`` answers ``too_large``. Uvicorn's default would buffer up to 16 MiB per message.
WS_MAX_SIZE = 4 * MAX_MESSAGE_BYTES
#: WebSocket pings: a peer whose network dropped without closing its socket (no FIN, no RST) is
#: noticed within ~10 s, so that its session is interrupted (and ends after its grace period)
#: about when the peers themselves notice; Uvicorn's default (20 s + 20 s) made a session whose
#: agent vanished wait 40 s longer than its grace (issue 13).
WS_PING_SECONDS = 5.0
#: No permessage-deflate on the signaling sockets. Its per-socket zlib state made an idle agent
#: cost ~142 KiB of the node's memory instead of ~39 KiB (``veo bench signaling``, 10,000 idle
#: agents on one node: 1.69 GiB with it, 0.6 GiB without; docs/performance.md, "Signaling"), and
#: the messages are small JSON (an SDP is a few KiB) that gain little. It also keeps compression
#: side channels away from what these sockets carry (codes, resume tokens, TURN credentials).
WS_PER_MESSAGE_DEFLATE = False


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(_("a port must be a number")) from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(_("a port must be between 1 and 65535"))
    return port


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=_("Run the veo server (web app, API, signaling)."))
    p.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default: 127.0.0.1)"))
    p.add_argument("--port", type=_port, default=8000, help=_("port to listen on (default: 8000)"))
    add_database_flags(p)
    p.add_argument("--public-url", help=_("address users and agents reach (default: $VEO_PUBLIC_URL)"))
    p.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help=_("log detail")
    )
    return p


def main(argv: list[str]) -> int:
    use_terminal_language()
    args = parser().parse_args(argv)
    settings = settings_from(args, PROG, public_url=args.public_url)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.log_level != "debug":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    # The spec'd classic ``websockets`` protocol still works; its deprecation note is only noise.
    warnings.filterwarnings("ignore", message="The `websockets` implementation is deprecated")
    # ... and so is the module of websockets it is built on (said when it is first imported).
    warnings.filterwarnings("ignore", message="websockets.legacy is deprecated")
    import uvicorn

    from veo.server.app import create_app
    from veo.server.db.migrate import DatabaseNewer, refuse_newer_database
    from veo.server.ws_protocol import QuickCloseWebSocketProtocol

    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(
            PROG,
            _("cannot create the data directory %(dir)s: %(error)s")
            % {"dir": settings.data_dir, "error": exc},
        )
    try:  # an old node restarted mid-upgrade: one sentence and exit, not a traceback each restart
        refuse_newer_database(settings.effective_database_url)
    except DatabaseNewer as exc:
        fail(PROG, str(exc))
    app = create_app(settings)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        proxy_headers=False,
        ws=QuickCloseWebSocketProtocol,
        log_config=None,
        log_level=args.log_level,
        server_header=False,
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
    )
    return 0
