"""Where a device keeps its enrolment, and how it is written and forgotten.

The state directory (``--state-dir``; else ``VEO_AGENT_STATE_DIR``; else ``/var/lib/veo-agent``
for root, ``$XDG_STATE_HOME/veo-agent`` for anyone else) holds:

* ``device.key``: the Ed25519 private key, 0600, never anywhere else;
* ``device.json``: what the server said at enrolment (:class:`DeviceConfig`), 0600, and the
  policy the person at the computer was last told (``told_policy``: the ceiling the device keeps);
* ``ca.pem``: a copy of the certificate authority IT named at enrolment (``--ca-file``), 0644
  and owned by whoever runs the service: the file IT typed may sit in a user's home, and that
  user could swap it for their own authority later (review R1-11);
* ``history.jsonl``: the device's own history (``device_history.py``), 0644 so the person at the
  computer can read it with ``veo agent --history``.

Every private file is written to a temporary file created 0600 in the same directory, synced, then
renamed over the old one: a crash leaves the old file or the new one, and the key is never
readable by others, not even for an instant. Forgetting deletes the key and the configuration;
the history stays (with an ``unenrolled`` line) so the user can still see what happened.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from veo.protocol.device import DeviceId, DevicePolicy

STATE_DIR_ENV = "VEO_AGENT_STATE_DIR"
SYSTEM_STATE_DIR = Path("/var/lib/veo-agent")
KEY_NAME = "device.key"
CONFIG_NAME = "device.json"
HISTORY_NAME = "history.jsonl"
CA_NAME = "ca.pem"
#: A certificate authority file larger than this is not one IT meant (a bundle is ~200 KiB).
CA_MAX_BYTES = 1024 * 1024
#: How much each policy lets a technician do without the person at the computer, gentlest first.
POLICY_RANK: dict[DevicePolicy, int] = {"ask": 0, "notify": 1, "unattended": 2}


class StateError(Exception):
    """The state directory cannot be used (message for people set by the caller)."""


class DeviceConfig(BaseModel):
    """``device.json``: the enrolment as the device keeps it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    server: Annotated[str, Field(max_length=300)]
    device_id: DeviceId
    device_name: str
    organization: str
    group: str
    policy: DevicePolicy
    unattended: bool
    enrolled_at: str
    enrolled_by: str
    ca_file: str = ""
    language: str = ""
    #: The most the person at the computer was told a technician may do (the enrolment notice,
    #: then each notice of a change). ``None`` in files written before it existed: what the
    #: enrolment notice said (:meth:`told`).
    told_policy: DevicePolicy | None = None

    def told(self) -> DevicePolicy:
        """The policy the person at the computer was last told: the device's ceiling."""
        return self.told_policy or effective_policy(self.policy, self.unattended)


def effective_policy(policy: DevicePolicy, unattended: bool) -> DevicePolicy:
    """What ``policy`` allows on a device enrolled with (or without) ``unattended``: a group set
    to ``unattended`` on a device not enrolled for it allows ``notify`` at most."""
    return "notify" if policy == "unattended" and not unattended else policy


def stronger(policy: DevicePolicy, than: DevicePolicy) -> bool:
    return POLICY_RANK[policy] > POLICY_RANK[than]


def is_root() -> bool:
    return os.geteuid() == 0


def user_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "veo-agent"


def default_state_dir() -> Path:
    """``VEO_AGENT_STATE_DIR``, else the system's directory for root, the user's for others."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    return SYSTEM_STATE_DIR if is_root() else user_state_dir()


def state_dir(explicit: str | None) -> Path:
    return Path(explicit) if explicit else default_state_dir()


def ensure_dir(directory: Path) -> None:
    """Create the directory (0755: the history inside is for the user to read; the private
    files carry their own 0600)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o755)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` with mode 0600 from the first byte on."""
    ensure_dir(path.parent)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mkstemp: 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename is durable once the directory is synced
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_public(path: Path, data: bytes) -> None:
    """Like :func:`write_private`, readable by everyone (0644) once in place (the CA copy)."""
    write_private(path, data)
    os.chmod(path, 0o644)


def write_config(directory: Path, config: DeviceConfig) -> None:
    write_private(directory / CONFIG_NAME, (config.model_dump_json(indent=2) + "\n").encode())


def read_config(directory: Path) -> DeviceConfig | None:
    """The enrolment, or ``None`` when this computer is not enrolled (no file).

    ``StateError`` when the file is there but unreadable or damaged: that is not "not enrolled".
    """
    path = directory / CONFIG_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: {exc.strerror or exc}") from None
    try:
        return DeviceConfig.model_validate_json(raw)
    except ValidationError as exc:
        raise StateError(f"{path}: {exc.error_count()} problem(s)") from None


def is_enrolled(directory: Path) -> bool:
    return (directory / CONFIG_NAME).exists() or (directory / KEY_NAME).exists()


def forget(directory: Path) -> None:
    """Delete the key, the configuration and the CA copy (the history stays). Missing files are fine."""
    for name in (KEY_NAME, CONFIG_NAME, CA_NAME):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
