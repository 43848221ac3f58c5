"""Model-driven verification: the model calls the tools, LangGraph's ToolNode runs them.

The graph wires it as a cycle (`call_tools <-> tools`, as LangGraph's react-agent
template does), so every tool step streams and is checkpointed. The model gets the
tools' schemas (OpenAI tools API; backends also read `<tool_call>{json}</tool_call>`
blocks from text). `TOOL_NODE` holds one LangChain tool per name in `MODEL_TOOLS`, built
from the tool classes; each looks up the run's registry (offline, online, or injected)
from the run's context when it is called. Tools of the MCP servers in gre.toml are known
only at run time: they are offered from the run's registry and run by the node's
interceptor (`_run_unlisted`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import StructuredTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import ToolNode, ToolRuntime
from langgraph.prebuilt.tool_node import ToolCallRequest

from gre_agent.agent.backends import Message, ToolCall
from gre_agent.core.trace import ToolCallEvent
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.evidence import EvidenceItem, Finding
from gre_agent.graphs.gre.model import registry_for
from gre_agent.tools import Registry, discover, to_langchain
from gre_agent.tools.langchain import langchain_name, tool_name_from_langchain

# Tools the model may call during verification (EXIF stays with the graph's own switch).
MODEL_TOOLS = (
    "gazetteer.geocode",
    "gazetteer.reverse",
    "osm.features_near",
    "osm.find_named",
    "osm.street_intersection",
    "wikipedia.search",
    "wikipedia.page",
    "wikipedia.geosearch",
    "country.facts",
    "geo.check",
)
MAX_STEPS = 6  # model turns per round
BUDGET_SPENT = json.dumps({"error": {"kind": "budget", "message": "tool budget spent"}})


def _lazy_tool(name: str, description: str, args: Any) -> StructuredTool:
    """A LangChain tool that runs `name` from the registry of the run calling it."""

    async def _call(runtime: ToolRuntime[Context], **kwargs: Any) -> dict[str, Any]:
        outcome = await registry_for(runtime.context).get(name).run(kwargs)
        return outcome.model_dump(mode="json")

    return StructuredTool.from_function(
        coroutine=_call,
        name=langchain_name(name),
        description=description,
        args_schema=args,
        infer_schema=False,
    )


async def _run_unlisted(
    request: ToolCallRequest, execute: Callable[[ToolCallRequest], Awaitable[Any]]
) -> Any:
    """Calls of tools the node was not built with (an MCP server's, from gre.toml): run
    from the run's registry, which knows them; unknown names get the node's own error."""
    name = tool_name_from_langchain(request.tool_call["name"])
    context = cast("Context", request.runtime.context)  # the graph's context_schema
    registry = registry_for(context) if request.tool is None else None
    if registry is None or name not in registry or name in MODEL_TOOLS:
        return await execute(request)
    outcome = await registry.get(name).run(request.tool_call["args"])
    return ToolMessage(
        content=json.dumps(outcome.model_dump(mode="json"), ensure_ascii=False),
        name=request.tool_call["name"],
        tool_call_id=request.tool_call["id"],
        status="success" if outcome.ok else "error",
    )


def _build_tool_node() -> ToolNode:
    classes = discover(include_plugins=False)
    tools = [
        _lazy_tool(n, classes[n].description, classes[n].Args) for n in MODEL_TOOLS if n in classes
    ]
    return ToolNode(
        tools,
        messages_key="tool_messages",
        handle_tool_errors=True,
        awrap_tool_call=_run_unlisted,
    )


TOOL_NODE = _build_tool_node()
"""The graph's `tools` node."""


def offered(registry: Registry) -> list[dict[str, Any]]:
    """OpenAI tool schemas of the model tools this run's registry has: the built-in ones
    in `MODEL_TOOLS`, then every tool of the MCP servers in its settings."""
    by_name = {t.name: t for t in TOOL_NODE.tools_by_name.values()}
    builtin = [
        convert_to_openai_tool(by_name[langchain_name(n)])
        for n in MODEL_TOOLS
        if n in registry and langchain_name(n) in by_name
    ]
    mcp = [convert_to_openai_tool(to_langchain(registry.get(n))) for n in registry.mcp_names()]
    return builtin + mcp


def tool_request(calls: Sequence[ToolCall]) -> AIMessage:
    """The message the ToolNode reads: the calls it is allowed to run."""
    return AIMessage(
        content="",
        tool_calls=[
            {"name": t.name, "args": t.arguments, "id": t.id, "type": "tool_call"} for t in calls
        ],
    )


def _summary(result: Any) -> str:
    text = json.dumps(result, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


def _content(result: ToolMessage) -> str:
    return result.content if isinstance(result.content, str) else json.dumps(result.content)


def results_since_request(tool_messages: Sequence[BaseMessage]) -> dict[str, ToolMessage]:
    """The ToolNode's answers to the last request, by tool call id."""
    out: dict[str, ToolMessage] = {}
    for m in reversed(tool_messages):
        if isinstance(m, AIMessage):
            break
        if isinstance(m, ToolMessage):
            out[m.tool_call_id] = m
    return out


def fold_results(
    calls: Sequence[ToolCall], results: dict[str, ToolMessage], number: int
) -> tuple[list[dict[str, Any]], list[EvidenceItem], list[dict[str, Any]], int, int]:
    """Turn the answers to one model turn's calls into (tool messages for the model,
    evidence, trace events, calls run, errors); a call the ToolNode did not run was over
    the budget."""
    msgs: list[dict[str, Any]] = []
    evidence: list[EvidenceItem] = []
    events: list[dict[str, Any]] = []
    ran = errors = 0
    for t in calls:
        name = tool_name_from_langchain(t.name)
        result = results.get(t.id)
        if result is None:
            content = BUDGET_SPENT
        else:
            ran += 1
            content = _content(result)
        msgs.append(Message.tool(t.id, content, name=t.name).model_dump(mode="json"))
        try:
            payload = json.loads(content)
        except (TypeError, ValueError):
            payload = {"error": {"kind": "bad_response", "message": str(content)[:200]}}
        if not isinstance(payload, dict):
            payload = {"result": payload}
        failed = bool(payload.get("error")) or result is None
        errors += int(failed and result is not None)
        call = {"tool": name, "args": t.arguments, **payload}
        event = ToolCallEvent.of(number, f"model called {name}", call)
        events.append(event.model_dump(mode="json"))
        finding = Finding.MODEL_TOOL_FAILED if failed else Finding.MODEL_TOOL_RESULT
        evidence.append(
            finding.record(
                None,
                claim=f"{name}({json.dumps(t.arguments, ensure_ascii=False)})",
                tool=name,
                args=t.arguments,
                error=_summary(payload.get("error")) if failed else None,
                summary=_summary(payload.get("result") if not failed else payload.get("error")),
                round=number,
            )
        )
    return msgs, evidence, events, ran, errors
