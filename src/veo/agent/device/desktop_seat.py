"""Which graphical session a technician's session goes to, and as whom.

The service runs as root with no display of its own. The session part must run as the person
signed in at the computer, in their X11 or Wayland session, with that session's environment
(``DISPLAY``/``WAYLAND_DISPLAY``, ``XAUTHORITY``, ``XDG_RUNTIME_DIR``, the session bus), or it
could neither show the consent dialog nor see the screen.

1. Explicit: ``--display :N`` (or ``VEO_AGENT_DISPLAY``) with ``--desktop-user NAME``;
   ``WAYLAND_DISPLAY`` and ``XAUTHORITY`` from the service's environment are passed on when set.
   For kiosks with a fixed display, and for tests. Without ``--desktop-user``: a service that is
   not root runs sessions as itself (it cannot be anyone else); a root service takes the user
   of the process that listens on the display's socket (``/tmp/.X11-unix/X<N>``, asked with
   ``SO_PEERCRED``: that directory is world-writable, so whoever created the FILE proves
   nothing, review R1-16), and refuses (:class:`DisplayOwnerError`) when
   that owner is root or cannot be found. A technician's session runs as root only when IT wrote
   ``--desktop-user root``: file transfer, save dialogs and the clipboard of a root agent reach
   every file of the computer, so that must never happen by default (review R1-4).
2. Else logind (over the system bus, dbus-fast): the active, local, graphical (x11/wayland) user
   session; its environment from the ``/proc/<pid>/environ`` of a process of that session
   (the leader first, then the user's processes of that session that carry a display).
3. None: nobody is signed in to a desktop (``no_desktop``).
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import socket
import stat
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DISPLAY_ENV = "VEO_AGENT_DISPLAY"
#: Where X servers put their sockets; whoever LISTENS on ``X<N>`` runs display ``:N``.
X11_SOCKET_DIR = Path("/tmp/.X11-unix")
_LOCAL_DISPLAY = re.compile(r"(?:unix)?:(\d{1,5})(?:\.\d{1,3})?")
#: What the session part needs from the desktop's environment (nothing else is passed on).
PASSED_ENV = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
    "XDG_SESSION_DESKTOP",
    "XDG_SESSION_ID",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_MESSAGES",
    "LC_TIME",
)


@dataclass(frozen=True)
class Desktop:
    """A graphical session: whose, and the environment its programs need."""

    user: str
    uid: int
    gid: int
    home: str
    shell: str
    env: Mapping[str, str] = field(default_factory=dict)
    source: str = "explicit"


@dataclass(frozen=True)
class LogindSession:
    """What logind says about one session (the fields the choice needs)."""

    session_id: str
    uid: int
    user: str
    type: str
    class_: str
    active: bool
    remote: bool
    state: str
    leader: int
    display: str = ""


def choose(sessions: Iterable[LogindSession]) -> LogindSession | None:
    """The session a technician would see: active, local, graphical, a user's (not the greeter).

    Several can be "active" on a multi-seat machine; the first by session id wins (stable).
    """
    candidates = [
        s
        for s in sessions
        if s.active
        and not s.remote
        and s.type in ("x11", "wayland")
        and s.class_ == "user"
        and s.state in ("active", "online")
        and s.uid != 0
    ]
    candidates.sort(key=lambda s: s.session_id)
    return candidates[0] if candidates else None


def _account(name: str | None = None, uid: int | None = None) -> pwd.struct_passwd:
    return pwd.getpwnam(name) if name is not None else pwd.getpwuid(uid if uid is not None else os.getuid())


class DisplayOwnerError(Exception):
    """A root service was given a display without ``--desktop-user`` and may not guess the user.

    ``problem``: ``"root"`` (the display's socket belongs to root, e.g. an Xvfb started by root),
    ``"unknown"`` (no local socket for it: not started yet, a remote display, or an owner without
    an account). The command line turns it into a sentence in the person's language.
    """

    def __init__(self, display: str, problem: str) -> None:
        super().__init__(f"display {display}: {problem} owner")
        self.display = display
        self.problem = problem


#: How long the X server has to accept the connection that asks who it runs as.
PEER_TIMEOUT_SECONDS = 2.0


def listener_uid(path: Path, timeout: float = PEER_TIMEOUT_SECONDS) -> int:
    """The user id of the process listening on the Unix socket ``path`` (``SO_PEERCRED`` of a
    connection to it: the kernel's word, set when that process called ``listen``). ``OSError``
    when nothing listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        probe.connect(str(path))
        raw = probe.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return int(uid)


def display_owner(display: str, socket_dir: Path = X11_SOCKET_DIR) -> pwd.struct_passwd:
    """The account that runs the local X display ``display``: the user of the process listening
    on its socket, as the kernel says (``SO_PEERCRED``), not the file's owner (anyone can create
    the file in the world-writable ``/tmp/.X11-unix`` before the X server starts).

    ``lstat`` first, and only a socket counts: a symbolic link or a plain file someone put there
    names nobody. Raises :class:`DisplayOwnerError` (``"unknown"``) when there is no such socket,
    nothing listens on it (a stale file) or its user has no account.
    """
    match = _LOCAL_DISPLAY.fullmatch(display.strip())
    if match is None:
        raise DisplayOwnerError(display, "unknown")
    try:
        info = os.lstat(socket_dir / f"X{int(match.group(1))}")
    except OSError:
        raise DisplayOwnerError(display, "unknown") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise DisplayOwnerError(display, "unknown")
    try:
        uid = listener_uid(socket_dir / f"X{int(match.group(1))}")
    except OSError as exc:
        log.info("nothing answers on the socket of display %s: %s", display, exc)
        raise DisplayOwnerError(display, "unknown") from None
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        raise DisplayOwnerError(display, "unknown") from None


def explicit(
    display: str | None,
    desktop_user: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    euid: int | None = None,
    socket_dir: Path = X11_SOCKET_DIR,
) -> Desktop | None:
    """The desktop named on the command line or in ``VEO_AGENT_DISPLAY``; ``None`` when none is.

    ``KeyError`` for a ``--desktop-user`` that does not exist; :class:`DisplayOwnerError` when
    this process is root (``euid``, default the real one), no ``desktop_user`` is given and the
    display's owner is root or unknown.
    """
    environ = os.environ if environ is None else environ
    chosen = display or environ.get(DISPLAY_ENV) or ""
    if not chosen:
        return None
    if desktop_user:
        account = _account(desktop_user)
    elif (os.geteuid() if euid is None else euid) == 0:
        account = display_owner(chosen, socket_dir)
        if account.pw_uid == 0:
            raise DisplayOwnerError(chosen, "root")
    else:
        account = _account()
    env = {"DISPLAY": chosen}
    for name in ("WAYLAND_DISPLAY", "XAUTHORITY", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS", "LANG"):
        if environ.get(name):
            env[name] = environ[name]
    return Desktop(
        user=account.pw_name,
        uid=account.pw_uid,
        gid=account.pw_gid,
        home=account.pw_dir,
        shell=account.pw_shell,
        env=env,
        source="explicit",
    )


def parse_environ(raw: bytes) -> dict[str, str]:
    """``/proc/<pid>/environ`` (NUL-separated ``NAME=value``) as a dict, only :data:`PASSED_ENV`."""
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.partition(b"=")
        text = name.decode("utf-8", "replace")
        if sep and text in PASSED_ENV:
            env[text] = value.decode("utf-8", "replace")
    return env


def _environ_of(pid: int) -> dict[str, str] | None:
    try:
        return parse_environ(Path(f"/proc/{pid}/environ").read_bytes())
    except OSError:
        return None


def _session_env(session: LogindSession, proc: Path = Path("/proc")) -> dict[str, str]:
    """The leader's environment if it names a display, else that of a process of the same
    session and user that does (the leader is often a login manager's worker without one)."""
    best = _environ_of(session.leader) or {}
    if "DISPLAY" in best or "WAYLAND_DISPLAY" in best:
        return best
    for entry in sorted(proc.iterdir(), key=lambda p: p.name) if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != session.uid:
                continue
        except OSError:
            continue
        env = _environ_of(int(entry.name))
        if (
            env
            and env.get("XDG_SESSION_ID") == session.session_id
            and ("DISPLAY" in env or "WAYLAND_DISPLAY" in env)
        ):
            return env
    fallback = dict(best)
    if session.display:
        fallback.setdefault("DISPLAY", session.display)
    runtime = f"/run/user/{session.uid}"
    if Path(runtime).is_dir():
        fallback.setdefault("XDG_RUNTIME_DIR", runtime)
        if session.type == "wayland" and Path(runtime, "wayland-0").exists():
            fallback.setdefault("WAYLAND_DISPLAY", "wayland-0")
        if Path(runtime, "bus").exists():
            fallback.setdefault("DBUS_SESSION_BUS_ADDRESS", f"unix:path={runtime}/bus")
    fallback.setdefault("XDG_SESSION_TYPE", session.type)
    return fallback


async def logind_sessions() -> list[LogindSession]:
    """Every session logind knows, with the properties :func:`choose` reads.

    Raises ``OSError``-like errors from dbus-fast when there is no system bus or no logind.
    """
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.login1",
                path="/org/freedesktop/login1",
                interface="org.freedesktop.login1.Manager",
                member="ListSessions",
            )
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            raise OSError(f"logind ListSessions failed: {getattr(reply, 'error_name', 'no reply')}")
        found: list[LogindSession] = []
        for session_id, uid, user, _seat, path in reply.body[0]:
            props = await bus.call(
                Message(
                    destination="org.freedesktop.login1",
                    path=path,
                    interface="org.freedesktop.DBus.Properties",
                    member="GetAll",
                    signature="s",
                    body=["org.freedesktop.login1.Session"],
                )
            )
            if props is None or props.message_type == MessageType.ERROR:
                continue
            values = {name: variant.value for name, variant in props.body[0].items()}
            found.append(
                LogindSession(
                    session_id=str(session_id),
                    uid=int(uid),
                    user=str(user),
                    type=str(values.get("Type", "")),
                    class_=str(values.get("Class", "")),
                    active=bool(values.get("Active", False)),
                    remote=bool(values.get("Remote", False)),
                    state=str(values.get("State", "")),
                    leader=int(values.get("Leader", 0)),
                    display=str(values.get("Display", "")),
                )
            )
        return found
    finally:
        bus.disconnect()


async def find(display: str | None, desktop_user: str | None) -> Desktop | None:
    """The desktop a session goes to now (explicit, else logind), or ``None``: nobody's there
    (or a display whose user cannot be told: never root by default, see :func:`explicit`)."""
    try:
        chosen = explicit(display, desktop_user)
    except DisplayOwnerError as exc:
        log.warning(
            "no session on display %s: %s (name the user with --desktop-user)",
            exc.display,
            "it belongs to root" if exc.problem == "root" else "its owner cannot be found",
        )
        return None
    if chosen is not None:
        return chosen
    try:
        session = choose(await logind_sessions())
    except Exception as exc:  # no system bus, no logind (containers): no desktop to find
        log.info("logind could not be asked for the desktop: %s", exc)
        return None
    if session is None:
        return None
    try:
        account = _account(session.user)
    except KeyError:
        log.warning("logind's session %s names user %r, who has no account", session.session_id, session.user)
        return None
    env = _session_env(session)
    if "DISPLAY" not in env and "WAYLAND_DISPLAY" not in env:
        log.info("session %s of %s: no display found in its environment", session.session_id, session.user)
        return None
    return Desktop(
        user=account.pw_name,
        uid=account.pw_uid,
        gid=account.pw_gid,
        home=account.pw_dir,
        shell=account.pw_shell,
        env=env,
        source=f"logind session {session.session_id} ({session.type})",
    )
