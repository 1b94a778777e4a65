"""ICE servers handed to the two peers of a live session: only the operator's STUN/TURN, never a
public default, and each peer the URLs it can use best (``veo.protocol.ice_urls`` says which and
why: a browser gets them all, UDP first; the agent one STUN and one TURN URL, TLS first).

Credentials follow coturn's REST scheme (``use-auth-secret``): the username is
``<expiry>:<session id>.<peer>`` and the password base64(HMAC-SHA1(``VEO_TURN_SECRET``,
username)), so nothing is stored and coturn checks them with the shared secret alone. They are
made only when a peer of a live session needs them (the agent when its code is accepted, a
console when the agent's offer reaches it, and again when a console reloads and gets the offer
once more) and expire :data:`CREDENTIAL_TTL_SECONDS` later.
coturn checks the expiry when a relay is allocated; an allocation made in time lives as long as
its peer refreshes it, so a session outlives its credentials while a copied credential is
worth nothing ten minutes on. They are never logged: ``IceServer``'s ``repr`` leaves the
credential out, and no log line of the server or the agent prints a message's ICE servers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Literal

from veo.config import Settings
from veo.protocol.ice_urls import agent_urls, browser_urls, url_kind
from veo.protocol.signaling import ConsoleOffer, IceServer, Offer

#: Long enough to set a connection up (the agent gathers at once after joining; a console that
#: waited opens with the offer), short enough that a copied credential is soon worth nothing.
CREDENTIAL_TTL_SECONDS = 600

Peer = Literal["agent", "browser"]


def credentials(secret: str, session_id: str, peer: Peer, now: float) -> tuple[str, str]:
    """coturn REST credentials ``(username, password)`` valid until ``now`` + the TTL."""
    expiry = int(now) + CREDENTIAL_TTL_SECONDS
    username = f"{expiry}:{session_id}.{peer}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(
    settings: Settings, session_id: str, *, peer: Peer = "agent", now: float | None = None
) -> list[IceServer]:
    """The ICE servers for one peer of a live session (empty: no STUN/TURN configured)."""
    urls = agent_urls(settings.turn_urls) if peer == "agent" else browser_urls(settings.turn_urls)
    if not urls:
        return []
    if not settings.turn_secret:
        return [IceServer(urls=urls)]
    turn = [url for url in urls if url_kind(url) != "stun"]
    stun = [url for url in urls if url_kind(url) == "stun"]
    issued = time.time() if now is None else now
    username, password = credentials(settings.turn_secret, session_id, peer, issued)
    # STUN takes no credential: an entry of its own
    servers = [IceServer(urls=stun)] if stun else []
    if turn:
        servers.append(IceServer(urls=turn, username=username, credential=password))
    return servers


def console_offer(settings: Settings, session_id: str, offer: Offer) -> ConsoleOffer:
    """The agent's offer as a console receives it: with the console's ICE servers and policy.

    Made when the offer is relayed, and again each time a console (re)opens while the offer waits
    for its answer: the console needs its credentials exactly then (it answers with a new
    ``RTCPeerConnection``), and those sent earlier may have expired by a later reload.
    """
    return ConsoleOffer(
        sdp=offer.sdp,
        commitment=offer.commitment,
        resume=offer.resume,
        ice_servers=ice_servers(settings, session_id, peer="browser"),
        ice_transport_policy=settings.ice_transport_policy,
    )
