"""Tools the agent uses to check its guesses: one interface, online and offline backends.

Public API: `Tool`, `ToolOutcome`, `ToolErrorInfo`, `Registry`, `discover`, `to_langchain`.
`to_langchain` is imported on first use: it pulls in LangChain and LangSmith (about a
second), which `gre tools call` and the other commands that only run tools never need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gre_agent.tools.base import Tool, ToolErrorInfo, ToolOutcome
from gre_agent.tools.registry import ENTRY_POINT_GROUP, Registry, UnknownToolError, discover

if TYPE_CHECKING:
    from gre_agent.tools.langchain import to_langchain

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


def __getattr__(name: str) -> Any:
    if name == "to_langchain":
        from gre_agent.tools.langchain import to_langchain

        return to_langchain
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
