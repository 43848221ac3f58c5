"""The README's LangGraph Server section (issue 15.6) documents the run input and every
context key the server's schema offers, and nothing a client cannot send."""

from __future__ import annotations

import re
from pathlib import Path

from gre_agent.graphs.gre.graph import graph

README = Path(__file__).resolve().parents[1] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("`langgraph.json` points LangGraph Server at the graph")
    return text[start : text.index("From Python, without a server:", start)]


def test_the_readme_lists_the_input_and_every_context_key():
    text = section()
    assert '{"image": PATH_OR_URL, "hints":' in text
    assert set(graph.get_input_jsonschema()["properties"]) == {"image", "hints"}
    keys = set(graph.get_context_jsonschema()["properties"])
    documented = set(
        re.findall(r"`([a-z_]+)`", text.split("**context**", 1)[1].split("(their", 1)[0])
    )
    assert documented == keys
    assert "backend_obj" not in text and "registry" not in documented


def test_the_readme_example_is_python_that_compiles():
    code = section().split("```python", 1)[1].split("```", 1)[0]
    compile(code, "README.md", "exec")
    assert "langgraph_sdk" in code and "client.runs.wait" in code
