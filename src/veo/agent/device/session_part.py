"""``veo agent --device-session``: the session part a managed device's service starts (issue 17).

The service (``veo agent service``, root) accepted a technician's request after checking it
against its own enrolment and starts this part as the desktop's user, in that user's graphical
session, with a :class:`~veo.protocol.device.LaunchSpec` as JSON on the standard input (never in
the arguments or the environment, which other local programs may read). This part joins
``/ws/agent`` with the spec's code like any agent and runs the ordinary agent app, told through
a :class:`~veo.agent.device_mode.DeviceContext` that the device's service started it: only then
may a notify or unattended policy start a session without the user's Allow
(``agent/device_mode.py``).

``main(args) -> int``: what the app returns (0 once the session ended), 2 for a launch
description that cannot be used (said in one sentence on standard error, never a traceback:
whoever reads the service's log reads it), 1 when no window can be shown.
"""

from __future__ import annotations

import argparse
import logging
import signal
import ssl
import sys
from collections.abc import Callable
from typing import BinaryIO

from pydantic import ValidationError

from veo.agent import backend, encoder
from veo.agent.device_mode import DeviceContext
from veo.agent.logs import install_crash_handlers, report_crash, setup_logging
from veo.agent.session import configure_updates
from veo.agent.sysinfo import parse_programs
from veo.agent.tls import CaFileError, client_context, trust_the_system_everywhere
from veo.agent.urls import ServerUrlError, agent_ws_url
from veo.i18n import gettext_for, normalize, system_language
from veo.protocol.device import LaunchSpec

log = logging.getLogger("veo.agent")

#: A launch description is a few hundred bytes; more than this is not one.
MAX_SPEC_BYTES = 64 * 1024


class SpecProblem(Exception):
    """The standard input holds no usable launch description; ``str()`` is the sentence."""


def read_spec(stream: BinaryIO, language: str) -> LaunchSpec:
    """The service's :class:`LaunchSpec` from ``stream``, or :class:`SpecProblem` saying what is wrong.

    Read as bytes: JSON is UTF-8 whatever the desktop's locale says (a reason may name "García")."""
    _ = gettext_for(language).gettext
    try:
        raw = stream.read(MAX_SPEC_BYTES + 1)
    except OSError:
        raise SpecProblem(_("The session description could not be read from standard input.")) from None
    if not raw.strip():
        raise SpecProblem(
            _(
                "No session description on standard input: --device-session is started by veo's "
                "device service, not by hand."
            )
        )
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecProblem(_("The session description on standard input is too long."))
    try:
        return LaunchSpec.model_validate_json(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors() if error["loc"]})
        if not fields:
            raise SpecProblem(_("The session description on standard input is not valid JSON.")) from None
        raise SpecProblem(
            _("The session description on standard input is not valid (check: {fields}).").format(
                fields=", ".join(fields)
            )
        ) from None


def main(args: argparse.Namespace, stdin: BinaryIO | None = None) -> int:
    """Read the launch description, check it, then run one session with the device's context.

    ``args``: ``veo agent``'s parsed command line (``--lang`` for the sentences before the spec
    is read, ``--log-file``, ``--verbose``, ``--ca-file``, ``--backend``, ``--codec``, ``--max-fps``,
    ``--sysinfo-programs``
    when given; the spec's own ``language`` and ``ca_file`` come first).
    """
    lang = getattr(args, "lang", None)
    language = normalize(lang) if lang else system_language()
    try:
        spec = read_spec(stdin if stdin is not None else sys.stdin.buffer, language)
    except SpecProblem as problem:
        print(f"veo agent: {problem}", file=sys.stderr)
        return 2
    if spec.language:
        language = normalize(spec.language)
    _ = gettext_for(language).gettext
    try:
        ws_url = agent_ws_url(spec.server, language)
        tls = client_context(spec.ca_file or getattr(args, "ca_file", None) or None, language)
        encoder.configure(getattr(args, "codec", "auto"), getattr(args, "max_fps", None))
        backend.configure(getattr(args, "backend", None))
        programs = parse_programs(getattr(args, "sysinfo_programs", None))
    except (ServerUrlError, CaFileError) as exc:
        print(f"veo agent: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # --codec, --max-fps, --backend, --sysinfo-programs: the service's doing
        print(
            "veo agent: " + _("Bad option for the session part: {problem}").format(problem=exc),
            file=sys.stderr,
        )
        return 2
    trust_the_system_everywhere()
    configure_updates("installed")  # IT installed the device's agent: IT updates it
    log_path = setup_logging(getattr(args, "log_file", None), bool(getattr(args, "verbose", False)))
    on_tk_error = install_crash_handlers(language, log_path)
    device = DeviceContext.from_spec(spec)
    log.info(
        "device session %s policy=%s for %s from %s, connecting to %s",
        spec.session_id,
        spec.policy,
        spec.technician_name,
        spec.organization,
        ws_url,
    )
    try:
        return run(spec, device, ws_url, tls, language, programs, on_tk_error)
    except KeyboardInterrupt:
        return 130
    except Exception:
        report_crash(language, log_path, sys.exc_info())  # type: ignore[arg-type]
        return 1


def run(
    spec: LaunchSpec,
    device: DeviceContext,
    ws_url: str,
    tls: ssl.SSLContext | None,
    language: str,
    programs: tuple[str, ...],
    on_tk_error: Callable[..., None],
) -> int:
    """The agent app with the spec's code and the device's context, until the session ends."""
    import tkinter as tk

    from veo.agent.app import AgentApp
    from veo.agent.ui.tk_root import new_root

    _ = gettext_for(language).gettext
    try:
        root = new_root()
    except tk.TclError as exc:
        print("veo agent: " + _("Cannot open a window: {error}").format(error=exc), file=sys.stderr)
        return 1
    root.report_callback_exception = on_tk_error
    app = AgentApp(
        root, ws_url, spec.server, language, spec.code, tls, sysinfo_programs=programs, device=device
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: app.request_terminate())
    try:
        return app.run()
    finally:
        root.destroy()


__all__ = ["SpecProblem", "main", "read_spec", "run"]
