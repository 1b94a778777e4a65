"""Drawing on the user's real screen and the technician's pointer (console -> agent).

Points are in the coordinates of the current ``screen``, as for input. Annotation needs only the
*view* grant (it shows things, it never acts), and the agent draws it in a click-through overlay.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from veo.protocol.base import Message

Coord = Annotated[int, Field(ge=0, le=32767)]
Point = tuple[Coord, Coord]
StrokeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
Tool = Literal["arrow", "rect", "free", "laser"]


class Annotate(Message):
    """One stroke, sent again with more points while it is drawn; ``done`` when the mouse is up."""

    type: Literal["annotate"] = "annotate"
    id: StrokeId
    tool: Tool
    points: Annotated[list[Point], Field(min_length=1, max_length=2000)]
    color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#ff0040"
    width: Annotated[int, Field(ge=1, le=32)] = 4
    done: bool = False


class Erase(Message):
    """Remove one stroke, or all of them when ``id`` is empty."""

    type: Literal["annotate_erase"] = "annotate_erase"
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,40}$")] = ""


class TechPointer(Message):
    """The technician's pointer over the view, shown to the user while it moves."""

    type: Literal["tech_pointer"] = "tech_pointer"
    x: Coord
    y: Coord
    visible: bool = True
