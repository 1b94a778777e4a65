"""JSON Schema of the wire contract, for the console's JavaScript and for other implementations.

Served by the server at ``/api/v1/protocol.json`` and written with ``python -m veo.protocol.schema``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter

from veo.protocol.base import MAX_MESSAGE_BYTES, MAX_NESTING_DEPTH, PROTOCOL_VERSION
from veo.protocol.datachannel import DATA_CHANNEL_LABEL, AgentDataMessage, ConsoleDataMessage
from veo.protocol.signaling import AgentMessage, ConsoleMessage, ServerMessage


def protocol_schema() -> dict[str, Any]:
    def schema(tp: Any) -> dict[str, Any]:
        return TypeAdapter(tp).json_schema()

    return {
        "version": PROTOCOL_VERSION,
        "max_message_bytes": MAX_MESSAGE_BYTES,
        "max_nesting_depth": MAX_NESTING_DEPTH,
        "data_channel_label": DATA_CHANNEL_LABEL,
        "signaling": {
            "agent_to_server": schema(AgentMessage),
            "console_to_server": schema(ConsoleMessage),
            "server_to_peer": schema(ServerMessage),
        },
        "data_channel": {
            "console_to_agent": schema(ConsoleDataMessage),
            "agent_to_console": schema(AgentDataMessage),
        },
    }


if __name__ == "__main__":
    json.dump(protocol_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
