"""Verification as graph nodes: model-driven tool steps run as `call_tools <-> tools`
(LangGraph's ToolNode), each step streamed and checkpointed; decide routes with Command."""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.memory import InMemorySaver

from gre_agent.agent.backends import Completion, ToolCall
from gre_agent.graphs.gre import Context, build_graph
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess, keep


def geocode(call_id: str, query: str) -> Completion:
    return Completion(
        text="",
        tool_calls=[ToolCall(id=call_id, name="gazetteer__geocode", arguments={"query": query})],
    )


def stream(photo, ctx: Context, checkpointer=None, thread: str = "t"):
    """Run the graph; returns (node names in the order they finished, final state)."""
    graph = build_graph(checkpointer=checkpointer or InMemorySaver())
    config = {"configurable": {"thread_id": thread}}

    async def go():
        nodes = []
        async for chunk in graph.astream(
            {"image": str(photo)}, config=config, context=ctx, stream_mode="updates"
        ):
            nodes.extend(chunk)
        return nodes, await graph.aget_state(config)

    return asyncio.run(go())


def test_model_tool_steps_are_graph_nodes_streamed_in_order(photo, registry):
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [geocode("c1", "Helsinki"), geocode("c2", "Espoo"), keep, keep],
        }
    )
    ctx = Context(backend_obj=backend, registry=registry, verify="model", max_rounds=1)
    nodes, snapshot = stream(photo, ctx, InMemorySaver())
    assert nodes == [
        "scene",
        "detail",
        "semantic",
        "hypotheses",
        "call_tools",
        "tools",
        "call_tools",
        "tools",
        "call_tools",
        "revise",
        "decide",
        "commit",
    ]
    state = snapshot.values
    assert state["tool_calls"] == 2
    assert state["decision"] == "commit" and "rounds done" in state["decision_reason"]
    # the exchange with the ToolNode is cleared once the round is revised
    assert state["tool_messages"] == [] and state["tool_steps"] == 0


def test_each_tool_step_is_checkpointed(photo, registry):
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [geocode("c1", "Helsinki"), keep],
        }
    )
    saver = InMemorySaver()
    ctx = Context(backend_obj=backend, registry=registry, verify="model", max_rounds=1)
    stream(photo, ctx, saver, thread="ck")
    graph = build_graph(checkpointer=saver)

    async def history():
        return [s async for s in graph.aget_state_history({"configurable": {"thread_id": "ck"}})]

    snapshots = list(reversed(asyncio.run(history())))
    pending = [s.next for s in snapshots]
    assert ("tools",) in pending, "the graph stopped between the model's call and the ToolNode"
    before_tools = next(s for s in snapshots if s.next == ("tools",))
    request = before_tools.values["tool_messages"][-1]
    assert [c["name"] for c in request.tool_calls] == ["gazetteer__geocode"]
    after_tools = snapshots[snapshots.index(before_tools) + 1]
    answers = after_tools.values["tool_messages"]
    assert answers[-1].tool_call_id == "c1" and '"result"' in answers[-1].content


def test_decide_routes_another_round_in_the_runs_mode(photo, registry):
    """A refine decision goes back to the verification node of the run's mode."""
    backend = ScriptedBackend(
        {
            "scene": SCENE,
            "detail": DETAIL_HELSINKI,
            "semantic": SEMANTIC,
            "hypotheses": espoo_guess,
            "verification": [geocode("c1", "Helsinki"), keep, geocode("c2", "Espoo"), keep],
        }
    )
    ctx = Context(
        backend_obj=backend, registry=registry, verify="model", max_rounds=2, commit_threshold=1.0
    )
    nodes, snapshot = stream(photo, ctx)
    first, second = nodes.index("decide"), len(nodes) - 1 - nodes[::-1].index("decide")
    assert first != second and nodes[first + 1] == "call_tools"
    assert snapshot.values["round"] == 2
    graph_nodes, _ = stream(photo, Context(backend_obj=backend, registry=registry, max_rounds=1))
    assert "verify" in graph_nodes and "call_tools" not in graph_nodes
