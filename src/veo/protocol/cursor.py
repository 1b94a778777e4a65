"""The remote cursor as position and shape (agent -> console), drawn locally by the console.

Sending the pointer as data instead of pixels keeps pointing instant (no encode/decode round trip)
and keeps the video free of a moving sprite that would defeat change detection.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from veo.protocol.base import Message

Coord = Annotated[int, Field(ge=-32768, le=32767)]
MAX_CURSOR_SIDE = 128


class CursorShape(Message):
    """A cursor image: ``rgba`` is base64 of width*height*4 bytes (straight alpha), hot spot inside."""

    type: Literal["cursor_shape"] = "cursor_shape"
    id: Annotated[int, Field(ge=0, le=2**31)]
    width: Annotated[int, Field(ge=1, le=MAX_CURSOR_SIDE)]
    height: Annotated[int, Field(ge=1, le=MAX_CURSOR_SIDE)]
    hot_x: Annotated[int, Field(ge=0, le=MAX_CURSOR_SIDE)]
    hot_y: Annotated[int, Field(ge=0, le=MAX_CURSOR_SIDE)]
    rgba: Annotated[str, Field(max_length=(MAX_CURSOR_SIDE * MAX_CURSOR_SIDE * 4 * 4) // 3 + 4)]


class Cursor(Message):
    """Where the pointer is, in the coordinates of the current ``screen`` (may be outside it)."""

    type: Literal["cursor"] = "cursor"
    x: Coord
    y: Coord
    shape: Annotated[int, Field(ge=0, le=2**31)] = 0
    visible: bool = True
