"""Why a device request was refused: one stable code, one HTTP status, one sentence per reason.

:class:`DeviceError` is an :class:`~veo.server.errors.ApiError`, so the app's handlers answer it as
``{"code", "message"}`` (JSON under ``/api/v1``, the error page elsewhere) and the CLI prints the
same sentence. The sentence is looked up when the error is raised, in the language of the request
being served (``veo.server.lang``).
"""

from __future__ import annotations

from veo.i18n import N_
from veo.server.errors import ApiError
from veo.server.lang import _

#: code -> (HTTP status, sentence). The sentences say what happened and, where there is one,
#: what to do; they never name an internal code.
_ERRORS: dict[str, tuple[int, str]] = {
    # connecting to a device (connect.py)
    "device_not_found": (404, N_("This device does not exist.")),
    "device_revoked": (409, N_("This device's enrolment was revoked; it cannot be reached any more.")),
    "device_offline": (
        409,
        N_("This device is not connected to veo right now. Try again when it is switched on and online."),
    ),
    "reason_required": (422, N_("Give a reason for connecting: choose a ticket or type a reason.")),
    "reason_too_long": (422, N_("The reason is limited to 500 characters.")),
    "reason_invalid": (
        422,
        N_(
            "The reason contains control characters that cannot be sent to the device. Type it as plain text."
        ),
    ),
    "ticket_not_found": (404, N_("This ticket does not exist.")),
    "ticket_not_open": (
        409,
        N_("This ticket is resolved or closed. Reopen it or choose an open ticket, or type a reason."),
    ),
    "mode_not_allowed": (
        403,
        N_("The device's group does not allow this kind of connection; choose a gentler one."),
    ),
    "unattended_not_allowed": (
        403,
        N_("Your role does not allow unattended access. Connect so that the person at the device is asked."),
    ),
    "unattended_not_enrolled": (
        403,
        N_("This device was not enrolled for unattended access. Connect so that the person at it is asked."),
    ),
    "group_not_allowed": (403, N_("Your role may not connect to the devices of this group.")),
    # groups and tokens (groups.py, tokens.py)
    "group_not_found": (404, N_("This device group does not exist.")),
    "token_not_found": (404, N_("This enrolment token does not exist.")),
    "token_not_active": (409, N_("This enrolment token was already used or revoked.")),
    "admin_only": (403, N_("Only administrators may manage devices, device groups and enrolment tokens.")),
    # enrolment (enrol.py): what the device's administrator reads in the terminal
    "token_unknown": (403, N_("This enrolment token is not known to the server. Check it and try again.")),
    "token_used": (
        403,
        N_("This enrolment token was already used. Ask your administrator for a new one."),
    ),
    "token_expired": (403, N_("This enrolment token has expired. Ask your administrator for a new one.")),
    "token_revoked": (403, N_("This enrolment token was revoked. Ask your administrator for a new one.")),
    "key_in_use": (409, N_("This device key is already enrolled. Unenrol the device first.")),
    "enrol_throttled": (429, N_("Too many enrolment attempts from this address; wait a few minutes.")),
    "enrol_unavailable": (503, N_("The server cannot check enrolments right now; try again in a minute.")),
}

#: Codes of connect() refusals; the ones that say something about the request are audited.
CONNECT_CODES = frozenset(
    {
        "device_not_found",
        "device_revoked",
        "device_offline",
        "reason_required",
        "reason_too_long",
        "reason_invalid",
        "ticket_not_found",
        "ticket_not_open",
        "mode_not_allowed",
        "unattended_not_allowed",
        "unattended_not_enrolled",
        "group_not_allowed",
    }
)
#: Why an enrolment token was refused, as ``device.enrol_refused`` records it.
ENROL_REFUSALS = {
    "token_unknown": "unknown",
    "token_used": "used",
    "token_expired": "expired",
    "token_revoked": "revoked",
}


def message(code: str) -> str:
    """The sentence for ``code`` in the current language (a general one for an unknown code)."""
    entry = _ERRORS.get(code)
    if entry is None:
        return _("The device request could not be completed.")
    return _(entry[1])


def status(code: str) -> int:
    entry = _ERRORS.get(code)
    return entry[0] if entry is not None else 400


class DeviceError(ApiError):
    """A device request refused for ``code`` (see :data:`_ERRORS`)."""

    def __init__(self, code: str) -> None:
        super().__init__(status(code), code, message(code))
