"""The agent's controller on the Tk main thread: windows in, session events out.

Tk is driven only from here. The session runs on the loop thread; it reports through a
``queue.Queue`` that :meth:`AgentApp._poll` drains with ``root.after``, and the windows reach
it only through ``LoopThread.call`` (``call_soon_threadsafe``). Nothing here ever waits on
the network.

The session's own stack (``session.py``, the media stack behind it: aiortc, PyAV, numpy, and
the capture and input modules) is not imported here: that is half a second or more of a start,
and the first window needs none of it. Once the code window is on the screen the loop thread
imports it (:func:`preload_session_stack`) while the user types the code; with a code known at
start, the attempt imports ``session.py`` and the first peer connection the media stack, after
the consent dialog was posted. ``tests/unit/agent/test_agent_startup_imports.py`` holds this.

Started by a managed device's service (``device``, issue 17), the same app runs one session
whose code the user never sees: ``device_mode.decide`` says whether the consent dialog shows
(``ask``, with the managed-computer line) or the session starts by itself (``automatic``: the
connected notice at once and the bar naming who and why). A join that fails there quits
quietly (the service and the server know): the code window asks for a code nobody gave.
"""

from __future__ import annotations

import logging
import queue
import ssl
import sys
import tkinter as tk
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from veo.agent import history
from veo.agent.annotations import SessionAnnotations
from veo.agent.backend import BackendError, Reason, reason_text
from veo.agent.desktop import Desktop
from veo.agent.device_mode import DeviceContext, decide
from veo.agent.endings import ending
from veo.agent.events import (
    ControlChanged,
    DesktopAsking,
    GrantChanged,
    JoinFailed,
    Reconnected,
    Reconnecting,
    ReverifyAsked,
    ReverifyClosed,
    SasKnown,
    SessionEnded,
    ShowConsent,
    Started,
    UiEvent,
)
from veo.agent.features import AskingFeature, ChatFeature, Feature, FilesFeature, Surroundings, SysinfoFeature
from veo.agent.hotkey.auto import start_stop_hotkey
from veo.agent.hotkey.base import GlobalHotkey, stop_hotkey_description
from veo.agent.launch import server_label
from veo.agent.loop_thread import LoopThread
from veo.agent.names import with_display_names
from veo.agent.overlay.auto import check_overlay, create_overlay
from veo.agent.rating import send_rating
from veo.agent.reconnect import OPEN_TIMEOUT_SECONDS, ReconnectingChannel
from veo.agent.signaling import ConnectError, SignalingChannel, WebSocketChannel
from veo.agent.sysinfo import DEFAULT_PROGRAMS
from veo.agent.ui.bar import SessionBar
from veo.agent.ui.code import CodeWindow
from veo.agent.ui.common import PAD, Fonts
from veo.agent.ui.connected_notice import ConnectedNotice
from veo.agent.ui.consent import ConnectedServer, ConsentDialog
from veo.agent.ui.ended import EndedWindow
from veo.agent.ui.history import HistoryWindow
from veo.agent.ui.rating import RatingWindow
from veo.agent.ui.reverify import ReverifyPrompt
from veo.durations import duration_text
from veo.i18n import gettext_for
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

if TYPE_CHECKING:
    from veo.agent.cursor import AgentCursor, PointerSource
    from veo.agent.session import AgentSession

log = logging.getLogger(__name__)
POLL_MS = 40
#: the session's stack is loaded this long after the code window at the latest (no Expose seen)
PRELOAD_FALLBACK_MS = 1000


class AgentApp:
    def __init__(
        self,
        root: tk.Tk,
        ws_url: str,
        server: str,
        language: str,
        code: str | None,
        tls: ssl.SSLContext | None = None,
        sysinfo_programs: tuple[str, ...] = DEFAULT_PROGRAMS,
        device: DeviceContext | None = None,
    ) -> None:
        self.root = root
        #: set only when the device's service started this agent (``device/session_part.py``)
        self.device = device
        self.notice: ConnectedNotice | None = None
        self.tls = tls
        self.ws_url = ws_url
        self.server = server
        self.language = language
        self._ = gettext_for(language).gettext
        self._n = gettext_for(language).ngettext
        self.reverify: ReverifyPrompt | None = None
        self.fonts = Fonts(root)
        self.events: queue.Queue[UiEvent] = queue.Queue()
        self.loop = LoopThread()
        self.session: AgentSession | None = None
        self.annotations: SessionAnnotations | None = None
        self.joined: Joined | None = None
        #: where the open connection goes, from the connection itself (set before the join is sent)
        self.connected: ConnectedServer | None = None
        self.code_window: CodeWindow | None = None
        self.consent: ConsentDialog | None = None
        self.bar: SessionBar | None = None
        self.ended: EndedWindow | None = None
        self.rating: RatingWindow | None = None
        self.history: HistoryWindow | None = None
        self._helped = False  # the user allowed the session: worth asking for a rating
        #: the desktop shows its own sharing window after veo's (Wayland): the consent dialog says so
        self.desktop_asks_too = False
        self._limits: tuple[Reason, ...] = ()  # what the user's desktop does not allow (the bar says it)
        self.exit_code = 0
        self._initial_code = code
        self._terminate_requested = False
        self._terminating = False
        self.hotkey: GlobalHotkey | None = None
        self._hotkey_pressed = False
        self._stack_asked = False  # the session's stack asked for once the code window was shown
        around = Surroundings(
            root,
            self.fonts,
            language,
            self._,
            self._n,
            self.loop,
            self.events.put,
            joined=lambda: self.joined,
            bar=lambda: self.bar,
        )
        #: the session's features (``features/``): the bar names two of them (*Chat*, *Send a file*)
        self.chat = ChatFeature(around)
        self.files = FilesFeature(around)
        self.features: list[Feature] = [
            AskingFeature(around),
            self.chat,
            SysinfoFeature(around, sysinfo_programs),
            self.files,
        ]
        self._feature_routes: dict[type, Feature] = {
            kind: feature for feature in self.features for kind in feature.EVENTS
        }

    # ------------------------------------------------------------ lifecycle

    def run(self) -> int:
        self.root.withdraw()
        self.loop.start()
        if self._initial_code:
            self._start_attempt(self._initial_code)  # imports the session's stack first thing
        else:
            self._show_code_window()
        self.root.after(POLL_MS, self._poll)
        self.root.mainloop()
        self._stop_hotkey()
        self.loop.stop()
        return self.exit_code

    def _quit(self) -> None:
        self.root.quit()

    def _on_hotkey(self) -> None:
        """From the hotkey's thread: only set a flag; :meth:`_poll` acts on it in the Tk loop."""
        self._hotkey_pressed = True

    def _stop_hotkey(self) -> None:
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None

    def request_terminate(self) -> None:
        """From a signal handler: only set a flag; :meth:`_poll` acts on it in the Tk loop."""
        self._terminate_requested = True

    def _terminate(self) -> None:
        """SIGTERM/SIGINT: end a running session properly (keys released, server told), then quit."""
        session = self.session
        if self._terminating or session is None or self.joined is None or self.ended is not None:
            self._quit()
            return
        self._terminating = True
        log.info("asked to quit: ending the session")
        self.loop.call(session.stop, "agent_terminated")

    # ------------------------------------------------------------ join

    def _show_code_window(self) -> None:
        if self.code_window is None:
            self.code_window = CodeWindow(
                self.root,
                self.fonts,
                self._,
                self._start_attempt,
                self._quit,
                on_history=self._show_history,
                server=server_label(self.server),
            )
            if not self._stack_asked:  # drawn (its first Expose), or in a second whatever happens
                self.code_window.window.bind("<Expose>", self._code_window_shown, add="+")
                self.root.after(PRELOAD_FALLBACK_MS, self._code_window_shown)

    def _code_window_shown(self, _event: object = None) -> None:
        """The code window is on the screen: the loop thread imports the session's stack while the
        user types the code (after Tk's pending redraws, so the window is drawn first)."""
        if not self._stack_asked:
            self._stack_asked = True
            self.root.after_idle(lambda: self.loop.call(preload_session_stack))

    def _show_history(self) -> None:
        """*Past sessions*: the user's own record, read from the file each time it is opened."""
        if self.history is not None:
            self.history.lift()
            return
        read = history.read()
        self.history = HistoryWindow(self.root, self.fonts, self.language, read, self._close_history)

    def _close_history(self) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None

    def _start_attempt(self, code: str) -> None:
        self.loop.submit(self._attempt(code)).add_done_callback(self._attempt_done)

    def _attempt_done(self, attempt: Future[None]) -> None:
        """An attempt that failed unexpectedly: logged (the traceback goes to the log file) and said
        in the code window, so the user is never left looking at "Connecting…"."""
        error = None if attempt.cancelled() else attempt.exception()
        if error is None:
            return
        log.error("the connection attempt failed", exc_info=error)
        if self.joined is None:
            self.events.put(JoinFailed(self._("Something went wrong while connecting. Please try again.")))

    async def _attempt(self, code: str) -> None:
        """On the loop thread: connect, then run one session to its end."""
        from veo.agent.desktop_choice import create_desktop  # the portal's modules load only on Wayland
        from veo.agent.session import AgentSession, SessionDeps  # already loaded once the code window showed

        try:
            desktop = create_desktop()
        except BackendError as exc:  # no desktop veo can share: the sentence, before any connection
            log.warning("this desktop cannot be shared: %s", exc)
            self.events.put(JoinFailed(reason_text(exc.reason, self._)))
            return
        self.desktop_asks_too = desktop.backend == "portal"  # read by the consent dialog, posted later
        try:
            channel = await WebSocketChannel.open(self.ws_url, self.tls)
        except ConnectError as exc:
            if exc.untrusted:
                log.warning("server certificate not trusted, nothing sent to %s: %s", self.ws_url, exc.detail)
            else:
                log.warning("cannot reach %s: %s", self.ws_url, exc.detail)
            self.events.put(JoinFailed(connect_error_text(self.language, exc)))
            return
        self.connected = connected_server(channel, self.ws_url)
        deps = SessionDeps(
            capture_factory=desktop.capture,
            injector_factory=desktop.injector,
            desktop=desktop,
            post=self.events.put,
            language=self.language,
            server=self.server,
            device=self.device,
        )

        async def reconnect() -> SignalingChannel:
            return await WebSocketChannel.open(self.ws_url, self.tls, open_timeout=OPEN_TIMEOUT_SECONDS)

        session = AgentSession(ReconnectingChannel(channel, reconnect), code, deps)
        self.session = session
        for feature in self.features:
            feature.attach(session)
        annotations = SessionAnnotations(
            session,
            create_overlay,
            region=lambda: session.monitors.region,
            technician=lambda: self.joined.technician_name if self.joined else "",
        )
        self.annotations = annotations
        try:
            check_overlay()
        except BackendError as exc:  # the marks stay in the console: both sides are told
            session.desktop.add_limit(exc.reason)
        pointer = follow_pointer(session, desktop)
        # the desktop's own "Stop sharing" (GNOME's top bar) stops the session like the bar's Stop
        session.desktop.on_stopped(lambda: session.stop("user_stopped"))
        try:
            await session.run()
        except Exception:  # never leave the user with a frozen window
            log.exception("the session failed")
            await session.end("system", "agent_error")
        finally:
            annotations.close()  # nothing the technician drew stays on the user's screen
            if pointer is not None:
                pointer.close()
            await session.desktop.close()  # once only: the session's end closed it already

    # ------------------------------------------------------------ events from the session

    def _poll(self) -> None:
        if self._terminate_requested:
            self._terminate_requested = False
            self._terminate()
        if self._hotkey_pressed:
            self._hotkey_pressed = False
            if self.session is not None:
                self.loop.call(self.session.stop, "hotkey")
        try:
            while True:
                self._dispatch(self.events.get_nowait())
        except queue.Empty:
            pass
        self.root.after(POLL_MS, self._poll)

    def _dispatch(self, event: UiEvent) -> None:
        """Hand one event to the method that owns its kind (``ROUTES``, after the class), or to the
        feature that names it in its ``EVENTS``."""
        route = ROUTES.get(type(event))
        if route is not None:
            route(self, event)
        else:
            self._feature_routes[type(event)].handle(event)

    def _on_join_failed(self, event: JoinFailed) -> None:
        if self.device is not None:  # nobody typed a code: no code window asking for one
            log.warning("device session not joined: %s", event.message)
            self.exit_code = 1
            self._quit()
            return
        self._show_code_window()
        assert self.code_window is not None
        self.code_window.show_error(event.message, self._initial_code, link=event.link)
        if self._initial_code:  # ``--code`` from a terminal: say it there too
            print("veo agent: " + event.message, file=sys.stderr)
        self._initial_code = None

    def _on_show_consent(self, event: ShowConsent) -> None:
        self.joined = with_display_names(event.joined, self._)  # no empty name in a sentence
        self._close_history()  # nothing else on screen while the user decides
        if self.code_window is not None:
            self.code_window.close()
            self.code_window = None
        mode = decide(self.device, event.joined)  # as the session decided (it refuses before this)
        if mode != "automatic":  # notify, unattended: no question; the notice follows the consent
            self.consent = ConsentDialog(
                self.root,
                self.fonts,
                self._,
                self.joined,
                self._on_allow,
                self._session_call(lambda session: session.deny()),
                self._session_call(lambda session: session.declare_mismatch()),
                desktop_asks_too=self.desktop_asks_too,
                server=self.connected,
                device=self.device if mode == "ask" else None,
            )
        if self.hotkey is None:  # from the moment someone is connected until the end
            description = stop_hotkey_description(gettext_for(self.language))  # Wayland's shortcut list
            self.hotkey = start_stop_hotkey(self._on_hotkey, description)
            session = self.session
            if self.hotkey is None and session is not None:  # the bar's Stop is the way out: say so
                self.loop.call(session.desktop.add_limit, "no_stop_key")

    def _on_sas_known(self, event: SasKnown) -> None:
        if self.consent is not None:
            self.consent.show_sas(event.code)

    def _on_desktop_asking(self, event: DesktopAsking) -> None:
        """The desktop's own sharing window asks now: veo's dialog (answered) steps aside for it."""
        log.info("the desktop asks the user too (backend=%s)", event.backend)
        self._close_consent()

    def _on_started(self, event: Started) -> None:
        self._helped = True
        self._limits = event.limits
        for feature in self.features:
            feature.start(event.granted)
        self._close_consent()
        self._open_bar(event.granted)
        if self._automatic() and self.notice is None and self.joined is not None:
            self._open_notice(self.joined)

    def _automatic(self) -> bool:
        """A notify or unattended device session: nobody was asked, everybody must be told."""
        return self.joined is not None and decide(self.device, self.joined) == "automatic"

    def _open_notice(self, joined: Joined) -> None:
        """Who connected and why, at once, with a Stop of its own (the bar stays after it closes)."""
        assert self.device is not None
        self.notice = ConnectedNotice(
            self.root,
            self.fonts,
            self._,
            technician=joined.technician_name,
            organization=joined.organization,
            reason=self.device.reason,
            on_stop=self._session_call(lambda session: session.stop()),
            on_close=self._close_notice,
        )

    def _close_notice(self) -> None:
        if self.notice is not None:
            self.notice.close()
            self.notice = None

    def _on_control_changed(self, event: ControlChanged) -> None:
        if self.bar is not None:
            self.bar.show_paused(event.paused)

    def _on_session_ended(self, event: SessionEnded) -> None:
        self._stop_hotkey()
        self._close_consent()
        self._close_reverify()
        self._close_notice()
        for feature in self.features:  # windows closed, what was held forgotten
            feature.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self._terminating:
            self._quit()
        elif self.ended is None:
            organization = self.joined.organization if self.joined is not None else ""
            said = ending(
                self._, event.by, event.reason, organization, started=self._helped, grace=self._grace_words()
            )
            self.ended = EndedWindow(
                self.root, self.fonts, self._, said, self._ask_rating, on_history=self._show_history
            )

    def _grace_words(self) -> str:
        """How long a lost connection was waited for ("2 minutes"), for the end notice."""
        seconds = self.joined.resume_grace_seconds if self.joined is not None else 0
        return duration_text(seconds, gettext_for(self.language), self.language) if seconds else ""

    def _open_bar(self, granted: tuple[Permission, ...]) -> None:
        """The session bar for this grant (a new grant gets a new bar: *Pause control*, *Send a file*)."""
        assert self.joined is not None
        if self.bar is not None:
            self.bar.close()
        self.bar = SessionBar(
            self.root,
            self.fonts,
            self._,
            self.joined.technician_name,
            self.joined.organization,
            granted,
            self._on_pause,
            self._session_call(lambda session: session.stop()),
            hotkey=self.hotkey is not None,
            language=self.language,
            limits=tuple(reason_text(limit, self._) for limit in self._limits),
            on_chat=lambda: self.chat.open(focus=True),
            on_send_file=self.files.open_sender if Permission.FILES in granted else None,
            reason=self.device.reason if self.device is not None else "",
        )
        self.chat.bar_opened(self.bar)
        if self.annotations is not None:  # strokes are cut around the bar: Stop stays visible
            self.loop.call(self.annotations.keep_clear, int(self.bar.window.wm_frame(), 16))

    # ------------------------------------------------------------ a lost connection

    def _resume_event(self, event: Reconnecting | Reconnected | ReverifyAsked | ReverifyClosed) -> None:
        """The bar says "Reconnecting…" until the session is carried again; a resume without proof
        asks the user to compare a new code (``ui/reverify.py``)."""
        if isinstance(event, Reconnecting):
            if self.bar is not None:
                self.bar.show_reconnecting(event.ends_at.strftime("%H:%M"))
        elif isinstance(event, Reconnected):
            self._close_reverify()
            if self.bar is not None:
                self.bar.show_connected()
        elif isinstance(event, ReverifyClosed):
            self._close_reverify()
        else:
            self._open_reverify(event.code)

    def _open_reverify(self, code: str) -> None:
        session, joined = self.session, self.joined
        if session is None or joined is None:
            return
        self._close_reverify()
        self.reverify = ReverifyPrompt(
            self.root,
            self.fonts,
            self._,
            technician=joined.technician_name,
            code=code,
            on_match=lambda: self.loop.call(session.confirm_code, code),
            on_differ=lambda: self.loop.call(session.declare_mismatch),
            below=self._below_bar(),
        )

    def _below_bar(self) -> int:
        bar = self.bar
        return bar.window.winfo_rooty() + bar.window.winfo_height() + PAD if bar is not None else 0

    def _close_reverify(self) -> None:
        if self.reverify is not None:
            self.reverify.close()
            self.reverify = None

    # ------------------------------------------------------------ more permission mid-session

    def _on_grant_changed(self, event: GrantChanged) -> None:
        if self.bar is not None:  # still running: the bar and the features follow the grant
            for feature in self.features:
                feature.start(event.added)
            self._open_bar(event.granted)

    def _ask_rating(self) -> None:
        """The end window closed: ask how the help was (once, skippable), then quit."""
        joined, session = self.joined, self.session
        if self.rating is not None:
            return
        # nobody at a notify or unattended device asked for help: no question left on its screen
        if (
            not self._helped
            or joined is None
            or not joined.rating_token
            or session is None
            or self._automatic()
        ):
            self._quit()
            return
        if self.ended is not None:
            self.ended.window.withdraw()  # its own close timer may still fire: ignored above

        def send(score: int, comment: str) -> Coroutine[Any, Any, bool]:
            assert joined is not None
            return send_rating(self.ws_url, joined.session_id, joined.rating_token, score, comment, self.tls)

        self.rating = RatingWindow(self.root, self.fonts, self._, send, self.loop.submit, self._quit)

    def _close_consent(self) -> None:
        if self.consent is not None:
            self.consent.close()
            self.consent = None

    # ------------------------------------------------------------ user actions -> session

    def _session_call(self, act: Callable[[AgentSession], None]) -> Callable[[], None]:
        """A window's button: ``act(session)`` on the loop thread, nothing before the session exists
        (typed, so a renamed method of the session is caught by mypy, not by a user's click)."""

        def call() -> None:
            session = self.session
            if session is not None:
                self.loop.call(act, session)

        return call

    def _on_allow(self, ticked: list[Permission]) -> None:
        if self.session is not None:
            self.loop.call(self.session.allow, ticked)

    def _on_pause(self, paused: bool) -> None:
        if self.session is not None:
            self.loop.call(self.session.set_paused, paused)


#: Which method of the app handles each kind of event from the session that no feature names in its
#: ``EVENTS`` (a test holds this table and the features' together to the ``UiEvent`` union, each
#: kind to one owner, so a new event cannot be forgotten).
ROUTES: dict[type, Callable[[AgentApp, Any], None]] = {
    JoinFailed: AgentApp._on_join_failed,
    ShowConsent: AgentApp._on_show_consent,
    SasKnown: AgentApp._on_sas_known,
    DesktopAsking: AgentApp._on_desktop_asking,
    Started: AgentApp._on_started,
    ControlChanged: AgentApp._on_control_changed,
    SessionEnded: AgentApp._on_session_ended,
    Reconnecting: AgentApp._resume_event,
    Reconnected: AgentApp._resume_event,
    ReverifyAsked: AgentApp._resume_event,
    ReverifyClosed: AgentApp._resume_event,
    GrantChanged: AgentApp._on_grant_changed,
}


def preload_session_stack() -> None:
    """On the loop thread, once the code window is shown: import the session's stack (aiortc, PyAV,
    numpy, capture, input) so that the attempt need not. A failure is left to the attempt, which
    imports the same and says so in the code window."""
    try:
        import veo.agent.cursor  # noqa: F401
        from veo.agent.session import load_media_stack

        load_media_stack()
    except Exception:
        log.exception("the session's modules could not be loaded")


def follow_pointer(
    session: AgentSession, desktop: Desktop, source: Callable[[], PointerSource] | None = None
) -> AgentCursor | None:
    """The pointer as data (``cursor.py``), where it is the user's and not already in the picture.

    It is read from X (XFixes): on the portal XWayland's pointer is not the user's, so none is sent
    (the portal draws it into the picture); a desktop whose grant says the pointer is in the picture
    stops it before consent, so the console never draws a second one.
    """
    if desktop.backend != "x11":
        return None
    from veo.agent.cursor import AgentCursor, XPointerSource

    pointer = AgentCursor(session, lambda: session.monitors.region, source or XPointerSource)
    session.desktop.on_open(lambda grant: pointer.close() if grant.pointer_in_picture else None)
    return pointer


def connected_server(channel: WebSocketChannel, ws_url: str) -> ConnectedServer:
    """The host the consent dialog names: the one TLS verified on this very connection.

    A plain connection (``ws://``, which ``urls.agent_ws_url`` allows for loopback only) is said
    to be unencrypted; nothing the server sends about itself is used.
    """
    verified = channel.verified_host
    if verified is not None:
        return ConnectedServer(verified, True)
    return ConnectedServer(urlsplit(ws_url).hostname or "?", False)


def connect_error_text(language: str, error: ConnectError) -> str:
    """What the code window says when no connection to the server was made."""
    _ = gettext_for(language).gettext
    if error.untrusted:
        return _(
            "The support server could not prove its identity: its certificate is not trusted. "
            "The agent did not connect and sent nothing. Check the server address with your "
            "support department."
        )
    return _("Could not reach the support server. Check your connection and try again.")


__all__ = ["AgentApp", "connect_error_text", "connected_server", "follow_pointer", "preload_session_stack"]
