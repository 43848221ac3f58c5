"""Turn any registered tool into a LangChain tool with the same argument schema.

OpenAI-style function names allow only [a-zA-Z0-9_-], so `osm.features_near`
becomes `osm__features_near`; `tool_name_from_langchain` maps it back.
"""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool

from gre_agent.tools.base import Tool


def langchain_name(name: str) -> str:
    return name.replace(".", "__")


def tool_name_from_langchain(name: str) -> str:
    return name.replace("__", ".", 1)


def to_langchain(tool: Tool) -> StructuredTool:
    """A StructuredTool whose coroutine returns the ToolOutcome as a dict (errors included)."""

    async def _call(**kwargs: Any) -> dict[str, Any]:
        outcome = await tool.run(kwargs)
        return outcome.model_dump(mode="json")

    def _sync(**kwargs: Any) -> dict[str, Any]:
        import asyncio

        return asyncio.run(_call(**kwargs))

    # An MCP tool's arguments are the server's JSON schema: LangChain hands it to the model
    # as it is, and Tool.run validates.
    schema = tool.Args.model_json_schema() if tool.source == "mcp" else tool.Args
    return StructuredTool.from_function(
        func=_sync,
        coroutine=_call,
        name=langchain_name(tool.name),
        description=tool.description,
        args_schema=schema,
        infer_schema=False,
    )
