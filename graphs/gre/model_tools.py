"""Model-driven verification: the model calls the tools, LangGraph's ToolNode runs them.

The model gets the tools' schemas (OpenAI tools API; backends also read
`<tool_call>{json}</tool_call>` blocks from text) and calls them until it stops or the
budget is spent. Each result goes back to it as a tool message and into the evidence.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.prebuilt import ToolNode

from gre_agent.agent.backends import Message, ToolCall
from gre_agent.agent.prompts import render
from gre_agent.graphs.gre.evidence import Candidate, EvidenceItem, ranked
from gre_agent.graphs.gre.model import ask
from gre_agent.tools import Registry, to_langchain
from gre_agent.tools.langchain import tool_name_from_langchain

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


def _summary(result: Any) -> str:
    text = json.dumps(result, ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "..."


async def run(
    ctx: Any,
    registry: Registry,
    msgs: list[dict[str, Any]],
    cands: list[Candidate],
    number: int,
    budget: int,
    context: str,
):
    """Let the model verify with tools; returns (evidence, messages, events, calls, errors)."""
    lc_tools = [to_langchain(registry.get(n)) for n in MODEL_TOOLS if n in registry]
    schemas = [convert_to_openai_tool(t) for t in lc_tools]
    node = ToolNode(lc_tools, handle_tool_errors=True)
    msgs = list(msgs)
    msgs.append(
        Message.user(
            render(
                "verification",
                hypotheses="\n".join(f"- {c.label}" for c in ranked(cands)) or "(none)",
                evidence="(none yet: call the tools to check your candidates, then answer)",
                round=number,
                max_rounds=ctx.max_rounds,
                context=context,
            )
        ).model_dump(mode="json")
    )
    evidence: list[EvidenceItem] = []
    events: list[dict[str, Any]] = []
    calls = errors = 0
    for _ in range(MAX_STEPS):
        completion, event = await ask(ctx, msgs, "verify_tools", tools=schemas)
        events.append(event)
        if completion is None:
            break
        tool_calls = [ToolCall.model_validate(t) for t in completion["tool_calls"]]
        msgs.append(Message.assistant(completion["text"], tool_calls).model_dump(mode="json"))
        if not tool_calls:
            break
        allowed = tool_calls[: max(0, budget - calls)]
        ai = AIMessage(
            content="",
            tool_calls=[
                {"name": t.name, "args": t.arguments, "id": t.id, "type": "tool_call"}
                for t in allowed
            ],
        )
        results = (await node.ainvoke({"messages": [ai]}))["messages"] if allowed else []
        by_id = {r.tool_call_id: r for r in results}
        for t in tool_calls:
            name = tool_name_from_langchain(t.name)
            result = by_id.get(t.id)
            if result is None:
                content = json.dumps({"error": {"kind": "budget", "message": "tool budget spent"}})
            else:
                calls += 1
                content = (
                    result.content
                    if isinstance(result.content, str)
                    else json.dumps(result.content)
                )
            msgs.append(Message.tool(t.id, content, name=t.name).model_dump(mode="json"))
            try:
                payload = json.loads(content)
            except (TypeError, ValueError):
                payload = {"error": {"kind": "bad_response", "message": str(content)[:200]}}
            failed = bool(payload.get("error")) or result is None
            errors += int(failed and result is not None)
            events.append(
                {
                    "type": "tool_call",
                    "round": number,
                    "claim": f"model called {name}",
                    "tool": name,
                    "args": t.arguments,
                    **({} if not isinstance(payload, dict) else payload),
                }
            )
            evidence.append(
                EvidenceItem(
                    claim=f"{name}({json.dumps(t.arguments, ensure_ascii=False)})",
                    kind="model_tool",
                    tool=name,
                    args=t.arguments,
                    ok=not failed,
                    error=_summary(payload.get("error")) if failed else None,
                    summary=_summary(payload.get("result") if not failed else payload.get("error")),
                    effect="error" if failed else "neutral",
                    round=number,
                )
            )
        if calls >= budget:
            break
    return evidence, msgs, events, calls, errors
