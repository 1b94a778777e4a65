"""``veo agent enrol``: register this computer with a server, with an enrolment token from IT.

1. Refuses a computer that is already enrolled (``unenrol`` first: one server, one key).
2. Makes an Ed25519 key and writes it (0600) before the token is spent, so a state directory
   that cannot be written fails before the single-use token is gone.
3. ``POST /api/v1/enrol`` over TLS with the agent's trust rules (``tls.py``; ``http`` only to
   this computer), with the public key and what the device says about itself.
4. Writes ``device.json`` and the ``enrolled`` line of the device's history. A ``--ca-file`` is
   copied into the state directory (``ca.pem``, 0644, the service's own) and the copy is what
   this enrolment and every later connection trust: the file IT named may sit in a user's home,
   where that user could swap it for an authority of their own (review R1-11).

The notice to the person at the computer and the service's start are ``enrol_cli``'s: this
module returns what the server said, or raises :class:`EnrolError` with a sentence.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from veo import __version__
from veo.agent.device import addresses, device_history, keys, state
from veo.agent.device.device_history import DeviceEvent
from veo.agent.device.notice_text import command_name
from veo.agent.device.state import effective_policy
from veo.agent.tls import CaFileError, client_context, is_untrusted_certificate
from veo.agent.urls import ServerUrlError
from veo.i18n import gettext_for
from veo.protocol.device import TOKEN_PATTERN, EnrolRequest, EnrolResponse

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30.0
_TOKEN = re.compile(TOKEN_PATTERN)


class EnrolError(Exception):
    """Enrolment did not happen; the message says why, for people. ``code``: exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class EnrolInput:
    server: str
    token: str
    name: str
    directory: Path
    ca_file: str | None
    language: str
    os_name: str = ""
    os_user: str = ""


def _post(url: str, body: bytes, tls: ssl.SSLContext | None, language: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Language": language,
            "User-Agent": f"veo-agent/{__version__}",
        },
    )
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls)) if tls else None
    try:
        if opener is not None:
            with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), bytes(response.read(65536))
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status), bytes(response.read(65536))
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read(65536))


def server_sentence(body: bytes) -> str | None:
    """The server's own sentence in a refusal (``message``, else ``detail``), if it sent one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for name in ("message", "detail", "error"):
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
    return None


def read_ca_file(path: str, language: str) -> bytes:
    """The certificate authority file's contents, to keep a copy of (at most ``CA_MAX_BYTES``)."""
    _ = gettext_for(language).gettext
    try:
        with open(path, "rb") as handle:
            data = handle.read(state.CA_MAX_BYTES + 1)
    except OSError as exc:
        raise EnrolError(
            _("The certificate file {path!r} cannot be used: {error}").format(
                path=path, error=exc.strerror or exc
            ),
            2,
        ) from None
    if len(data) > state.CA_MAX_BYTES:
        raise EnrolError(
            _(
                "The certificate file {path!r} is larger than 1 MiB: it is not a certificate authority."
            ).format(path=path),
            2,
        )
    return data


def default_name() -> str:
    return (socket.gethostname() or "computer")[:80]


def enrol(given: EnrolInput) -> EnrolResponse:
    _ = gettext_for(given.language).gettext
    token = given.token.strip()
    if not _TOKEN.fullmatch(token):
        raise EnrolError(
            _(
                "This is not an enrolment token: it starts with veo-enrol- followed by 32 letters and "
                "digits. Copy it again from the server's Devices page."
            ),
            2,
        )
    try:
        url = addresses.enrol_url(given.server, given.language)
        server = addresses.base_url(given.server, given.language)
    except ServerUrlError as exc:
        raise EnrolError(str(exc), 2) from None
    try:
        tls = client_context(given.ca_file, given.language) if url.startswith("https://") else None
    except CaFileError as exc:
        raise EnrolError(str(exc), 2) from None
    ca_data = read_ca_file(given.ca_file, given.language) if given.ca_file else None
    try:
        existing = state.read_config(given.directory)
    except state.StateError as exc:
        raise EnrolError(
            _("The enrolment on this computer cannot be read: {error}").format(error=exc)
        ) from None
    if existing is not None or (given.directory / state.KEY_NAME).exists():
        raise EnrolError(
            _(
                "This computer is already enrolled ({name} at {server}). To enrol it again, "
                "unenrol it first: {command}"
            ).format(
                name=existing.device_name if existing else "?",
                server=existing.server if existing else "?",
                command=f"sudo {command_name()} unenrol",
            )
        )
    name = (given.name or default_name()).strip()[:80]
    if not name:
        raise EnrolError(_("The device name cannot be empty."), 2)
    key = keys.generate()
    try:
        keys.save(given.directory, key)
    except OSError as exc:
        raise EnrolError(
            _("Cannot write the device key in {path}: {error}").format(
                path=given.directory, error=exc.strerror or exc
            )
        ) from None
    try:
        ca_file = ""
        if ca_data is not None:
            copy = given.directory / state.CA_NAME
            state.write_public(copy, ca_data)
            ca_file = str(copy.resolve())
            try:  # trust what was copied, not what the path holds by now
                tls = client_context(ca_file, given.language) if tls is not None else None
            except CaFileError as exc:
                raise EnrolError(str(exc), 2) from None
        response = _register(given, key, url, tls, name)
        config = state.DeviceConfig(
            server=server,
            device_id=response.device_id,
            device_name=response.device_name,
            organization=response.organization,
            group=response.group,
            policy=response.policy,
            unattended=response.unattended,
            enrolled_at=response.enrolled_at,
            enrolled_by=response.enrolled_by,
            ca_file=ca_file,
            language=given.language,
            told_policy=effective_policy(response.policy, response.unattended),
        )
        state.write_config(given.directory, config)
    except BaseException:
        state.forget(given.directory)  # no half enrolment: a key without a configuration
        raise
    device_history.append(
        given.directory,
        DeviceEvent(
            kind="enrolled",
            at=device_history.now(),
            server=server,
            organization=response.organization,
            device_name=response.device_name,
            group=response.group,
            policy=response.policy,
            unattended=response.unattended,
            enrolled_by=response.enrolled_by,
        ),
    )
    log.info("enrolled as %s (%s) with %s", response.device_name, response.device_id, server)
    return response


def _register(
    given: EnrolInput, key: Ed25519PrivateKey, url: str, tls: ssl.SSLContext | None, name: str
) -> EnrolResponse:
    _ = gettext_for(given.language).gettext
    request = EnrolRequest(
        token=given.token.strip(),
        public_key=keys.public_key_text(key),
        name=name,
        hostname=socket.gethostname()[:120],
        os_name=given.os_name[:120],
        os_user=given.os_user[:120],
        agent_version=__version__,
        language=given.language,
    )
    try:
        status, body = _post(url, request.model_dump_json().encode(), tls, given.language)
    except (OSError, ValueError) as exc:
        if is_untrusted_certificate(exc):
            raise EnrolError(
                _(
                    "The server's certificate is not trusted, so nothing was sent. If your organization "
                    "uses its own certificate authority, pass its file with --ca-file."
                )
            ) from None
        reason = getattr(exc, "reason", None) or exc
        raise EnrolError(
            _("Cannot reach the server {server}: {error}").format(server=given.server, error=reason)
        ) from None
    if status not in (200, 201):
        said = server_sentence(body)
        if said:
            raise EnrolError(_("The server refused the enrolment: {reason}").format(reason=said))
        raise EnrolError(_("The server refused the enrolment (HTTP status {status}).").format(status=status))
    try:
        return EnrolResponse.model_validate_json(body)
    except ValidationError:
        raise EnrolError(_("The server's answer to the enrolment could not be read.")) from None
