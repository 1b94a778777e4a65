"""The public URL (``VEO_PUBLIC_URL``): it answers as a ready veo, and its certificate holds.

This is the address agents, join links and e-mails carry, so the doctor reaches it the way they
do: through the reverse proxy, with the certificate checked against the system's CAs (or the
operator's ``--ca-file``, as the agent's). ``/readyz`` answering 200 means the node that got the
request reaches its database and bus. A certificate that expires within
:data:`EXPIRY_WARNING_DAYS` is a warning: renewal (certbot, Caddy) has failed or is not set up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import time
from urllib.parse import urlsplit

import httpx

from veo.server.doctor.report import Finding, fail, ok, warn
from veo.server.lang import _

CHECK = "public URL"
TIMEOUT_SECONDS = 5.0
EXPIRY_WARNING_DAYS = 14


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def check(public_url: str, tls: ssl.SSLContext) -> list[Finding]:
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    findings: list[Finding] = []
    if parts.scheme == "http" and not _is_local(host):
        findings.append(
            fail(
                CHECK,
                _(
                    "%(url)s is plain http: agents refuse it, and passwords would cross the network "
                    "unencrypted."
                )
                % {"url": public_url},
                _(
                    "put the TLS reverse proxy in front (deploy/) and set VEO_PUBLIC_URL to its "
                    "https:// address."
                ),
            )
        )
    if parts.scheme == "https":
        findings.append(await _certificate(host, parts.port or 443, tls))
        if findings[-1].status.value == "fail":
            return findings
    findings.append(await _ready(public_url, tls))
    return findings


async def _ready(public_url: str, tls: ssl.SSLContext) -> Finding:
    url = public_url.rstrip("/") + "/readyz"
    try:
        async with httpx.AsyncClient(verify=tls, timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return fail(
            CHECK,
            _("%(url)s does not answer: %(error)s") % {"url": url, "error": str(exc) or type(exc).__name__},
            _("check the reverse proxy, DNS for this name, and that the nodes run."),
        )
    if response.status_code == 200:
        return ok(CHECK, _("%(url)s answers: ready.") % {"url": url})
    try:
        failed = ", ".join(response.json().get("failed", []))
    except ValueError:
        failed = ""
    if response.status_code == 503 and failed:
        return fail(
            CHECK,
            _("%(url)s answers that a node cannot reach: %(parts)s.") % {"url": url, "parts": failed},
            _("see the database and Redis lines above, and that node's log."),
        )
    return fail(
        CHECK,
        _("%(url)s answers %(status)d instead of veo's readiness.")
        % {"url": url, "status": response.status_code},
        _("check that the reverse proxy forwards this address to the veo nodes."),
    )


async def _certificate(host: str, port: int, tls: ssl.SSLContext) -> Finding:
    where = {"host": host, "port": port}
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=tls, server_hostname=host), TIMEOUT_SECONDS
        )
    except ssl.SSLCertVerificationError as exc:
        return fail(
            "certificate",
            _("the certificate of %(host)s:%(port)d is not valid: %(error)s")
            % {**where, "error": exc.verify_message or str(exc)},
            _("install a certificate for this name from a CA the agents trust (the proxy's TLS settings)."),
        )
    except (OSError, ssl.SSLError, TimeoutError) as exc:
        return fail(
            "certificate",
            _("cannot open a TLS connection to %(host)s:%(port)d: %(error)s")
            % {**where, "error": str(exc) or type(exc).__name__},
            _("check the reverse proxy, DNS for this name, and the firewall (443)."),
        )
    try:
        cert = writer.get_extra_info("peercert") or {}
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    expires = ssl.cert_time_to_seconds(str(cert["notAfter"]))
    days = (expires - time.time()) / 86400
    when = time.strftime("%Y-%m-%d", time.gmtime(expires))
    if days < EXPIRY_WARNING_DAYS:
        return warn(
            "certificate",
            _("the certificate of %(host)s expires on %(date)s, in %(days).0f days.")
            % {"host": host, "date": when, "days": max(days, 0)},
            _("renew it now, and check that automatic renewal works."),
        )
    return ok("certificate", _("valid for %(host)s until %(date)s.") % {"host": host, "date": when})
