"""The TURN relay: every configured URL answers, accepts veo's credentials, and which coturn it is.

For each ``turn:``/``turns:`` URL of ``VEO_TURN_URLS`` the doctor does what a peer does: a TURN
Allocate with REST credentials made from ``VEO_TURN_SECRET`` (``sessions/ice.py``), over the
URL's transport (UDP, TCP, or TLS with the certificate checked as the agent checks it), and then
frees the allocation. A ``stun:`` URL gets a Binding request. aioice (the ICE library aiortc
uses) is the STUN/TURN client. coturn names itself in the SOFTWARE attribute unless its
configuration says ``no-software-attribute`` (the shipped one does, so strangers do not learn
it); a version before 4.9.0 is reported because of CVE-2026-27624 (``docs/turn.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from dataclasses import dataclass
from typing import Any

from aioice import stun
from aioice.turn import UDP_TRANSPORT, TurnClientTcpProtocol, TurnClientUdpProtocol

from veo.config import Settings
from veo.protocol.ice_urls import address, url_kind
from veo.server.doctor.report import Finding, Status, fail, info, ok, warn
from veo.server.lang import _
from veo.server.sessions.ice import credentials

TIMEOUT_SECONDS = 5.0
#: The first coturn without the IPv4-mapped peer bypass (CVE-2026-27624).
FIXED_VERSION = (4, 9, 0)
_VERSION = re.compile(r"coturn-(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    software: str | None


class Refused(Exception):
    """The server answered with a STUN error (``code``, ``reason``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def parse_version(software: str) -> tuple[int, int, int] | None:
    """``(4, 6, 1)`` from coturn's SOFTWARE attribute (``Coturn-4.6.1 'Gorst'``); None if not coturn."""
    match = _VERSION.search(software)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


async def _open(kind: str, host: str, port: int, username: str | None, password: str | None,
                tls: ssl.SSLContext) -> tuple[Any, Any]:  # fmt: skip
    loop = asyncio.get_running_loop()
    server = (host, port)
    if kind in ("stun", "turn-udp"):
        return await loop.create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                server, username=username, password=password, lifetime=60, channel_refresh_time=500
            ),
            remote_addr=server,
        )
    return await loop.create_connection(
        lambda: TurnClientTcpProtocol(
            server, username=username, password=password, lifetime=60, channel_refresh_time=500
        ),
        host=host,
        port=port,
        ssl=tls if kind == "turns" else None,
    )


async def probe(url: str, secret: str | None, tls: ssl.SSLContext) -> Answer:
    """Allocate (then free) a relay through ``url``, or a STUN Binding for a ``stun:`` URL."""
    kind = url_kind(url)
    host, port = address(url)
    username, password = credentials(secret, "doctor", "agent", time.time()) if secret else (None, None)
    transport, protocol = await _open(kind, host, port, username, password, tls)
    try:
        if kind == "stun":
            request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
            response, _addr = await protocol.request(request)
            return Answer(response.attributes.get("SOFTWARE"))
        allocate = stun.Message(message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST)
        allocate.attributes["LIFETIME"] = 60
        allocate.attributes["REQUESTED-TRANSPORT"] = UDP_TRANSPORT
        try:
            response, _addr = await protocol.request_with_retry(allocate)
        except stun.TransactionFailed as exc:
            code, reason = exc.response.attributes.get("ERROR-CODE", (0, ""))
            raise Refused(int(code), str(reason)) from None
        free = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        free.attributes["LIFETIME"] = 0
        with contextlib.suppress(stun.TransactionError):  # else it expires by itself in 60 s
            await protocol.request_with_retry(free)
        return Answer(response.attributes.get("SOFTWARE"))
    finally:
        transport.close()


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's CAs (what the agent trusts), or only ``ca_file`` when the operator gives one."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


async def check(settings: Settings, tls: ssl.SSLContext) -> list[Finding]:
    urls = list(dict.fromkeys(settings.turn_urls))
    if not urls:
        return [
            info(
                "turn",
                _(
                    "VEO_TURN_URLS is not set: sessions whose two sides cannot reach each other "
                    "directly will not connect."
                ),
                _(
                    "run coturn with deploy/turnserver.conf and set VEO_TURN_URLS and "
                    "VEO_TURN_SECRET (docs/turn.md)."
                ),
            )
        ]
    findings: list[Finding] = []
    if not settings.turn_secret and any(url_kind(u) != "stun" for u in urls):
        findings.append(
            fail(
                "turn",
                _(
                    "VEO_TURN_URLS lists TURN servers but VEO_TURN_SECRET is not set: peers get no "
                    "credentials."
                ),
                _("set VEO_TURN_SECRET to coturn's static-auth-secret."),
            )
        )
    answers = await asyncio.gather(*(_one(url, settings.turn_secret, tls) for url in urls))
    findings.extend(finding for finding, _software in answers)
    softwares = sorted({software for _finding, software in answers if software is not None})
    reached = any(f.status is Status.OK for f, _s in answers)
    findings.extend(_versions(softwares, reached))
    return findings


async def _one(url: str, secret: str | None, tls: ssl.SSLContext) -> tuple[Finding, str | None]:
    check_id = f"turn {url}"
    host, port = address(url)
    where = {"host": host, "port": port}
    try:
        answer = await asyncio.wait_for(probe(url, secret, tls), TIMEOUT_SECONDS)
    except Refused as exc:
        if exc.code == 401:
            return fail(
                check_id,
                _("the TURN server refused veo's credentials (401)."),
                _(
                    "make VEO_TURN_SECRET equal to static-auth-secret in turnserver.conf, on every "
                    "node, and check that coturn has use-auth-secret."
                ),
            ), None
        if exc.code == 486:
            return warn(
                check_id,
                _("the TURN server is full: no allocation left (486)."),
                _("raise total-quota in turnserver.conf or add a TURN server."),
            ), None
        return fail(
            check_id,
            _("the TURN server refused the allocation: %(code)d %(reason)s.")
            % {"code": exc.code, "reason": exc.reason},
            _("read coturn's log on the TURN host."),
        ), None
    except ssl.SSLCertVerificationError as exc:
        return fail(
            check_id,
            _("the TLS certificate of %(host)s:%(port)d is not valid: %(error)s")
            % {**where, "error": exc.verify_message or str(exc)},
            _(
                "give coturn a certificate for this host name from a public CA (cert= and pkey= in "
                "turnserver.conf)."
            ),
        ), None
    except (TimeoutError, stun.TransactionTimeout):
        return fail(
            check_id,
            _("no answer from %(host)s:%(port)d.") % where,
            _(
                "check that coturn runs and listens there, and the firewall (3478 UDP and TCP, the "
                "turns: port)."
            ),
        ), None
    except (OSError, ssl.SSLError) as exc:
        return fail(
            check_id,
            _("cannot reach %(host)s:%(port)d: %(error)s") % {**where, "error": exc.strerror or str(exc)},
            _("check the host name in VEO_TURN_URLS, that coturn runs, and the firewall."),
        ), None
    text = _("answers and accepts veo's credentials.") if url_kind(url) != "stun" else _("answers.")
    return ok(check_id, text), answer.software


def _versions(softwares: list[str], reached: bool) -> list[Finding]:
    if not reached:
        return []
    if not softwares:
        return [
            info(
                "coturn version",
                _(
                    "the TURN server does not say its version (no-software-attribute, as the shipped "
                    "configuration sets)."
                ),
                _(
                    "run `turnserver --version` on the TURN host: before 4.9.0 keep the shipped "
                    "::ffff:0.0.0.0-::ffff:255.255.255.255 denied-peer-ip line (CVE-2026-27624)."
                ),
            )
        ]
    findings = []
    for software in softwares:
        version = parse_version(software)
        if version is None:
            findings.append(
                info(
                    "coturn version",
                    _("the TURN server is %(software)s, not coturn.") % {"software": software},
                )
            )
        elif version < FIXED_VERSION:
            findings.append(
                warn(
                    "coturn version",
                    _(
                        "coturn %(version)s is older than 4.9.0 (CVE-2026-27624: IPv4-mapped IPv6 "
                        "peers pass its IPv4 denials)."
                    )
                    % {"version": ".".join(map(str, version))},
                    _(
                        "upgrade coturn; until then keep the shipped "
                        "::ffff:0.0.0.0-::ffff:255.255.255.255 denied-peer-ip line, and set "
                        "no-software-attribute."
                    ),
                )
            )
        else:
            findings.append(
                ok("coturn version", _("coturn %(version)s.") % {"version": ".".join(map(str, version))})
            )
    return findings
