"""MCP servers as tool sources: `[[mcp_servers]]` in gre.toml, the demo server of
tests/mcp_support.py over stdio and streamable HTTP, called through the Registry,
`gre tools call` and the LangChain adapter; down and slow servers; the answer cache."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import Settings, load_settings
from gre_agent.tools import Registry, to_langchain
from gre_agent.tools.mcp.connection import close_all
from gre_agent.tools.mcp.source import McpResult
from tests.mcp_support import SCRIPT, free_port, http_server

runner = CliRunner()
DEMO_TOOLS = {"demo.add", "demo.echo", "demo.fail", "demo.slow", "demo.starts"}


@pytest.fixture(autouse=True)
def _no_sessions_left() -> Iterator[None]:
    yield
    close_all()  # each test starts its own servers; none outlives it


def stdio_entry(marker: Path, **extra: Any) -> dict[str, Any]:
    return {
        "name": "demo",
        "command": sys.executable,
        "args": [str(SCRIPT)],
        "env": {"DEMO_MARKER": str(marker)},
        "timeout_s": 60,
        **extra,
    }


def starts(marker: Path) -> int:
    return len(marker.read_text().splitlines()) if marker.exists() else 0


def run(registry: Registry, name: str, args: dict[str, Any]) -> Any:
    return asyncio.run(registry.get(name).run(args))


def write_toml(entries: list[dict[str, Any]]) -> None:
    lines = []
    for entry in entries:
        lines.append("[[mcp_servers]]")
        for key, value in entry.items():
            if isinstance(value, dict):
                inline = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inline} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
    Path(os.environ["GRE_CONFIG"]).write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def demo_http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = dict(os.environ)
    with http_server([sys.executable, str(SCRIPT), "--http"], "demo:", env) as url:
        yield url


# -- settings ---------------------------------------------------------------------------


def test_gre_toml_mcp_servers_are_typed(tmp_path):
    write_toml([stdio_entry(tmp_path / "m"), {"name": "web", "url": "http://127.0.0.1:1/mcp"}])
    servers = load_settings().mcp_servers
    assert [s.name for s in servers] == ["demo", "web"]
    assert servers[0].args == [str(SCRIPT)] and servers[1].url == "http://127.0.0.1:1/mcp"
    for bad in (
        [{"name": "x"}],  # neither command nor url
        [{"name": "x", "command": "a", "url": "http://h/mcp"}],
        [{"name": "a__b", "command": "a"}],  # would not map back from a model's a__b__tool
        [{"name": "osm", "command": "a"}],  # a tool family's prefix
        [{"name": "x", "command": "a"}, {"name": "y", "prefix": "x", "command": "b"}],
    ):
        with pytest.raises(ValidationError):
            Settings(mcp_servers=bad)


def test_no_servers_no_sdk_import_and_no_mcp_tools(settings):
    registry = Registry(settings, include_plugins=False)
    assert registry.mcp_names() == [] and "demo.add" not in registry


# -- a stdio server -----------------------------------------------------------------


def test_stdio_server_tools_join_the_registry_lazily(tmp_path):
    marker = tmp_path / "starts"
    registry = Registry(Settings(home=tmp_path, mcp_servers=[stdio_entry(marker)]))
    assert starts(marker) == 0  # nothing starts with the registry
    assert set(registry.mcp_names()) == DEMO_TOOLS
    assert set(registry.names()) >= DEMO_TOOLS and "demo.add" in registry
    tool = registry.get("demo.add")
    assert tool.source == "mcp" and tool.description == "Add two integers."
    assert tool.Args.model_json_schema()["required"] == ["a", "b"]

    out = run(registry, "demo.add", {"a": 2, "b": 3})
    assert out.ok, out.error
    assert out.backend == "mcp" and not out.cached
    assert out.value(McpResult).structured_content == {"result": 5}
    # a second event loop (another asyncio.run) reuses the same session and process
    again = run(registry, "demo.echo", {"text": "moi", "shout": True})
    assert again.value(McpResult).structured_content == {"text": "MOI", "length": 3}
    assert starts(marker) == 1

    pid = int(marker.read_text().split()[0])
    registry.close()
    assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_stdio_errors_are_typed(tmp_path):
    registry = Registry(Settings(home=tmp_path, mcp_servers=[stdio_entry(tmp_path / "m")]))
    bad = run(registry, "demo.add", {"a": "two", "b": 3})
    assert bad.error.kind == ErrorKind.invalid_args and "a" in bad.error.message
    failed = run(registry, "demo.fail", {"reason": "no such street"})
    assert failed.error.kind == ErrorKind.internal and "fail" in failed.error.message
    with pytest.raises(KeyError):
        registry.get("demo.nothing")


def test_gre_tools_call_and_list_through_gre_toml(tmp_path):
    marker = tmp_path / "m"
    write_toml([stdio_entry(marker)])
    listed = runner.invoke(app, ["tools", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    specs = {s["name"]: s for s in json.loads(listed.stdout)}
    assert set(specs) >= DEMO_TOOLS and specs["demo.add"]["source"] == "mcp"

    result = runner.invoke(app, ["tools", "call", "demo.add", "--args", '{"a": 20, "b": 22}'])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["structured_content"] == {"result": 42}
    bad = runner.invoke(app, ["tools", "call", "demo.add", "--args", '{"a": 1}'])
    assert bad.exit_code == 2 and json.loads(bad.stdout)["error"]["kind"] == "invalid_args"


def test_langchain_adapter_runs_an_mcp_tool(tmp_path):
    registry = Registry(Settings(home=tmp_path, mcp_servers=[stdio_entry(tmp_path / "m")]))
    lc = to_langchain(registry.get("demo.echo"))
    assert lc.name == "demo__echo"
    assert lc.tool_call_schema["properties"].keys() == {"text", "shout"}
    assert lc.args == registry.get("demo.echo").Args.model_json_schema()["properties"]
    out = asyncio.run(lc.ainvoke({"text": "hei"}))
    assert out["result"]["structured_content"] == {"text": "hei", "length": 3}


# -- an HTTP server ---------------------------------------------------------------------


def test_http_server_through_gre_toml(tmp_path, demo_http_url):
    write_toml([{"name": "web", "url": demo_http_url, "headers": {"X-Test": "1"}}])
    registry = Registry(load_settings())
    assert {n.replace("web.", "demo.") for n in registry.mcp_names()} == DEMO_TOOLS
    out = run(registry, "web.add", {"a": 1, "b": 1})
    assert out.value(McpResult).structured_content == {"result": 2}
    result = runner.invoke(app, ["tools", "call", "web.echo", "--args", '{"text": "x"}'])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["structured_content"]["text"] == "x"


def test_a_slow_call_times_out(tmp_path, demo_http_url):
    server = {"name": "web", "url": demo_http_url, "timeout_s": 1.0, "cache_mode": "off"}
    registry = Registry(Settings(home=tmp_path, mcp_servers=[server]))
    assert "web.slow" in registry  # connected and listed
    started = time.monotonic()
    out = run(registry, "web.slow", {"seconds": 30})
    assert out.error.kind == ErrorKind.timeout
    assert time.monotonic() - started < 10


# -- servers that are down or hang ------------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]},
        {"command": "/nonexistent/mcp-server"},
        {"url": f"http://127.0.0.1:{free_port()}/mcp"},
    ],
    ids=["exits", "no-program", "refused"],
)
def test_a_server_that_is_down_is_unavailable(tmp_path, entry):
    server = {"name": "down", "timeout_s": 20, **entry}
    registry = Registry(Settings(home=tmp_path, mcp_servers=[server]))
    started = time.monotonic()
    assert registry.mcp_names() == []
    out = run(registry, "down.anything", {"x": 1})
    assert out.error.kind == ErrorKind.unavailable, out.error
    assert "down" in out.error.message
    assert time.monotonic() - started < 10


def test_a_server_that_never_answers_times_out(tmp_path):
    hang = {
        "name": "hang",
        "command": sys.executable,
        "args": ["-c", "import sys; sys.stdin.read()"],  # reads, never answers
        "timeout_s": 1.0,
    }
    registry = Registry(Settings(home=tmp_path, mcp_servers=[hang]))
    started = time.monotonic()
    out = run(registry, "hang.anything", {})
    assert out.error.kind == ErrorKind.timeout, out.error
    assert time.monotonic() - started < 10


# -- the answer cache -------------------------------------------------------------------


def test_answers_are_cached_and_replay_only_never_starts_the_server(tmp_path):
    recorded = tmp_path / "recorded"
    registry = Registry(Settings(home=tmp_path, mcp_servers=[stdio_entry(recorded)]))
    assert run(registry, "demo.add", {"a": 2, "b": 2}).ok
    hit = run(registry, "demo.add", {"a": 2, "b": 2})
    assert hit.cached and hit.value(McpResult).structured_content == {"result": 4}
    assert not run(registry, "demo.fail", {"reason": "x"}).ok  # errors are not stored
    registry.close()

    replayed = tmp_path / "replayed"
    replay = Settings(home=tmp_path, cache_mode="replay-only", mcp_servers=[stdio_entry(replayed)])
    registry = Registry(replay)
    assert set(registry.mcp_names()) == DEMO_TOOLS  # the listing came from the cache
    out = run(registry, "demo.add", {"a": 2, "b": 2})
    assert out.cached and out.value(McpResult).structured_content == {"result": 4}
    miss = run(registry, "demo.add", {"a": 5, "b": 5})
    assert miss.error.kind == ErrorKind.cache_miss
    assert run(registry, "demo.fail", {"reason": "x"}).error.kind == ErrorKind.cache_miss
    assert starts(replayed) == 0

    # without a stored listing, replay-only still answers from stored calls
    fresh = Settings(
        home=tmp_path / "other",
        cache_mode="replay-only",
        mcp_servers=[stdio_entry(replayed)],
    )
    assert Registry(fresh).mcp_names() == []
    assert run(Registry(fresh), "demo.add", {"a": 1}).error.kind == ErrorKind.cache_miss
    assert starts(replayed) == 0


def test_cache_mode_off_always_asks_the_server(tmp_path):
    marker = tmp_path / "m"
    entry = stdio_entry(marker, cache_mode="off")
    registry = Registry(Settings(home=tmp_path, mcp_servers=[entry]))
    first = run(registry, "demo.add", {"a": 1, "b": 2})
    second = run(registry, "demo.add", {"a": 1, "b": 2})
    assert first.ok and second.ok and not second.cached
    assert not (tmp_path / "cache" / "mcp.sqlite").exists()
