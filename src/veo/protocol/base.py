"""Parsing shared by every channel: size limit, nesting depth, JSON, version, then the schema.

Each step fails with its own :class:`ProtocolError` code so a peer learns exactly what was wrong
(``too_large``, ``too_deep``, ``malformed_json``, ``unsupported_version``, ``unknown_type``,
``invalid_message``) and nothing ever raises past the receiving loop.

The depth is bounded *before* decoding, by a scan of the raw text: Python's JSON decoder and the
schema validation recurse once per ``[`` or ``{``, so ``[[[[…`` 100,000 deep (100 KB, well under
the size limit) raised ``RecursionError`` in every parser, a traceback on the server for each
unauthenticated connection and a dead receive loop on the agent. :func:`load_json` is the one
door to JSON for every channel (and for the agent's guess at a refused message's type).
"""

from __future__ import annotations

import json
import re
import typing
from itertools import accumulate
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

PROTOCOL_VERSION: Literal[1] = 1
MAX_MESSAGE_BYTES = 128 * 1024
#: Deepest nesting of arrays and objects a message may have; real messages nest a few levels.
MAX_NESTING_DEPTH = 32

#: A JSON string, escapes skipped; an unterminated one runs to the end, so the scan never backtracks.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}

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
    #: Fields added after a release that are left off the wire while unset: peers of that release
    #: forbid unknown fields, so ``"device": null`` would make them refuse the whole message.
    omit_when_none: ClassVar[frozenset[str]] = frozenset()

    def dumps(self) -> str:
        unset = {name for name in self.omit_when_none if getattr(self, name) is None}
        return self.model_dump_json(exclude=unset or None)


def nests_deeper_than(text: str, limit: int = MAX_NESTING_DEPTH) -> bool:
    """Whether ``[`` and ``{`` nest more than ``limit`` deep outside strings in ``text``.

    Linear (two regular-expression passes and a running sum, about 10 ms for 128 KiB of
    brackets) and free for ordinary messages: with at most ``limit`` opening brackets in all,
    nothing can nest deeper. Unbalanced brackets are left to the decoder to refuse.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def load_json(raw: str | bytes) -> Any:
    """Decode one raw message as JSON, refusing what is too large or too deep before decoding.

    Only :class:`ProtocolError` leaves this function, whatever the input: ``too_large``,
    ``too_deep`` or ``malformed_json``.
    """
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        # the decoding json.loads would do itself (UTF-8/16/32 by the first bytes)
        text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
    except (UnicodeDecodeError, LookupError):
        raise ProtocolError("malformed_json", "message is not valid JSON") from None
    if nests_deeper_than(text):
        raise ProtocolError("too_deep", f"message nested deeper than {MAX_NESTING_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError cannot happen after the scan; kept as a net
        raise ProtocolError("malformed_json", "message is not valid JSON") from None


def parse(raw: str | bytes, adapter: TypeAdapter[M], known_types: frozenset[str]) -> M:
    """Validate one raw message against a union of message models."""
    data: Any = load_json(raw)
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
