"""The user's monitors: listed by the agent, chosen by the console (view grant)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from veo.protocol.base import Message

MonitorId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")]
ALL_MONITORS = "all"


class MonitorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: MonitorId
    name: Annotated[str, Field(max_length=80)] = ""
    x: Annotated[int, Field(ge=-32768, le=32767)]
    y: Annotated[int, Field(ge=-32768, le=32767)]
    width: Annotated[int, Field(ge=1, le=32767)]
    height: Annotated[int, Field(ge=1, le=32767)]
    primary: bool = False


class Monitors(Message):
    """Agent -> console: the monitors and which one is shown (``all`` = the whole desktop)."""

    type: Literal["monitors"] = "monitors"
    monitors: Annotated[list[MonitorInfo], Field(max_length=16)]
    current: MonitorId = ALL_MONITORS


class SelectMonitor(Message):
    """Console -> agent: show this monitor (or ``all``); the agent answers with ``screen``."""

    type: Literal["select_monitor"] = "select_monitor"
    monitor: MonitorId
