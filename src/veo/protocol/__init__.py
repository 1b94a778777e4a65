"""The one wire contract between server, agent and console.

Every signaling message (WebSocket, through the server) and every data-channel message (end to
end between agent and console, never seen by the server) is declared once here, versioned, and
validated on arrival. ``veo.protocol.schema`` exports the same models as JSON Schema for the
console's JavaScript.
"""

from veo.protocol.permissions import Permission, effective_permissions
from veo.protocol.signaling import (
    PROTOCOL_VERSION,
    AgentMessage,
    ConsoleMessage,
    ProtocolError,
    ServerMessage,
    parse_agent_message,
    parse_console_message,
    parse_server_message,
)

__all__ = [
    "PROTOCOL_VERSION",
    "AgentMessage",
    "ConsoleMessage",
    "Permission",
    "ProtocolError",
    "ServerMessage",
    "effective_permissions",
    "parse_agent_message",
    "parse_console_message",
    "parse_server_message",
]
