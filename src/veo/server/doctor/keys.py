"""The data directory's keys: present, readable, whole, and not readable by others.

They live beside the database and not in it (``veo.server.keyfiles``), and every node of a
deployment must hold the same ones: a node that starts without them makes new ones, and then
codes issued on one node do not redeem on another, TOTP secrets sealed by one cannot be opened by
another, and checkpoints signed by one do not verify with the others' key. So a missing key here
is a problem even though veo would "fix" it by itself at start. The doctor never creates one.
"""

from __future__ import annotations

import stat
from pathlib import Path

from veo.server.audit import keys as audit_keys
from veo.server.auth.totp_seal import KEY_BYTES as TOTP_BYTES
from veo.server.auth.totp_seal import KEY_DIR as TOTP_DIR
from veo.server.auth.totp_seal import KEY_NAME as TOTP_NAME
from veo.server.doctor.database import Facts
from veo.server.doctor.report import Finding, fail, info, ok, warn
from veo.server.lang import _
from veo.server.sessions.code_secret import KEY_DIR as CODE_DIR
from veo.server.sessions.code_secret import KEY_NAME as CODE_NAME
from veo.server.sessions.code_secret import SECRET_BYTES as CODE_BYTES

CHECK = "keys"


def check(data_dir: Path, facts: Facts) -> list[Finding]:
    raw = [(data_dir / CODE_DIR / CODE_NAME, CODE_BYTES), (data_dir / TOTP_DIR / TOTP_NAME, TOTP_BYTES)]
    findings = [_raw_key(path, size) for path, size in raw]
    findings.append(_signing_key(audit_keys.key_dir(data_dir) / audit_keys.PRIVATE_NAME, facts))
    return findings


def _missing(path: Path) -> Finding:
    return fail(
        CHECK,
        _("%(path)s is missing.") % {"path": path},
        _(
            "restore it from the backup, or copy it from another node (it must be the same file on "
            "every node); "
            "check VEO_DATA_DIR."
        ),
    )


def _unreadable(path: Path, error: str) -> Finding:
    return fail(
        CHECK,
        _("%(path)s cannot be read: %(error)s") % {"path": path, "error": error},
        _("run veo doctor as the user veo runs as, and restore the file from the backup if it is damaged."),
    )


def _permissions(path: Path) -> Finding | None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return warn(
            CHECK,
            _("%(path)s can be read by other users (mode %(mode)s).")
            % {"path": path, "mode": oct(mode & 0o777)},
            _("chmod 600 it, owned by the user veo runs as."),
        )
    return None


def _raw_key(path: Path, size: int) -> Finding:
    if not path.exists():
        return _missing(path)
    try:
        length = len(path.read_bytes())
    except OSError as exc:
        return _unreadable(path, exc.strerror or str(exc))
    if length != size:
        return _unreadable(
            path, _("%(expected)d bytes expected, found %(found)d") % {"expected": size, "found": length}
        )
    return _permissions(path) or ok(CHECK, _("%(path)s is present.") % {"path": path})


def _signing_key(path: Path, facts: Facts) -> Finding:
    """Present, readable, and the key that signed the newest checkpoint in the database.

    veo makes the key at its first checkpoint (after the first audited event), so on a new
    installation with no checkpoint yet its absence is normal; once checkpoints exist, a node
    without it, or with another one, would sign what the others' key does not verify.
    """
    if not path.exists():
        if facts.reachable and facts.newest_key_id is None:
            return info(
                "audit key",
                _("the audit signing key %(path)s is not made yet: the first audited event makes it.")
                % {"path": path},
                _("then give every node that same file (a shared data directory, or a copy) and back it up."),
            )
        return fail(
            "audit key",
            _("the audit signing key %(path)s is missing.") % {"path": path},
            _(
                "restore it from the backup, or copy it from another node: a new key would sign checkpoints "
                "that the other nodes and earlier exports do not verify."
            ),
        )
    try:
        key = audit_keys.load_private(path)
    except audit_keys.KeyFileError as exc:
        return _unreadable(path, str(exc).removeprefix(f"{path}: "))
    own = audit_keys.key_id(key.public_key())
    if facts.newest_key_id is not None and facts.newest_key_id != own:
        return fail(
            "audit key",
            _(
                "the audit signing key %(path)s (id %(own)s) did not sign the newest checkpoint in the "
                "database (signed by %(other)s): the nodes do not share one key."
            )
            % {"path": path, "own": own[:12], "other": facts.newest_key_id[:12]},
            _(
                "stop this node, put the key that signed the checkpoints in its data directory, start it, "
                "and run `veo audit verify`."
            ),
        )
    return _permissions(path) or ok(
        "audit key",
        _("the audit signing key %(path)s is present and signed the newest checkpoint.") % {"path": path}
        if facts.newest_key_id
        else _("the audit signing key %(path)s is present and readable.") % {"path": path},
    )
