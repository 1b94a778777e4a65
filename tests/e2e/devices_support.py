"""Company devices end to end (issue 17): the people and the processes of ``test_devices.py``.

An administrator (two-factor sign-in enrolled, as the role requires) makes a device group and an
enrolment token over the REST API; IT runs ``veo agent enrol`` on the test display, whose notice
window the person at the device closes with the real mouse; ``veo agent service`` then keeps the
device's socket open and starts the session part on the same display when a technician connects.

Everything runs as the suite runs (root, inside the test namespace). The test display is root's,
so ``enrol`` and ``service`` are told the display and, explicitly, ``--desktop-user root`` (they
refuse to run a technician's session as root by default); only the test of that rule leaves it
out: a throwaway account (:class:`LocalAccount`) owns a display of its own, and the service finds
the account by itself. The session part inherits the service's standard error: its log lines
(the agent log contract of ``agent_log.py``) are read there; the enrolment notice is a detached
child that logs to the user's ``agent.log`` (``XDG_STATE_HOME``).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .agent_log import AgentLog
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, WaitTimeout, wait_for
from .stack import VEO, VeoServer, _clean_environment
from .xdisplay import Rect, XvfbDisplay

ADMIN_EMAIL = "devices.admin@example.com"
ADMIN_PASSWORD = "fleet admin, two factors 42"
LEAD_EMAIL = "lena.lead@example.com"
LEAD_NAME = "Lena Lead"
LEAD_PASSWORD = "unattended closets only 42"
#: The shared server's organization (``Settings.organization``'s default): the notice names it.
ORGANIZATION = "veo support"
#: The lead's capabilities in this module: the standard ones plus ``unattended``.
LEAD_CAPABILITIES = "view,control,clipboard,files,unattended"
#: The enrolment notice's window in the agent's log contract, and its one button.
NOTICE_WINDOW, NOTICE_BUTTON = "enrol-notice", "ok"

#: An admin's API token needs TOTP: enrol it straight in the server's database (the test stands in
#: for the admin scanning the QR code), then ask ``/api/v1/auth/token`` with the current code.
_ENROL_TOTP = """
import sys
from datetime import timedelta
import pyotp
from veo.config import Settings
from veo.server.auth import service, totp, totp_seal
from veo.server.db.base import utcnow
from veo.server.db.engine import Database

settings = Settings()
totp_seal.use(settings.data_dir)  # the data directory's key, as the server seals with it
db = Database(settings.effective_database_url)
with db.session() as s:
    user = service.get_by_email(s, sys.argv[1])
    secret = totp.start_enrolment(s, user).secret
    earlier = utcnow() - timedelta(seconds=30)
    assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
db.dispose()
print(secret)
"""


def expect(response: httpx.Response, status: int, what: str) -> Any:
    """The JSON of ``response``, after checking its status (the body is in the failure message)."""
    if response.status_code != status:
        raise AssertionError(f"{what} -> {response.status_code} (expected {status}): {response.text[:800]}")
    return response.json() if response.content else None


def items(payload: Any) -> list[dict[str, Any]]:
    """A list answer, bare or wrapped in ``{"items": [...]}``."""
    if isinstance(payload, dict) and "items" in payload:
        return list(payload["items"])
    assert isinstance(payload, list), payload
    return payload


def run_python(server: VeoServer, script: str, *args: str) -> str:
    """``python -c script args`` with the server's environment (its data directory)."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"helper script failed (rc={result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class People:
    """Bearer tokens: the administrator, the suite's technician and a lead allowed unattended."""

    admin: str
    technician: str
    lead: str


def create_people(server: VeoServer) -> People:
    """Make the admin (TOTP enrolled) and the lead (role ``lead`` with ``unattended``)."""
    import pyotp

    server.admin(
        "create-user", ADMIN_EMAIL, "--name", "Dana Admin", "--role", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    secret = run_python(server, _ENROL_TOTP, ADMIN_EMAIL).strip().splitlines()[-1]
    server.admin(
        "create-user", LEAD_EMAIL, "--name", LEAD_NAME, "--role", "lead", "--password-stdin",
        stdin=LEAD_PASSWORD + "\n",
    )  # fmt: skip
    admin = expect(
        server.api(
            "POST",
            "/api/v1/auth/token",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "totp": pyotp.TOTP(secret).now()},
        ),
        200,
        "POST /api/v1/auth/token (admin)",
    )["access_token"]
    lead = expect(
        server.api("POST", "/api/v1/auth/token", json={"email": LEAD_EMAIL, "password": LEAD_PASSWORD}),
        200,
        "POST /api/v1/auth/token (lead)",
    )["access_token"]
    return People(admin=admin, technician=server.token(), lead=lead)


class DevicesApi:
    """The REST calls of the issue, each checked for the status it must answer."""

    def __init__(self, server: VeoServer, people: People) -> None:
        self.server = server
        self.people = people

    def create_group(self, name: str, policy: str, roles: list[str]) -> dict[str, Any]:
        body = {"name": name, "policy": policy, "roles": roles, "description": "end-to-end test devices"}
        return dict(
            expect(
                self.server.api("POST", "/api/v1/admin/device-groups", token=self.people.admin, json=body),
                201,
                "POST /api/v1/admin/device-groups",
            )
        )

    def set_policy(self, group: dict[str, Any], policy: str) -> None:
        """The admin changes the group's policy (the tests need ask, notify and unattended)."""
        body = {
            "name": group["name"],
            "policy": policy,
            "roles": group["roles"],
            "description": group.get("description", ""),
        }
        response = self.server.api(
            "PUT", f"/api/v1/admin/device-groups/{group['id']}", token=self.people.admin, json=body
        )
        expect(response, 200, f"PUT /api/v1/admin/device-groups/{group['id']} policy={policy}")

    def create_token(self, group_id: int, label: str, unattended: bool) -> str:
        body = {"group_id": group_id, "label": label, "unattended": unattended, "ttl_hours": 1}
        created = expect(
            self.server.api("POST", "/api/v1/admin/enrolment-tokens", token=self.people.admin, json=body),
            201,
            "POST /api/v1/admin/enrolment-tokens",
        )
        token: str = created["token"]
        return token

    def devices(self, token: str | None = None) -> list[dict[str, Any]]:
        return items(
            expect(
                self.server.api("GET", "/api/v1/devices", token=token or self.people.technician),
                200,
                "GET /api/v1/devices",
            )
        )

    def device(self, device_id: str, token: str | None = None) -> dict[str, Any] | None:
        return next((d for d in self.devices(token) if d["id"] == device_id), None)

    def connect(self, device_id: str, token: str, reason: str, mode: str | None = None) -> httpx.Response:
        """``POST /api/v1/devices/{id}/sessions``; the caller checks the answer."""
        body: dict[str, Any] = {"reason": reason}
        if mode is not None:
            body["mode"] = mode
        return self.server.api("POST", f"/api/v1/devices/{device_id}/sessions", token=token, json=body)

    def revoke(self, device_id: str) -> None:
        expect(
            self.server.api("POST", f"/api/v1/devices/{device_id}/revoke", token=self.people.admin),
            200,
            f"POST /api/v1/devices/{device_id}/revoke",
        )

    def session(self, session_id: str) -> dict[str, Any]:
        return dict(
            expect(
                self.server.api("GET", f"/api/v1/sessions/{session_id}", token=self.people.admin),
                200,
                f"GET /api/v1/sessions/{session_id}",
            )
        )

    def audit(self, **query: str) -> list[dict[str, Any]]:
        """Every audit event matching ``query`` (``action``, ``session_id``), read as the admin."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {**query, "page": str(page), "per_page": "500"}
            payload = expect(
                self.server.api("GET", "/api/v1/audit", token=self.people.admin, params=params),
                200,
                f"GET /api/v1/audit {query}",
            )
            found.extend(payload["items"])
            if len(found) >= payload["total"] or not payload["items"]:
                return found
            page += 1


# ---------------------------------------------------------------------------- the display


def visible_windows(display: XvfbDisplay) -> dict[str, str]:
    """Mapped top-level windows that carry a name: window id -> name (``xdotool search``)."""
    try:
        ids = display.xdotool("search", "--onlyvisible", "--name", ".").split()
    except RuntimeError:  # xdotool exits 1 when nothing matches
        return {}
    names = {}
    for window in ids:
        try:
            names[window] = display.xdotool("getwindowname", window).strip()
        except RuntimeError:  # gone between the search and the question
            continue
    return names


def has_window(display: XvfbDisplay, title_part: str) -> str | None:
    """The name of a visible window whose name contains ``title_part`` (case-insensitive)."""
    wanted = title_part.lower()
    return next((name for name in visible_windows(display).values() if wanted in name.lower()), None)


def drawn(display: XvfbDisplay, rect: Rect) -> bool:
    """Something is drawn across the middle of ``rect``: not the bare black root (the test display
    has no wallpaper), so a window really is there, mapped and painted."""
    import mss

    with mss.MSS(display=display.display) as grabber:
        shot = grabber.grab({"left": rect.x, "top": rect.y, "width": rect.width, "height": rect.height})
    return any(pixel != (0, 0, 0) for pixel in shot.pixels[len(shot.pixels) // 2])


# ---------------------------------------------------------------------------- the device's side


def _device_env(display: XvfbDisplay, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    inherited = {
        k: v for k, v in _clean_environment().items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")
    }
    return {
        **inherited,
        # the desktop's language is the session part's (LaunchSpec.language is empty): English here
        "LANG": "en_US.UTF-8",
        "DISPLAY": display.display,
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "VEO_AGENT_HISTORY": str(home / "history.jsonl"),
    }


@dataclass
class Enrolment:
    """What ``veo agent enrol`` did: its exit code and output, and the notice the person saw."""

    returncode: int
    output: str
    notice_title: str | None
    notice_text: str


class Logged(AgentLog):
    """The agent log contract over several files: a ``--log-file`` and the process's own output
    (where the children it starts on the desktop write: they inherit its standard error)."""

    def __init__(self, *paths: Path) -> None:
        super().__init__(paths[0])
        self.paths = paths

    def lines(self) -> list[str]:
        found: list[str] = []
        for path in self.paths:
            try:
                found.extend(path.read_text(errors="replace").splitlines())
            except FileNotFoundError:
                continue
        return found


class EnrolRun:
    """``veo agent enrol --server URL --token T --state-dir DIR`` on the test display."""

    def __init__(
        self,
        netns: NetworkNamespace,
        display: XvfbDisplay,
        server: VeoServer,
        token: str,
        state_dir: Path,
        workdir: Path,
        logs: Logs,
        name: str = "enrol",
        device_name: str = "",
    ) -> None:
        """``name``: of the log files; ``device_name``: IT's ``--name`` (default: the host name)."""
        self.display = display
        self.logs = logs
        output = workdir / f"{name}-output.log"
        home = workdir / f"{name}-home"
        # the notice is a detached child with its own log: the user's agent.log (XDG_STATE_HOME)
        self.log = Logged(output, home / ".local" / "state" / "veo" / "agent.log")
        self.windows_before = set(visible_windows(display))
        # the token on standard input, as IT should give it (never on a command line others read);
        # the test display is root's, and only an explicit --desktop-user root accepts that
        argv = [*VEO, "agent", "enrol", "--server", server.url, "--token", "-"]
        argv += ["--name", device_name] if device_name else []
        argv += ["--state-dir", str(state_dir), "--display", display.display, "--desktop-user", "root"]
        argv += ["--lang", "en", "--no-start"]
        self.process = logs.add(
            LoggedProcess(
                f"veo agent enrol ({name})",
                netns.command(argv),
                output,
                env=_device_env(display, home),
                stdin_text=token + "\n",
            )
        )

    def new_window(self) -> str | None:
        """The name of a window that appeared since the enrolment started."""
        for window, name in visible_windows(self.display).items():
            if window not in self.windows_before and name:
                return name
        return None

    def close_notice(self, timeout: float = 60.0) -> str:
        """Wait for the notice window, click its button as the person would; return its title.

        The button's rectangle comes from the log (``ui-geometry enrol-notice``), like every
        window of the agent's; the window itself is found on the display by its name.
        """
        title = wait_for("the enrolment notice window on the display", self.new_window, timeout, self.logs)
        layout = wait_for(
            "the notice to log `ui-geometry enrol-notice`",
            lambda: self.log.geometry(NOTICE_WINDOW),
            30,
            self.logs,
        )
        self.display.click_rect(layout[NOTICE_BUTTON])
        wait_for(
            "the notice window to close",
            lambda: title not in visible_windows(self.display).values(),
            30,
            self.logs,
        )
        return title

    def finish(self, timeout: float = 60.0) -> Enrolment:
        wait_for("veo agent enrol to exit", lambda: not self.process.running(), timeout, self.logs)
        return Enrolment(self.process.proc.returncode, self.process.text(), None, "")


def enrol_with_notice(
    netns: NetworkNamespace,
    display: XvfbDisplay,
    server: VeoServer,
    token: str,
    state_dir: Path,
    workdir: Path,
    logs: Logs,
    name: str = "enrol",
    device_name: str = "",
) -> Enrolment:
    """Enrol, answer the notice as the person at the device would, and wait for the command."""
    run = EnrolRun(netns, display, server, token, state_dir, workdir, logs, name, device_name)
    try:
        title = run.close_notice()
        outcome = run.finish()
    finally:
        run.process.stop()
    # what the window itself said (the notice logs its whole text once it is shown)
    shown = [line for line in run.log.lines() if "enrolment notice shown" in line]
    return Enrolment(outcome.returncode, outcome.output, title, "\n".join(shown))


def enrol_refused(
    netns: NetworkNamespace,
    display: XvfbDisplay,
    server: VeoServer,
    token: str,
    state_dir: Path,
    workdir: Path,
    logs: Logs,
    name: str = "enrol-again",
) -> Enrolment:
    """An enrolment that must be refused: no notice, a non-zero exit (checked by the caller)."""
    run = EnrolRun(netns, display, server, token, state_dir, workdir, logs, name)
    try:
        outcome = run.finish()
    finally:
        run.process.stop()
    return Enrolment(outcome.returncode, outcome.output, run.new_window(), "")


class SessionLog(AgentLog):
    """The agent log lines of one device session: those after the first line naming it.

    The service's session parts write into one file; a session's lines start where the
    service logged its request (the session id).
    """

    def __init__(self, path: Path, session_id: str) -> None:
        super().__init__(path)
        self.session_id = session_id

    def lines(self) -> list[str]:
        lines = super().lines()
        start = next((i for i, line in enumerate(lines) if self.session_id in line), None)
        return [] if start is None else lines[start:]


@dataclass(frozen=True)
class Runner:
    """How to run ``veo``: the argv before ``agent ...`` and what its environment needs."""

    veo: list[str]
    env: dict[str, str]


class DeviceService:
    """``veo agent service --state-dir DIR --display :N`` (the system unit's command) in the namespace."""

    def __init__(
        self,
        netns: NetworkNamespace,
        display: XvfbDisplay,
        state_dir: Path,
        workdir: Path,
        name: str = "service",
        desktop_user: str | None = "root",
        runner: Runner | None = None,
    ) -> None:
        """``desktop_user``: ``--desktop-user`` (``None``: left out, so the root service runs
        sessions as the owner of the display's socket); ``runner``: the Python that runs it (and
        so its session parts), for a desktop user who cannot run the suite's own."""
        self.display = display
        self.state_dir = state_dir
        self.output = workdir / f"{name}-output.log"
        self.log = AgentLog(self.output)
        runner = runner or Runner(list(VEO), {})
        argv = [*runner.veo, "agent", "service", "--state-dir", str(state_dir), "--display", display.display]
        argv += ["--desktop-user", desktop_user] if desktop_user is not None else []
        argv += ["--lang", "en"]
        self.process = LoggedProcess(
            f"veo agent service ({name})",
            netns.command(argv),
            self.output,
            env={**_device_env(display, workdir / f"{name}-home"), **runner.env},
        )

    def session_log(self, session_id: str) -> SessionLog:
        """Where the session part launched for ``session_id`` logs (see the module docstring)."""
        return SessionLog(self.output, session_id)

    def contains(self, text: str) -> bool:
        return self.log.contains(text)

    def state_files(self) -> list[str]:
        return sorted(p.name for p in self.state_dir.iterdir()) if self.state_dir.exists() else []

    def stop(self) -> None:
        self.process.stop()


def wait_online(api: DevicesApi, device_id: str, logs: Logs, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the device list says the device is connected."""

    def probe() -> dict[str, Any] | None:
        device = api.device(device_id, api.people.admin)
        return device if device is not None and device.get("online") else None

    try:
        return wait_for(f"device {device_id} to be online", probe, timeout, logs)
    except WaitTimeout as exc:
        raise WaitTimeout(f"{exc}\nlast seen: {api.device(device_id, api.people.admin)}") from None


# ---------------------------------------------------------------------------- a person's account


class LocalAccount:
    """A throwaway unprivileged account (``useradd -m``), removed with its home (``userdel -r``):
    the person signed in at the device, whose display the root service must find by itself."""

    def __init__(self, name: str) -> None:
        self.name = name
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
        entry = pwd.getpwnam(name)
        self.uid, self.gid, self.home = entry.pw_uid, entry.pw_gid, Path(entry.pw_dir)
        self.groups = sorted(set(os.getgrouplist(name, entry.pw_gid)))

    def run(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """``argv`` as this account (``runuser``), with exactly ``env`` (plus the account's HOME)."""
        return subprocess.run(
            ["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), *argv],
            capture_output=True, text=True, timeout=60, check=False, cwd="/",
        )  # fmt: skip

    def remove(self) -> None:
        # -f: a process of the account that outlived its test must not keep the account around
        subprocess.run(["userdel", "-r", "-f", self.name], capture_output=True, timeout=30, check=False)


class AsAccount(NetworkNamespace):
    """The suite's namespace, with commands run as ``account`` (``runuser``): an ``XvfbDisplay``
    started through it is that account's display (its ``/tmp/.X11-unix/X<N>`` is theirs)."""

    def __init__(self, netns: NetworkNamespace, account: LocalAccount) -> None:
        super().__init__(netns.name)
        self.account = account

    def command(self, argv: Sequence[str]) -> list[str]:
        return super().command(["runuser", "-u", self.account.name, "--", *argv])


@dataclass(frozen=True)
class ProcessIdentity:
    """Who a process is, from ``/proc/<pid>/status`` and ``/proc/<pid>/environ``."""

    pid: int
    uids: tuple[int, ...]
    gids: tuple[int, ...]
    groups: tuple[int, ...]
    home: str


def children_running(parent: int, marker: str) -> list[ProcessIdentity]:
    """The processes whose parent is ``parent`` and whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = dict(
                line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line
            )
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker not in cmdline or int(status["PPid"]) != parent:
            continue
        home = next((v[5:].decode() for v in environ if v.startswith(b"HOME=")), "")
        found.append(
            ProcessIdentity(
                pid=int(entry.name),
                uids=tuple(int(v) for v in status["Uid"].split()),
                gids=tuple(int(v) for v in status["Gid"].split()),
                groups=tuple(sorted(int(v) for v in status["Groups"].split())),
                home=home,
            )
        )
    return found


def runner_for(account: LocalAccount) -> Runner | None:
    """A Python that ``account`` can run ``veo``'s session part with: the suite's own, else the
    system's of the same version with the suite's packages on ``PYTHONPATH`` (a virtualenv made
    from an interpreter under root's home, ``/root`` being 0700, is root's alone); ``None`` if
    neither works. A real installation's interpreter is everyone's, as the .deb's is."""
    probe = "import tkinter, veo.agent.device.session_part"
    candidates = [Runner(list(VEO), {})]
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if system.exists():
        import site

        import veo

        path = [str(Path(veo.__file__).resolve().parent.parent), *site.getsitepackages()]
        candidates.append(Runner([str(system), "-m", "veo"], {"PYTHONPATH": os.pathsep.join(path)}))
    for runner in candidates:
        env = {"HOME": str(account.home), "PATH": "/usr/bin:/bin", **runner.env}
        if account.run([runner.veo[0], "-c", probe], env).returncode == 0:
            return runner
    return None


def root_display(netns: NetworkNamespace, display: str, log_path: Path) -> LoggedProcess:
    """Root's Xvfb on ``display`` (a number just given up: a greeter taking over the screen after
    the person signed out), ready for clients."""
    process = LoggedProcess(
        f"xvfb (root's, {display})",
        netns.command(["Xvfb", display, "-screen", "0", "1280x720x24", "-nolisten", "tcp",
                       "-nolisten", "local", "-noreset", "-br"]),
        log_path,
    )  # fmt: skip

    def ready() -> bool:
        if not process.running():
            raise AssertionError(f"Xvfb {display} exited: {process.tail()}")
        env = {**os.environ, "DISPLAY": display}
        return (
            subprocess.run(["xdpyinfo"], env=env, capture_output=True, check=False, timeout=10).returncode
            == 0
        )

    wait_for(f"root's Xvfb {display} to accept clients", ready, 30)
    return process
