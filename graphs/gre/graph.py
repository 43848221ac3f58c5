"""Build and compile the GRE agent graph.

START -> route_mode -> scene -> detail -> semantic -> hypotheses -+-> verify ------+
                                                                  |                 v
                                                                  +-> call_tools -> revise -> decide
                                                                      ^    |                   |
                                                                      tools                    |
       (decide: another round of verify or call_tools, or commit -> END)
       route_mode -> single -> END          (GRE's single-shot baseline, no tools)

verify is graph-driven verification (the graph extracts claims and calls tools);
call_tools <-> tools is model-driven (the model calls tools, LangGraph's ToolNode runs
them); both end in revise, where the model revises its candidates with the evidence.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from gre_agent.graphs.gre import model_tools, nodes
from gre_agent.graphs.gre.context import Context
from gre_agent.graphs.gre.state import InputState, State


def route_mode(state: State, runtime: Runtime[Context]) -> Literal["scene", "single"]:
    mode = runtime.context.mode
    if mode not in ("agent", "single"):
        raise ValueError(f"unknown mode {mode!r}")
    return "single" if mode == "single" else "scene"


def add_verification(builder: StateGraph[State, Context, Any, Any]) -> None:
    """The graph's second half, from a `hypotheses` node the caller adds: verification
    rounds (either mode), the decision, the commit. The chat's re-check graph shares it."""
    builder.add_node("verify", nodes.verify)
    builder.add_node("call_tools", nodes.call_tools)
    builder.add_node("tools", model_tools.TOOL_NODE)
    builder.add_node("revise", nodes.revise)
    builder.add_node("decide", nodes.decide)
    builder.add_node("commit", nodes.commit)
    builder.add_conditional_edges("hypotheses", nodes.route_after_hypotheses)
    builder.add_edge("verify", "revise")
    builder.add_edge("tools", "call_tools")
    builder.add_edge("revise", "decide")
    builder.add_edge("commit", END)


def build_graph(checkpointer=None):
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("scene", nodes.scene)
    builder.add_node("detail", nodes.detail)
    builder.add_node("semantic", nodes.semantic)
    builder.add_node("hypotheses", nodes.hypotheses)
    builder.add_node("single", nodes.single)
    builder.add_conditional_edges(START, route_mode)
    builder.add_edge("scene", "detail")
    builder.add_edge("detail", "semantic")
    builder.add_edge("semantic", "hypotheses")
    builder.add_edge("single", END)
    add_verification(builder)
    return builder.compile(checkpointer=checkpointer, name="gre-agent")


graph = build_graph()
"""The compiled graph (what langgraph.json serves)."""
