"""How the agent decides to trust a server: certificate chain and host name, always both.

By default the system's trust store is used, found with ``truststore``: the one-file agent carries
the OpenSSL of the machine it was built on (Debian's, which looks in ``/usr/lib/ssl``), and on a
system that keeps its bundle elsewhere (Fedora and RHEL under ``/etc/pki``, SUSE, Alpine) plain
``ssl.create_default_context()`` would trust nothing at all. An organization that runs veo behind its own
certificate authority passes that CA with ``--ca-file PATH`` (or ``VEO_AGENT_CA_FILE``); then, as
with curl's ``--cacert``, only the certificates in that file are trusted. Host-name checking is
never turned off: a certificate from the right CA for another name is refused too.

Every other TLS connection of the agent process uses the system's trust as well:
:func:`trust_the_system_everywhere` (called by ``veo.agent.main`` before anything connects) puts
``truststore`` into the ``ssl`` module, so the default contexts other code makes (aioice's TURN over
TLS with ``ssl=True``, ``urllib`` without a context) find the system's store too. A ``--ca-file``
context is built from the plain OpenSSL class kept here, so it trusts that file and nothing else.
"""

from __future__ import annotations

import ssl

import truststore

from veo.i18n import gettext_for

CA_FILE_ENV = "VEO_AGENT_CA_FILE"

# the plain OpenSSL context class, kept before truststore may replace ``ssl.SSLContext``
_PLAIN_CONTEXT: type[ssl.SSLContext] = (
    ssl.SSLContext.__mro__[1] if issubclass(ssl.SSLContext, truststore.SSLContext) else ssl.SSLContext
)


class CaFileError(ValueError):
    """The ``--ca-file`` cannot be used; the message says why, for people."""


def client_context(ca_file: str | None = None, language: str = "en") -> ssl.SSLContext:
    """A client context that verifies the chain (system store, or only ``ca_file``) and the host name."""
    _ = gettext_for(language).gettext
    try:
        context = _only(ca_file) if ca_file else _system_trust()
    except FileNotFoundError:
        raise CaFileError(_("The certificate file {path!r} does not exist.").format(path=ca_file)) from None
    except (OSError, ssl.SSLError) as exc:
        raise CaFileError(
            _("The certificate file {path!r} cannot be used: {error}").format(path=ca_file, error=exc)
        ) from None
    if ca_file and not context.cert_store_stats()["x509"]:
        raise CaFileError(
            _("The certificate file {path!r} holds no certificate in PEM format.").format(path=ca_file)
        )
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def trust_the_system_everywhere() -> None:
    """Make every default TLS context of this process use the system's trust (``truststore``).

    Called once by ``veo.agent.main`` before the agent connects anywhere: the signaling socket uses
    :func:`client_context`, but aioice opens a ``turns:`` relay with ``ssl=True`` (asyncio's default
    context) and nothing else would make it see the system's store in the one-file build. Calling
    it again does nothing more.
    """
    truststore.inject_into_ssl()


def _only(ca_file: str) -> ssl.SSLContext:
    """What ``ssl.create_default_context(cafile=...)`` makes, with the plain class: only that file."""
    context = _PLAIN_CONTEXT(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=ca_file)
    assert type(context) is not truststore.SSLContext
    return context


def _system_trust() -> ssl.SSLContext:
    """The system's certificate authorities wherever this distribution keeps them (``truststore``)."""
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def is_untrusted_certificate(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed certificate or host-name check."""
    seen: BaseException | None = exc
    for _depth in range(8):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
