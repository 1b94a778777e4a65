"""What a session on a managed device is, as the agent's ``joined`` and the console's state say it.

A session the server started on an enrolled device (issue 17) carries the device, the group's
policy that applied and the technician's reason on its row (``RemoteSession.device_id``,
``device_policy``, ``access_reason``). The agent and the console both need the device's NAME too,
which lives on the device row: looked up here, in the caller's transaction, so ``joined`` and
``session_state`` say the same thing. A session joined with a typed code has no device: None.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, object_session

from veo.protocol.device import DEVICE_POLICIES, DeviceSession
from veo.server.devices.models import Device
from veo.server.devices.text import clean
from veo.server.sessions.models import RemoteSession

#: The contract's limits (``DeviceSession``): a longer stored value is cut, never refused.
NAME_MAX = 120
REASON_MAX = 500


def device_session(db: Session | None, session: RemoteSession) -> DeviceSession | None:
    """The device part of ``session`` (None for a session joined with a typed code).

    ``db`` may be None: the session's own database session is used (``object_session``). A device
    row that cannot be found (never deleted, but a detached object has no session) is named by
    its id rather than hiding that the session is on a managed device.
    """
    if session.device_id is None or session.device_policy not in DEVICE_POLICIES:
        return None
    db = db if db is not None else object_session(session)
    device = db.get(Device, session.device_id) if db is not None else None
    name = device.name if device is not None else session.device_id
    # The reason is required when the session is created; "—" keeps an old row readable anyway.
    # Both cleaned as the protocol requires (no control characters): a row stored before that
    # rule must not make every ``joined`` and ``session_state`` of its session fail.
    reason = clean(session.access_reason, REASON_MAX) or "—"
    return DeviceSession(
        device_name=clean(name, NAME_MAX) or session.device_id,
        policy=session.device_policy,
        reason=reason,
    )
