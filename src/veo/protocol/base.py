"""Parsing shared by every channel: size limit, JSON, version, then the schema.

Each step fails with its own :class:`ProtocolError` code so a peer learns exactly what was wrong
(``too_large``, ``malformed_json``, ``unsupported_version``, ``unknown_type``, ``invalid_message``)
and nothing ever raises past the receiving loop.
"""

from __future__ import annotations

import json
import typing
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

PROTOCOL_VERSION: Literal[1] = 1
MAX_MESSAGE_BYTES = 128 * 1024

M = TypeVar("M")


class ProtocolError(ValueError):
    """A message that cannot be accepted; ``code`` is stable, ``message`` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Message(BaseModel):
    """Base of every message: a ``type`` tag and the protocol version ``v``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1] = PROTOCOL_VERSION

    def dumps(self) -> str:
        return self.model_dump_json()


def parse(raw: str | bytes, adapter: TypeAdapter[M], known_types: frozenset[str]) -> M:
    """Validate one raw message against a union of message models."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError("malformed_json", "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("invalid_message", "message has no 'type'")
    if data.get("v", PROTOCOL_VERSION) != PROTOCOL_VERSION:
        raise ProtocolError("unsupported_version", f"protocol version {PROTOCOL_VERSION} expected")
    if kind not in known_types:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or kind
        raise ProtocolError("invalid_message", f"{kind}: {where}: {first['msg']}") from None


def type_names(union: Any) -> frozenset[str]:
    """The ``type`` tags of an ``Annotated[A | B | ..., Field(discriminator="type")]`` union.

    Derived from the union itself, so the set of known types a parser answers ``unknown_type``
    outside of can never drift from the models it validates against.
    """
    members: tuple[type[BaseModel], ...] = typing.get_args(typing.get_args(union)[0])
    return frozenset(m.model_fields["type"].default for m in members)
