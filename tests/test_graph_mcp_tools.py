"""Model-driven verification with an MCP server's tools: a server in gre.toml (the test's
demo server, over stdio and HTTP), offered to the model and run by the graph's ToolNode."""

from __future__ import annotations

import asyncio
import json
import sys

from gre_agent.agent.backends import Completion, ToolCall
from gre_agent.core.settings import load_settings
from gre_agent.core.trace import load_trace
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry
from tests.mcp_support import SCRIPT, http_server
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import espoo_guess, keep
from tests.test_mcp_client import write_toml


def add_call(prefix: str) -> Completion:
    call = ToolCall(id="m1", name=f"{prefix}__add", arguments={"a": 2, "b": 3})
    return Completion(text="", tool_calls=[call])


def run_with(photo, prefix: str):
    backend = ScriptedBackend({"hypotheses": espoo_guess, "verification": [add_call(prefix), keep]})
    registry = Registry(load_settings())
    ctx = Context(backend_obj=backend, registry=registry, verify="model", max_rounds=1)
    try:
        result = asyncio.run(locate(photo, ctx, trace_dir=photo.parent / "traces"))
    finally:
        registry.close()
    assert result.error is None, result.error
    return load_trace(result.trace_path)


def check(trace, prefix: str) -> None:
    offered = [t["function"]["name"] for t in trace.model_calls[-2].tools or []]
    assert f"{prefix}__add" in offered and "gazetteer__geocode" in offered
    calls = [e for e in trace.tool_calls if e.tool == f"{prefix}.add"]
    assert len(calls) == 1 and calls[0].ok
    assert calls[0].result["structured_content"] == {"result": 5}
    # the model saw the answer as a tool message before its final turn
    answers = [m for m in trace.model_calls[-1].messages if m.get("role") == "tool"]
    assert answers and answers[-1]["tool_call_id"] == "m1"
    seen = json.loads(answers[-1]["content"])
    assert seen["result"]["structured_content"] == {"result": 5}


def test_an_mcp_servers_tool_over_stdio(tmp_path, photo):
    write_toml(
        [{"name": "demo", "command": sys.executable, "args": [str(SCRIPT)], "timeout_s": 60}]
    )
    check(run_with(photo, "demo"), "demo")


def test_an_mcp_servers_tool_over_http(tmp_path, photo):
    import os

    with http_server([sys.executable, str(SCRIPT), "--http"], "demo:", dict(os.environ)) as url:
        write_toml([{"name": "web", "url": url}])
        check(run_with(photo, "web"), "web")
