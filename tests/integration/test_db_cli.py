"""The admin and audit commands against a real database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select, update

from veo.server import admin
from veo.server.audit import cli as audit_cli
from veo.server.audit.models import AuditEvent
from veo.server.auth import passwords
from veo.server.auth.models import User
from veo.server.db.engine import Database


def _run(module: object, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = module.main(argv)  # type: ignore[attr-defined]
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _users(url: str) -> list[User]:
    db = Database(url)
    try:
        with db.session() as s:
            return list(s.scalars(select(User).order_by(User.id)))
    finally:
        db.dispose()


def test_init_twice(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(admin, ["--database-url", database_url, "init"], capsys)
    assert code == 0 and "admin@localhost" in out and "/login" in out
    password = out.split("password:")[1].split()[0]
    [user] = _users(database_url)
    assert user.role == "admin" and user.must_change_password
    assert passwords.verify_password(user.password_hash, password)
    code, out, _ = _run(admin, ["--database-url", database_url, "init"], capsys)
    assert code == 0 and "already exists" in out and password not in out
    assert "admin set-password admin@localhost" in out  # the way back in when the first run's output is lost
    assert len(_users(database_url)) == 1


def test_lost_one_time_password_is_replaced_by_set_password(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run printed a password nobody kept: set-password prints a new one-time one."""
    _run(admin, ["--database-url", database_url, "init"], capsys)
    lost = _users(database_url)[0].password_hash
    code, out, _ = _run(admin, ["--database-url", database_url, "set-password", "Admin@Localhost"], capsys)
    assert code == 0
    password = out.split("one-time password:")[1].split()[0]
    [user] = _users(database_url)
    assert user.password_hash != lost and passwords.verify_password(user.password_hash, password)
    assert user.must_change_password  # a printed password must be replaced at the next sign-in
    db = Database(database_url)
    try:
        with db.session() as s:
            event = s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    finally:
        db.dispose()
    assert event is not None and event.action == "user.password_changed" and event.actor == "cli"
    assert event.details == {"user": "admin@localhost"}


def test_sign_in_address_comes_from_public_url_or_says_it_is_unset(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["--database-url", database_url, "create-user"]
    monkeypatch.setenv("VEO_PUBLIC_URL", "https://support.example.org/")
    code, out, _ = _run(admin, [*argv, "a@example.org", "--name", "A", "--role", "technician"], capsys)
    assert code == 0 and "Sign in at https://support.example.org/login" in out
    assert "VEO_PUBLIC_URL" not in out
    monkeypatch.delenv("VEO_PUBLIC_URL")
    code, out, _ = _run(admin, [*argv, "b@example.org", "--name", "B", "--role", "technician"], capsys)
    assert code == 0 and "VEO_PUBLIC_URL is not set" in out and "http://127.0.0.1:8000/login" in out


def test_create_user_with_stdin_and_one_time_password(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    argv = ["--database-url", database_url, "create-user", "Tech@Example.org", "--name", "Ana", "--role"]
    code, out, _ = _run(admin, [*argv, "technician", "--password-stdin"], capsys)
    assert code == 0 and "password" not in out
    code, out, _ = _run(admin, ["--database-url", database_url, "create-user", "lead@example.org",
                                "--name", "Lead", "--role", "lead"], capsys)  # fmt: skip
    assert code == 0 and "one-time password" in out
    tech, lead = _users(database_url)
    assert tech.email == "tech@example.org" and not tech.must_change_password
    assert passwords.verify_password(tech.password_hash, "a long enough password")
    assert lead.must_change_password


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["bad-address", "--name", "X", "--role", "technician"], "", "e-mail"),
        (["x@example.org", "--name", "X", "--role", "wizard"], "", "invalid choice"),
        (["x@example.org", "--name", "X", "--role", "technician", "--password-stdin"], "short\n", "12"),
        (["x@example.org", "--name", " ", "--role", "technician"], "", "name"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str,
    needle: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code, _, err = _run(admin, ["--database-url", database_url, "create-user", *args], capsys)
    assert code == 2 and needle in err
    assert _users(database_url) == []


def test_set_password(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(admin, ["--database-url", database_url, "init"], capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO("brand new password\n"))
    code, _, _ = _run(admin, ["--database-url", database_url, "set-password", "admin@localhost",
                              "--password-stdin"], capsys)  # fmt: skip
    assert code == 0
    [user] = _users(database_url)
    assert (
        passwords.verify_password(user.password_hash, "brand new password") and not user.must_change_password
    )
    code, _, err = _run(admin, ["--database-url", database_url, "set-password", "ghost@example.org"], capsys)
    assert code == 2 and "no account with the e-mail ghost@example.org" in err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = _run(admin, ["--database-url", database_url, "set-password", "admin@localhost",
                                "--password-stdin"], capsys)  # fmt: skip
    assert code == 2 and "12" in err
    assert passwords.verify_password(_users(database_url)[0].password_hash, "brand new password")


def test_audit_verify_good_then_tampered(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _run(admin, ["--database-url", database_url, "init"], capsys)
    for email in ("a@example.org", "b@example.org"):
        _run(
            admin,
            ["--database-url", database_url, "create-user", email, "--name", "N", "--role", "lead"],
            capsys,
        )
    code, out, _ = _run(audit_cli, ["--database-url", database_url, "verify"], capsys)
    assert code == 0 and "OK: 3 audit entries" in out
    db = Database(database_url)
    try:
        with db.session() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(details={"user": "mallory"}))
    finally:
        db.dispose()
    code, out, _ = _run(audit_cli, ["--database-url", database_url, "verify"], capsys)
    assert code == 1 and "seq 2" in out
