"""Start a program of the agent on the user's desktop, as that user, with its input on stdin.

Used for the session part (``--device-session``, a :class:`LaunchSpec` on stdin) and for the
enrolment notice (``--device-notice``). What the child needs to know goes through its standard
input only: the join code in a command line or an environment is readable by other programs of the
same user (``ps``, ``/proc/<pid>/environ``).

As root the child runs as the desktop's user (``user=``/``group=``/``extra_groups=``, ``HOME``,
``USER``, ``LOGNAME``, ``SHELL`` of that account) with only the desktop's session variables
(``desktop_seat.PASSED_ENV``) and a plain ``PATH``; a service that is not root starts it as
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

from veo.agent.device.desktop_seat import Desktop

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def agent_command(*flags: str) -> list[str]:
    """How to run this agent again: the one-file build is its own program, else ``-m veo agent``."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *flags]
    return [sys.executable, "-m", "veo", "agent", *flags]


def child_env(desktop: Desktop, inherited: Mapping[str, str] | None = None) -> dict[str, str]:
    """The child's whole environment: the account's basics and the desktop's session variables."""
    inherited = os.environ if inherited is None else inherited
    env = {
        "HOME": desktop.home,
        "USER": desktop.user,
        "LOGNAME": desktop.user,
        "SHELL": desktop.shell or "/bin/sh",
        "PATH": SAFE_PATH,
    }
    # what the agent's own configuration reads (never set by the user in a root service's
    # environment, only by whoever wrote the unit or ran the test)
    for name in ("VEO_AGENT_CA_FILE", "VEO_AGENT_BACKEND", "PYTHONPATH", "VIRTUAL_ENV"):
        if inherited.get(name):
            env[name] = inherited[name]
    if desktop.uid == os.getuid():
        # no change of user (a test, a kiosk running the service as its own user): where this
        # user keeps its log and history may be moved, as for any ``veo agent``. A root child
        # only into a place only root can change: under ``su``/``sudo -E`` these still name the
        # invoking user's home, where a root program must not open, rotate or append files (a
        # symbolic link planted there would redirect its writes; review R1-14)
        for name in ("XDG_STATE_HOME", "XDG_DATA_HOME", "VEO_AGENT_HISTORY"):
            value = inherited.get(name)
            if value and (desktop.uid != 0 or only_root_changes(value)):
                env[name] = value
    env.update(desktop.env)
    return env


def only_root_changes(path: str) -> bool:
    """Whether nobody but root can change where ``path`` leads: absolute, and every part of it
    that exists (as written and resolved) is root's and not writable by others (a sticky
    directory such as ``/tmp`` is fine: others cannot rename or remove root's entries there)."""
    if not os.path.isabs(path):
        return False
    for candidate in {Path(path), Path(os.path.realpath(path))}:
        for part in (candidate, *candidate.parents):
            try:
                info = os.lstat(part)
            except FileNotFoundError:
                continue  # root creates it, in a parent checked below
            except OSError:
                return False
            if info.st_uid != 0:
                return False
            if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
                return False
    return True


class SwitchUser(TypedDict, total=False):
    user: int
    group: int
    extra_groups: list[int]


def switch_user_kwargs(desktop: Desktop, running_as_root: bool | None = None) -> SwitchUser:
    """``user``/``group``/``extra_groups`` for the child when the service is root (else none)."""
    root = os.geteuid() == 0 if running_as_root is None else running_as_root
    if not root or desktop.uid == 0:
        return {}
    return {
        "user": desktop.uid,
        "group": desktop.gid,
        "extra_groups": os.getgrouplist(desktop.user, desktop.gid),
    }


async def start(desktop: Desktop, argv: list[str], stdin_data: bytes) -> asyncio.subprocess.Process:
    """Start ``argv`` on ``desktop``, write ``stdin_data`` to it and close its stdin.

    Its standard error is the service's (the journal).

    ``OSError`` when it could not start (no such user, no program, no permission).
    """
    cwd = desktop.home if os.path.isdir(desktop.home) else "/"  # noqa: ASYNC240 (one stat)
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        env=child_env(desktop),
        cwd=cwd,
        start_new_session=True,
        **switch_user_kwargs(desktop),
    )
    assert process.stdin is not None
    try:
        process.stdin.write(stdin_data)
        await process.stdin.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass  # it ended at once; its exit status says why
    finally:
        process.stdin.close()
    return process


def start_detached(desktop: Desktop, argv: list[str], stdin_data: bytes) -> subprocess.Popen[bytes]:
    """Like :func:`start`, without an event loop and never killed with its caller: the enrolment
    notice stays on the screen after ``veo agent enrol`` has ended (an asyncio child would be
    killed when its loop's transport closes). Its output goes nowhere (its log file has it)."""
    cwd = desktop.home if os.path.isdir(desktop.home) else "/"
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=child_env(desktop),
        cwd=cwd,
        start_new_session=True,
        **switch_user_kwargs(desktop),
    )
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # it ended at once: nothing to tell it
        process.stdin.write(stdin_data)
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    return process
