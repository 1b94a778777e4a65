"""E-mail to requesters: rendered in their language when queued, sent over SMTP by the worker.

Rendering happens when the message is queued (``render``), so the outbox row holds exactly what
will be sent and a later change of wording or language cannot alter a queued message. Sending
(``send``) uses the standard library's ``smtplib`` on a worker thread; an SMTP failure raises
:class:`DeliveryError`, which says whether trying again could help.

``smtplib``'s timeout bounds each socket operation, not the exchange: a server that answers one
byte at a time could keep a send going past the outbox lease, while another node sends the same
row. So a whole exchange has a deadline (:data:`SEND_DEADLINE_SECONDS`): when it passes, the
socket is shut down from a timer thread, whatever step the send is at, and nothing more of the
message leaves this node; the outbox worker relies on it (``worker.py``).
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from functools import cache
from pathlib import Path
from typing import Any

import anyio.to_thread
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from veo.config import Settings
from veo.i18n import N_, gettext_for, normalize

TEMPLATES_DIR = Path(__file__).parent.parent / "web" / "templates" / "mail"


class DeliveryError(Exception):
    """A send that failed; ``permanent`` when retrying cannot help (address refused, 4xx)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message[:500]
        self.permanent = permanent


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str
    language: str

    def as_payload(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "html": self.html, "language": self.language}


@cache
def _environment(language: str) -> Environment:
    """One Jinja environment per language: e-mails are not tied to a request's language."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_translations(gettext_for(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(template: str, subject: str, language: str, context: dict[str, Any]) -> Mail:
    """``mail/<template>.txt`` and ``.html`` in ``language``; ``subject`` is already translated."""
    language = normalize(language)
    env = _environment(language)
    full = {**context, "subject": subject, "lang": language}
    return Mail(
        subject=subject,
        text=env.get_template(f"{template}.txt").render(full),
        html=env.get_template(f"{template}.html").render(full),
        language=language,
    )


def build_message(
    settings: Settings, recipient: str, payload: dict[str, Any], message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = recipient
    message["Subject"] = str(payload["subject"])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(str(payload["text"]))
    message.add_alternative(str(payload["html"]), subtype="html")
    # After the body: setting content clears every Content-* header.
    message["Content-Language"] = str(payload.get("language", "en"))
    return message


def message_id_for(settings: Settings, key: str) -> str:
    """Stable per outbox row (``outbox.delivery_key``), so a retry after an unclear failure is
    recognisable as a duplicate, and unique across restores and installations."""
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    return f"<veo-outbox-{key}@{domain}>"


#: The longest one SMTP exchange may take, connection to QUIT (the outbox lease is 5 minutes).
SEND_DEADLINE_SECONDS = 180.0
#: ``last_error`` of a send (e-mail or webhook) cut off at its deadline; translated when shown.
TOO_SLOW = N_("The exchange with the receiver took too long and was stopped; it will be tried again.")


class SendDeadline:
    """Shuts an SMTP connection's socket down once the exchange has run ``seconds``.

    A blocked read or write then fails at once (``OSError``). A deadline that passes while the
    connection is still being opened (no socket yet) is noticed by :meth:`check` right after it.
    """

    def __init__(self, smtp: smtplib.SMTP, seconds: float) -> None:
        self._smtp = smtp
        self._expired = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> SendDeadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def _expire(self) -> None:
        self._expired.set()
        sock = getattr(self._smtp, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def check(self) -> None:
        if self.expired:
            raise TimeoutError


def _send_blocking(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host is not None
    timeout = settings.smtp_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_ssl:  # no host here: the connection is opened under the deadline below
        smtp = smtplib.SMTP_SSL(timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(timeout=timeout)
    deadline = SendDeadline(smtp, SEND_DEADLINE_SECONDS)
    try:
        with deadline, smtp:
            smtp.connect(settings.smtp_host, settings.smtp_port)
            deadline.check()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            deadline.check()
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError):
        if deadline.expired:  # whatever failed, it failed because the deadline cut it
            raise DeliveryError(TOO_SLOW) from None
        raise


async def send(settings: Settings, recipient: str, payload: dict[str, Any], key: str) -> None:
    """Hand one e-mail to the SMTP server, or raise :class:`DeliveryError`."""
    if not settings.smtp_host:
        raise DeliveryError("e-mail is not configured (set VEO_SMTP_HOST)")
    message = build_message(settings, recipient, payload, message_id_for(settings, key))
    try:
        await anyio.to_thread.run_sync(_send_blocking, settings, message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipient refused: {exc.recipients}", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        # 5xx is final for this message, except authentication (53x): an operator can fix that.
        permanent = 500 <= exc.smtp_code < 600 and exc.smtp_code // 10 != 53
        raise DeliveryError(f"SMTP {exc.smtp_code}: {text}", permanent=permanent) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP server unreachable or failed: {exc or type(exc).__name__}") from None
