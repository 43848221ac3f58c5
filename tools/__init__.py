"""Tools the agent uses to check its guesses: one interface, online and offline backends.

Public API: `Tool`, `ToolOutcome`, `ToolErrorInfo`, `Registry`, `discover`, `to_langchain`.
"""

from gre_agent.tools.base import Tool, ToolErrorInfo, ToolOutcome
from gre_agent.tools.langchain import to_langchain
from gre_agent.tools.registry import ENTRY_POINT_GROUP, Registry, UnknownToolError, discover

__all__ = [
    "ENTRY_POINT_GROUP",
    "Registry",
    "Tool",
    "ToolErrorInfo",
    "ToolOutcome",
    "UnknownToolError",
    "discover",
    "to_langchain",
]
