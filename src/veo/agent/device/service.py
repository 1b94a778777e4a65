"""``veo agent service``: the enrolled device's one socket to its server, and what comes over it.

Keeps ``/ws/device`` open (``link.py``), beats every ``heartbeat_seconds`` with the signed-in
user, comes back after a drop with exponential backoff and full jitter (``backoff.py``), and
when a technician connects (``session_request``):

1. checks the request against this device's enrolment: ``unattended`` only if IT enrolled the
   device for it (the server checks too; the device does not take the server's word for it);
   and never more than the person at the computer was told (``told_policy``): a stronger policy
   is refused, after the notice of the group's current policy was shown on the desktop, so the
   next request (the person now knows) works;
2. one session at a time (``busy``);
3. finds the desktop (``desktop_seat.py``; nobody signed in: ``no_desktop``);
4. writes the request to the device's history (who, why, which policy, what happened);
5. starts the session part on that desktop as its user with the :class:`LaunchSpec` on its
   standard input (``launcher.py``), and answers ``session_launch``.

The group's policy comes with every ``device_welcome`` (at each connection, and whenever the
server sends one again on an open socket): when it differs from the one the device
knows, the device keeps the new one, writes ``policy_changed`` to its history and shows the notice
again (``--device-notice``, as at enrolment). A weaker policy binds at once; a stronger one only
once its notice was shown (review R1-8: an administrator raising a group's policy, or a hostile
server, must not turn an "ask" computer into one that starts sessions without asking).

``device_revoked``, or ``device_refused`` with ``forget``: the enrolment is over; the key and the
configuration are deleted, the history says so, and the service ends with 0 (systemd does not
restart it). A key deleted under it (``veo agent unenrol`` while the server was unreachable)
ends it the same way at the next heartbeat or attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from veo.agent.device import desktop_seat, device_history, launcher, state
from veo.agent.device.backoff import STABLE_SECONDS, JitterBackoff
from veo.agent.device.desktop_seat import Desktop
from veo.agent.device.device_history import DeviceEvent
from veo.agent.device.link import CLOSE_REPLACED, Link, Refused, Unexpected, open_link, receive
from veo.agent.signaling import ChannelClosed, ConnectError
from veo.protocol.device import (
    DeviceHeartbeat,
    DevicePolicy,
    DeviceRefused,
    DeviceRevoked,
    DeviceWelcome,
    EnrolResponse,
    LaunchProblem,
    LaunchSpec,
    SessionLaunch,
    SessionRequest,
)
from veo.tasks import spawn

log = logging.getLogger(__name__)

FindDesktop = Callable[[str | None, str | None], Awaitable[Desktop | None]]
Launch = Callable[[Desktop, list[str], bytes], Awaitable[asyncio.subprocess.Process]]
Outcome = Literal["dropped", "replaced", "forget", "forgotten_locally"]
#: After the server closed this socket for a newer one of the same device (``veo agent unenrol``
#: or a second service with the same key): wait this long before coming back, or the two would
#: take the device's place from each other in turn (and an unenrolment would lose its socket).
REPLACED_SECONDS = 30.0
#: The answer to a request above what the person at the computer was told (the history says
#: ``policy_not_told``; the protocol has no word of its own for it yet: requested from the lead).
POLICY_NOT_TOLD: LaunchProblem = "policy_not_told"


def os_name() -> str:
    try:
        release = platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME", "") or platform.system()
    except OSError:
        return f"{platform.system()} {platform.release()}".strip()


@dataclass(frozen=True)
class ServiceOptions:
    directory: Path
    display: str | None = None
    desktop_user: str | None = None


class DeviceService:
    def __init__(
        self,
        options: ServiceOptions,
        config: state.DeviceConfig,
        key: Ed25519PrivateKey,
        tls: ssl.SSLContext | None,
        *,
        find_desktop: FindDesktop = desktop_seat.find,
        launch: Launch = launcher.start,
        backoff: JitterBackoff | None = None,
    ) -> None:
        self.options = options
        self.config = config
        self._key = key
        self._tls = tls
        self._find_desktop = find_desktop
        self._launch = launch
        self.backoff = backoff or JitterBackoff()
        self._session: asyncio.subprocess.Process | None = None
        self.replaced_seconds = REPLACED_SECONDS
        #: sockets authenticated so far (tests and the log)
        self.connections = 0

    # ------------------------------------------------------------------ the loop

    async def run(self) -> int:
        """Until the enrolment ends (0); a cancellation (SIGTERM) propagates."""
        while True:
            if not self._key_still_there():
                return self._end("local")
            try:
                link = await open_link(
                    self.config, self._key, self._tls, os_name=os_name(), os_user=await self._os_user()
                )
            except Refused as refused:
                if refused.forget:
                    log.warning("the server refused this device (%s) and asked it to forget", refused.reason)
                    return self._end("server")
                log.warning("the server refused this device (%s): trying again later", refused.reason)
            except ConnectError as exc:
                if exc.untrusted:
                    log.error("the server's certificate is not trusted (%s): trying again later", exc.detail)
                else:
                    log.info("cannot reach the server: %s", exc.detail)
            except (ChannelClosed, TimeoutError, Unexpected, OSError) as exc:
                log.info("the device socket failed before the welcome: %s", exc or type(exc).__name__)
            else:
                self.connections += 1
                started = time.monotonic()
                log.info(
                    "connected to %s as %r (group %r, policy %s)",
                    self.config.server,
                    link.welcome.device_name,
                    link.welcome.group,
                    link.welcome.policy,
                )
                await self.learn_policy(link.welcome.policy)
                outcome = await self.serve(link)
                if outcome == "forget":
                    return self._end("server")
                if outcome == "forgotten_locally":
                    return self._end("local")
                if time.monotonic() - started >= STABLE_SECONDS:
                    self.backoff.reset()
                if outcome == "replaced":
                    log.warning(
                        "another connection of this device took its place: waiting before coming back"
                    )
                    await self._pause(self.replaced_seconds + self.backoff.next())
                    continue
            delay = self.backoff.next()
            log.info("next attempt in %.1f s", delay)
            await self._pause(delay)

    async def serve(self, link: Link) -> Outcome:
        """One authenticated socket, until it drops or the enrolment ends."""
        beating = spawn(self._heartbeats(link), name="device-heartbeat")
        try:
            while True:
                try:
                    message = await receive(link.channel)
                except ChannelClosed:
                    if not self._key_still_there():
                        return "forgotten_locally"
                    return "replaced" if link.channel.close_code == CLOSE_REPLACED else "dropped"
                except Unexpected as exc:
                    log.warning("%s (ignored)", exc)
                    continue
                if isinstance(message, DeviceRevoked):
                    log.warning("the server revoked this device's enrolment")
                    return "forget"
                if isinstance(message, DeviceRefused):
                    if message.forget:
                        return "forget"
                    return "dropped"
                if isinstance(message, DeviceWelcome):
                    # the server may say again what the device is (a group's policy changed):
                    # the person at the computer is told now, not at the next request
                    await self.learn_policy(message.policy)
                    continue
                if isinstance(message, SessionRequest):
                    answer = await self.handle(message)
                    with contextlib.suppress(ChannelClosed):
                        await link.channel.send(answer.dumps())
                    continue
                log.info("ignored %s on an authenticated socket", message.type)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            with contextlib.suppress(ChannelClosed, OSError, TimeoutError):
                await asyncio.wait_for(link.channel.close(), 3)

    async def _heartbeats(self, link: Link) -> None:
        while True:
            await asyncio.sleep(link.heartbeat_seconds)
            if not self._key_still_there():
                log.warning("the device key was deleted: closing")
                with contextlib.suppress(ChannelClosed, OSError):
                    await link.channel.close()
                return
            try:
                await link.channel.send(DeviceHeartbeat(os_user=await self._os_user()).dumps())
            except ChannelClosed:
                return

    # ------------------------------------------------------------------ a session request

    async def handle(self, request: SessionRequest) -> SessionLaunch:
        """Decide, record and (maybe) launch; the answer to send back."""
        log.info("session request %s received (policy %s)", request.session_id, request.policy)
        desktop: Desktop | None = None
        problem: LaunchProblem | None = None
        recorded: str | None = None
        if request.policy == "unattended" and not self.config.unattended:
            problem = "unattended_not_enrolled"
        elif state.stronger(request.policy, self.config.told()):
            told = self.config.told()
            # the server asks for more than the person here was told: tell them (the group's
            # policy, or the request's when that is the first news of a stronger one), refuse now
            await self.learn_policy(
                request.policy if state.stronger(request.policy, self.config.policy) else self.config.policy
            )
            log.warning(
                "session request %s refused: policy %s, the person at this computer was told %s",
                request.session_id,
                request.policy,
                told,
            )
            problem, recorded = POLICY_NOT_TOLD, "policy_not_told"
        elif self._session is not None and self._session.returncode is None:
            problem = "busy"
        else:
            desktop = await self._find_desktop(self.options.display, self.options.desktop_user)
            if desktop is None:
                problem = "no_desktop"
        if problem is None and desktop is not None:
            problem = await self._start(request, desktop)
        self._record(request, desktop, recorded or problem)
        log.info(
            "session request %s from %r (policy %s): %s",
            request.session_id,
            request.technician_name,
            request.policy,
            "started" if problem is None else problem,
        )
        return SessionLaunch(session_id=request.session_id, ok=problem is None, problem=problem)

    # ------------------------------------------------------------------ what the person was told

    async def learn_policy(self, policy: DevicePolicy) -> None:
        """The server says the group's policy is ``policy`` (a welcome; or a request stronger than
        anything the device knew). Keep it; tell the person at the computer when it changes what
        they were told; raise the device's ceiling (``told_policy``) only once they were told."""
        previous = self.config.policy
        before = self.config.told()
        target = state.effective_policy(policy, self.config.unattended)
        changed = policy != previous
        if not changed and not state.stronger(target, before):
            return
        problem, shown_to = "not_needed", ""
        if target != before:
            problem, shown_to = await self._show_notice(policy, before)
        # a weaker policy binds at once; a stronger one only once its notice is on the screen
        told = target if problem in ("", "not_needed") or not state.stronger(target, before) else before
        self._save(self.config.model_copy(update={"policy": policy, "told_policy": told}))
        log.info(
            "group policy %s (was %s); the person at this computer was told %s (notice: %s)",
            policy,
            previous,
            told,
            problem or f"shown to {shown_to}",
        )
        if changed:
            device_history.append(
                self.options.directory,
                DeviceEvent(
                    kind="policy_changed",
                    at=device_history.now(),
                    server=self.config.server,
                    organization=self.config.organization,
                    device_name=self.config.device_name,
                    group=self.config.group,
                    policy=policy,
                    previous_policy=previous,
                    unattended=self.config.unattended,
                    problem=problem,
                    detail=shown_to,
                ),
            )

    async def _show_notice(self, policy: DevicePolicy, before: DevicePolicy) -> tuple[str, str]:
        """Start the notice of ``policy`` on the desktop: ``("", user)`` once started, else
        ``(problem, "")`` (``no_desktop``, ``launch_failed``)."""
        try:
            desktop = await self._find_desktop(self.options.display, self.options.desktop_user)
        except Exception:
            log.warning("finding the desktop for the notice failed", exc_info=True)
            desktop = None
        if desktop is None:
            return "no_desktop", ""
        response = EnrolResponse(
            device_id=self.config.device_id,
            device_name=self.config.device_name,
            organization=self.config.organization,
            group=self.config.group,
            policy=policy,
            unattended=self.config.unattended,
            enrolled_by=self.config.enrolled_by,
            enrolled_at=self.config.enrolled_at,
        )
        # language "": the desktop's own (its LANG is passed on); changed_from: for a notice that
        # says what changed (read by ``--device-notice`` when it knows it)
        payload = {"enrolment": response.model_dump(), "language": "", "changed_from": before}
        try:
            process = await self._launch(
                desktop, launcher.agent_command("--device-notice"), json.dumps(payload).encode()
            )
        except OSError as exc:
            log.error("the notice could not start on %s's desktop: %s", desktop.user, exc)
            return "launch_failed", ""
        spawn(self._reap(process, "the policy notice"), name="device-notice-wait")
        return "", desktop.user

    def _save(self, config: state.DeviceConfig) -> None:
        self.config = config
        try:
            state.write_config(self.options.directory, config)
        except OSError as exc:  # kept in memory; the next welcome tries again
            log.error("could not write %s: %s", self.options.directory / state.CONFIG_NAME, exc)

    # ------------------------------------------------------------------ launching

    def launch_spec(self, request: SessionRequest) -> LaunchSpec:
        return LaunchSpec(
            server=self.config.server,
            code=request.code,
            secret=request.secret,
            session_id=request.session_id,
            policy=request.policy,
            reason=request.reason,
            technician_name=request.technician_name,
            organization=request.organization or self.config.organization,
            device_name=self.config.device_name,
            ca_file=self.config.ca_file,
            language="",  # the desktop's own (its LANG is passed on)
            device_history=str(self.options.directory / state.HISTORY_NAME),
        )

    async def _start(self, request: SessionRequest, desktop: Desktop) -> LaunchProblem | None:
        spec = self.launch_spec(request)
        try:
            process = await self._launch(
                desktop, launcher.agent_command("--device-session"), spec.model_dump_json().encode()
            )
        except OSError as exc:
            log.error("the session part could not start as %s: %s", desktop.user, exc)
            return "launch_failed"
        self._session = process
        spawn(self._reap(process, f"the session part of {request.session_id}"), name="device-session-wait")
        return None

    async def _reap(self, process: asyncio.subprocess.Process, what: str) -> None:
        code = await process.wait()
        log.info("%s ended (exit status %s)", what, code)

    def _record(self, request: SessionRequest, desktop: Desktop | None, problem: str | None) -> None:
        device_history.append(
            self.options.directory,
            DeviceEvent(
                kind="session_request",
                at=device_history.now(),
                server=self.config.server,
                organization=request.organization or self.config.organization,
                device_name=self.config.device_name,
                policy=request.policy,
                technician=request.technician_name,
                reason=request.reason,
                ticket_id=request.ticket_id,
                ticket_title=request.ticket_title,
                session_id=request.session_id,
                problem=problem or "",
                detail=desktop.user if desktop is not None else "",
            ),
        )

    # ------------------------------------------------------------------ helpers

    async def _os_user(self) -> str:
        try:
            desktop = await self._find_desktop(self.options.display, self.options.desktop_user)
        except Exception:
            log.debug("finding the desktop failed", exc_info=True)
            return ""
        return desktop.user if desktop is not None else ""

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, but end the wait as soon as the key is gone (``veo agent unenrol``
        on this computer): the loop then stops at once instead of after a long backoff."""
        left = seconds
        while left > 0 and self._key_still_there():
            step = min(left, 1.0)
            await asyncio.sleep(step)
            left -= step

    def _key_still_there(self) -> bool:
        return (self.options.directory / state.KEY_NAME).exists()

    def _end(self, by: str) -> int:
        """The enrolment is over: forget it, write it down, exit 0 (``local``: whoever deleted the
        key already wrote the history)."""
        state.forget(self.options.directory)
        if by == "local":
            log.warning("the device key is gone (unenrolled on this computer): stopping")
            return 0
        device_history.append(
            self.options.directory,
            DeviceEvent(
                kind="unenrolled",
                at=device_history.now(),
                server=self.config.server,
                organization=self.config.organization,
                device_name=self.config.device_name,
                detail=by,
            ),
        )
        log.warning("this computer is no longer enrolled (%s): key and configuration deleted", by)
        return 0
