"""The context schema LangGraph's server offers its clients (issue 15.6): the JSON fields a
run may send, never `backend_obj` or `registry` (Python callers still inject those)."""

from __future__ import annotations

from gre_agent.graphs.chat.graph import graph as chat_graph
from gre_agent.graphs.gre import Context
from gre_agent.graphs.gre.graph import graph


def test_the_schema_has_no_live_objects():
    for g in (graph, chat_graph):
        props = g.get_context_jsonschema()["properties"]
        assert "backend_obj" not in props and "registry" not in props
        assert {"backend", "model", "base_url", "offline", "max_rounds"} <= set(props)


def test_python_callers_still_inject_them():
    backend, registry = object(), object()
    ctx = Context(backend_obj=backend, registry=registry)
    assert ctx.backend_obj is backend and ctx.registry is registry
