"""Install each extra on its own, as a user does, and check that what it promises runs.

The development venv installs every extra at once (``.[server,agent,test]``), so a runtime import
that only the ``test`` extra provides goes unnoticed there: that is how ``make run`` once crashed
on a fresh clone for want of httpx. This check builds a fresh venv per extra from nothing but
``pip install -c constraints.txt '.[EXTRA]'`` (non-editable, as a user installs it) and then:

- ``server``: ``veo admin init`` prepares a throwaway data directory (as ``make run`` does),
  ``veo server`` starts on a free loopback port and must answer ``/readyz`` with 200, and
  ``veo doctor`` must find nothing to do there; every ``veo.server`` module must import.
- ``agent``: every ``veo.agent`` module must import without an X display (no ``DISPLAY``: the
  modules that talk to X may import their libraries but must not need a display to load), none
  of them may pull in ``veo.server``, and ``veo agent --help`` and ``veo --help`` must exit 0.

The venvs are rebuilt on every run (a stale one could hold a package the extra no longer
installs); pip's download and wheel cache keeps that to a minute or two. Usage::

    python3 tests/install_check.py [--build-dir build/install-check] [--only server|agent]

Exit status 0 when both work, 1 with one line per failure (and the output that shows why).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("server", "agent")
READY_TIMEOUT_S = 90.0
COMMAND_TIMEOUT_S = 600.0
#: Variables of the caller's environment that would let the fresh venv see something the user's
#: would not (the development venv, a source path, a database the developer set up).
LEAKY = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE")

#: Run inside the venv under test: import every module of a package, report the ones that fail.
IMPORT_ALL = """
import importlib, pkgutil, sys, traceback
package, forbidden = sys.argv[1], sys.argv[2:]
root = importlib.import_module(package)
failed = {}
names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, package + ".")]
for name in names:
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=3).strip().splitlines()[-1]
pulled = sorted(m for m in forbidden if m in sys.modules)
import json
print(json.dumps({"modules": len(names), "failed": failed, "pulled": pulled}))
"""


class CheckFailed(Exception):
    """One promise of an extra is broken; the message says which and shows the evidence."""


@dataclass
class Outcome:
    extra: str
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def clean_environment(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in LEAKY and not k.startswith("VEO_") and k != "DISPLAY"
    }
    env.update(extra)
    return env


def run(args: list[str], *, env: dict[str, str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; a non-zero exit is a :class:`CheckFailed` naming ``what``."""
    try:
        done = subprocess.run(
            args, env=env, cwd=cwd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"{what}: still running after {COMMAND_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        raise CheckFailed(f"{what}: exit status {done.returncode}\n{tail(done.stdout + done.stderr)}")
    return done


def tail(text: str, lines: int = 25) -> str:
    kept = text.strip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept)


def fresh_venv(build_dir: Path, extra: str, work: Path) -> Path:
    """A new venv holding only ``veo[extra]``, installed from this source tree like a user does."""
    venv = build_dir / extra
    shutil.rmtree(venv, ignore_errors=True)
    env = clean_environment()
    run([sys.executable, "-m", "venv", str(venv)], env=env, cwd=work, what=f"creating the {extra} venv")
    # setuptools builds in ./build/lib and would put a module deleted since the last build into the
    # wheel; a user's fresh clone has no such leftovers.
    for stale in (ROOT / "build").glob("lib*"):
        shutil.rmtree(stale, ignore_errors=True)
    run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "-c",
            str(ROOT / "constraints.txt"),
            f"{ROOT}[{extra}]",
        ],
        env=env,
        cwd=work,
        what=f"pip install '.[{extra}]'",
    )
    return venv


def import_all(venv: Path, package: str, work: Path, forbidden: tuple[str, ...] = ()) -> int:
    """Import every module of ``package`` inside ``venv``; returns how many were imported."""
    done = run(
        [str(venv / "bin" / "python"), "-c", IMPORT_ALL, package, *forbidden],
        env=clean_environment(),
        cwd=work,
        what=f"importing {package}",
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    problems = [f"    {name}: {error}" for name, error in sorted(result["failed"].items())]
    problems += [
        f"    importing {package} loaded {name}, which this extra must not need" for name in result["pulled"]
    ]
    if problems:
        raise CheckFailed(f"{package} does not import with only its extra installed:\n" + "\n".join(problems))
    modules: int = result["modules"]
    return modules


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ready_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def server_answers_readyz(venv: Path, work: Path) -> str:
    """``veo admin init`` then ``veo server`` on a free port; ``/readyz`` must answer 200 and
    ``veo doctor`` exit 0 (SQLite, no Redis, no TURN: notes only)."""
    data = work / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = clean_environment(VEO_DATA_DIR=str(data), VEO_PUBLIC_URL=base)
    veo = str(venv / "bin" / "veo")
    run([veo, "admin", "init"], env=env, cwd=work, what="veo admin init")
    log_path = work / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [veo, "server", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            status = wait_ready(f"{base}/readyz", server)
            # the doctor's own dependencies (aioice, httpx, redis) come with the server extra alone
            doctor = subprocess.run(
                [veo, "doctor"], env=env, cwd=work, capture_output=True, text=True, timeout=120, check=False
            )
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    output = log_path.read_text(errors="replace")
    if status != 200:
        exited = server.returncode
        why = f"exited with status {exited}" if status is None else f"/readyz answered {status}"
        raise CheckFailed(f"veo server did not become ready ({why})\n{tail(output)}")
    if doctor.returncode != 0:
        raise CheckFailed(
            f"veo doctor found something to do on a fresh install:\n{doctor.stdout}{doctor.stderr}"
        )
    return f"veo server answered {base}/readyz with 200, and veo doctor found nothing to do"


def wait_ready(url: str, server: subprocess.Popen[bytes]) -> int | None:
    """The status of ``url`` once the server answers (None if it died or never answered)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    status: int | None = None
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return None
        status = ready_status(url)
        if status == 200:
            return status
        time.sleep(0.3)
    return status


def check_server(venv: Path, work: Path) -> list[str]:
    modules = import_all(venv, "veo.server", work)
    return [f"all {modules} veo.server modules import", server_answers_readyz(venv, work)]


def check_agent(venv: Path, work: Path) -> list[str]:
    modules = import_all(venv, "veo.agent", work, forbidden=("veo.server", "fastapi", "sqlalchemy"))
    env = clean_environment()
    veo = str(venv / "bin" / "veo")
    run([veo, "agent", "--help"], env=env, cwd=work, what="veo agent --help")
    run([veo, "--help"], env=env, cwd=work, what="veo --help")
    return [
        f"all {modules} veo.agent modules import without a display or the server's packages",
        "veo agent --help and veo --help exit 0",
    ]


CHECKS: dict[str, Callable[[Path, Path], list[str]]] = {"server": check_server, "agent": check_agent}


def check_extra(build_dir: Path, extra: str) -> Outcome:
    outcome = Outcome(extra)
    with tempfile.TemporaryDirectory(prefix=f"veo-install-{extra}-") as folder:
        work = Path(folder)
        try:
            venv = fresh_venv(build_dir, extra, work)
            outcome.passed.append(f"pip install -c constraints.txt '.[{extra}]' in a fresh venv")
            outcome.passed += CHECKS[extra](venv, work)
        except CheckFailed as exc:
            outcome.failures.append(str(exc))
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / "install-check")
    parser.add_argument("--only", choices=EXTRAS, action="append", help="check only this extra (repeatable)")
    args = parser.parse_args(argv)
    build_dir: Path = args.build_dir.resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    failed = False
    for extra in args.only or EXTRAS:
        started = time.monotonic()
        outcome = check_extra(build_dir, extra)
        took = time.monotonic() - started
        for line in outcome.passed:
            print(f"install check [{extra}] ok: {line}")
        for line in outcome.failures:
            failed = True
            print(f"install check [{extra}] FAILED: {line}", file=sys.stderr)
        print(f"install check [{extra}]: {'failed' if outcome.failures else 'passed'} in {took:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
