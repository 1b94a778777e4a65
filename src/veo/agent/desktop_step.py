"""The desktop step of a session: between the user's Allow in veo's dialog and the ``consent``.

veo's consent dialog comes first; on Wayland the desktop's own sharing dialog (the portal's)
comes second, in addition to it, never instead of it. So the user's Allow does not start the
session at once: it opens the :class:`~veo.agent.desktop.Desktop` (``want_control``: whether
*control* was ticked), and only what the desktop then grants is told to the server and the
console. Three outcomes:

- granted: the session's grant is fitted to it (*control* removed when the desktop has no remote
  control or the user left it off in the desktop's window) **before** ``consent`` goes out, so the
  server records and the console shows the truth; the limits travel to the console in the
  ``desktop`` data-channel message and to the user's bar as sentences (``backend.reason_text``);
- cancelled in the desktop's window (``portal_cancelled``): the user's refusal, said as such;
- the desktop failed: the session ends with that reason, said in a sentence, never a traceback.

On X11 opening asks nothing more and the screen may be measured before Allow, as before; on the
portal nothing can be captured until the desktop's dialog was answered (:meth:`DesktopStep.ready`).
Tests without a desktop (``SessionDeps.desktop`` is ``None``) go straight from Allow to consent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, get_args, runtime_checkable

from veo.agent.backend import BackendError, Reason
from veo.agent.desktop import Desktop, DesktopGrant
from veo.agent.events import DesktopAsking, UiEvent
from veo.protocol.datachannel import Desktop as DesktopMessage
from veo.protocol.permissions import Permission, effective_permissions
from veo.tasks import spawn

log = logging.getLogger(__name__)

#: the limits the console's ``desktop`` message can carry (the protocol's literal list)
_CONSOLE_LIMITS: frozenset[str] = frozenset(
    get_args(get_args(DesktopMessage.model_fields["limits"].annotation)[0])
)
#: what the user's bar says (the pointer in the picture changes nothing the user sees)
_USER_LIMITS: frozenset[Reason] = frozenset(
    {"no_remote_desktop", "control_refused", "no_overlay", "no_stop_key"}
)


@runtime_checkable
class _Stoppable(Protocol):
    """A desktop that can end the sharing itself (GNOME's "Stop sharing" in its top bar)."""

    on_closed: Callable[[], None] | None


class DesktopStep:
    """Opens the desktop after Allow, holds what it granted, and closes it at the end."""

    def __init__(self, desktop: Desktop | None, post: Callable[[UiEvent], None]) -> None:
        self.desktop = desktop
        self._post = post
        self.grant: DesktopGrant | None = None
        #: whether the user ticked *control* in veo's dialog (the desktop's "no" is said only then)
        self.wanted_control = False
        self._opening: asyncio.Task[None] | None = None
        self._closed = False
        self._ready = asyncio.Event()
        if desktop is None or desktop.backend == "x11":
            self._ready.set()  # X11 needs no permission of its own to measure the screen
        self._hooks: list[Callable[[DesktopGrant], None]] = []
        #: limits found outside the desktop (no overlay, no stop key), said with the desktop's own
        self._found: list[Reason] = []
        #: the connection the ``desktop`` message was last sent on (once per connection)
        self._told: object = None

    # ------------------------------------------------------------ after Allow

    def open_then(
        self,
        requested: Iterable[Permission],
        ticked: Iterable[Permission],
        proceed: Callable[[list[Permission]], None],
        refused: Callable[[BackendError], Awaitable[None]],
    ) -> None:
        """After the user's Allow with ``ticked``: open the desktop, then ``proceed(ticked)``; on
        the desktop's refusal ``await refused(error)``. A second Allow while the desktop's own
        dialog is open is ignored (the first one is being answered there)."""
        ticked = list(ticked)
        if self._opening is not None or self.grant is not None:
            log.info("Allow ignored: the desktop is already being opened")
            return
        granted = effective_permissions(requested, ticked)
        if self.desktop is None or Permission.VIEW not in granted:
            proceed(ticked)  # nothing to open (tests), or nothing to share (Allow counts as Deny)
            return
        self.wanted_control = Permission.CONTROL in granted
        self._post(DesktopAsking(self.desktop.backend))
        self._opening = spawn(self._open(self.desktop, ticked, proceed, refused), name="veo-agent-desktop")

    async def _open(
        self,
        desktop: Desktop,
        ticked: list[Permission],
        proceed: Callable[[list[Permission]], None],
        refused: Callable[[BackendError], Awaitable[None]],
    ) -> None:
        log.info("opening the desktop backend=%s want_control=%s", desktop.backend, self.wanted_control)
        try:
            grant = await desktop.open(want_control=self.wanted_control)
        except BackendError as exc:
            log.warning("the desktop refused: %s", exc)
            await refused(exc)
            return
        except Exception as exc:  # whatever went wrong, the user reads a sentence, not a traceback
            log.exception("opening the desktop failed")
            await refused(BackendError("portal_failed", str(exc)))
            return
        if self._closed:  # the session ended while the desktop's dialog was open
            return
        self.grant = grant
        log.info(
            "desktop opened backend=%s control=%s reason=%s streams=%d pointer_in_picture=%s limits=%s",
            grant.backend,
            grant.control,
            grant.control_reason,
            len(grant.streams),
            grant.pointer_in_picture,
            ",".join(grant.limits),
        )
        for hook in self._hooks:
            try:
                hook(grant)
            except Exception:
                log.exception("a desktop hook failed")
        self._ready.set()
        proceed(ticked)

    def add_limit(self, reason: Reason) -> None:
        """Another part of the agent found what this desktop lacks (``no_overlay``, ``no_stop_key``)."""
        if reason not in self._found:
            self._found.append(reason)

    def on_stopped(self, callback: Callable[[], None]) -> None:
        """``callback()`` (on the loop) when the desktop itself ends the sharing: the user stopped
        it from the desktop's own indicator, so the session ends as stopped by the user."""
        if isinstance(self.desktop, _Stoppable):
            self.desktop.on_closed = callback

    def on_open(self, hook: Callable[[DesktopGrant], None]) -> None:
        """``hook(grant)`` runs once the desktop granted, before consent (the pointer feature)."""
        self._hooks.append(hook)

    async def ready(self) -> bool:
        """Wait until the screen may be captured; ``False`` when the session ended first."""
        await self._ready.wait()
        return not self._closed

    # ------------------------------------------------------------ what the desktop allows

    @property
    def control(self) -> bool:
        """Whether the desktop lets the technician control (``True`` until a grant said no)."""
        return self.grant is None or self.grant.control

    def fit(self, ticked: Iterable[Permission]) -> list[Permission]:
        """The user's ticks within what the desktop granted: no *control* where it has none."""
        ticked = list(ticked)
        fitted = [p for p in ticked if p is not Permission.CONTROL or self.control]
        if len(fitted) < len(ticked):
            reason = self.grant.control_reason if self.grant is not None else None
            log.info("control left out: the desktop does not allow it (%s)", reason)
        return fitted

    def grantable(self, asked: Iterable[Permission]) -> list[Permission]:
        """What a mid-session question may add: control only where the desktop allows it."""
        return self.fit(asked)

    def limits(self) -> list[Reason]:
        """Every limit of this desktop, in a stable order (the console words each one)."""
        grant = self.grant
        if grant is None:
            return []
        out: list[Reason] = []
        reason = grant.control_reason
        if not grant.control and reason is not None and (self.wanted_control or reason != "control_refused"):
            out.append(reason)
        for limit in (*grant.limits, *self._found):
            if limit not in out:
                out.append(limit)
        return out

    def user_limits(self) -> tuple[Reason, ...]:
        """What the user's bar says, each as ``reason_text`` (only what concerns the user)."""
        return tuple(limit for limit in self.limits() if limit in _USER_LIMITS)

    def message(self) -> DesktopMessage | None:
        """The ``desktop`` data-channel message (``None`` before the desktop was opened)."""
        grant = self.grant
        if grant is None:
            return None
        limits: list[str] = [limit for limit in self.limits() if limit in _CONSOLE_LIMITS]
        if grant.pointer_in_picture:
            limits.append("pointer_in_picture")
        return DesktopMessage.model_validate(
            {"backend": grant.backend, "control": grant.control, "limits": limits}
        )

    def announce(self, connection: object, send: Callable[[DesktopMessage], None]) -> None:
        """``send`` the ``desktop`` message on ``connection`` unless it was already said there
        (consent and the connection's take-up may both come after the desktop's dialog)."""
        message = self.message()
        if message is not None and connection is not self._told:
            self._told = connection
            send(message)

    # ------------------------------------------------------------ the end

    async def close(self) -> None:
        """The session ended: stop a dialog still open, give the screen back (once)."""
        if self._closed:
            return
        self._closed = True
        self._ready.set()  # a take-up waiting for the desktop gives up
        opening = self._opening
        if opening is not None and not opening.done() and opening is not asyncio.current_task():
            opening.cancel()
            await asyncio.gather(opening, return_exceptions=True)
        if self.desktop is not None:
            try:
                await self.desktop.close()
            except Exception:
                log.exception("closing the desktop failed")
