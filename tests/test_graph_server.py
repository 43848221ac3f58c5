"""`langgraph dev` serves the GRE graph from langgraph.json, and a run through its HTTP API
(with a replay backend from the run's context) commits the same prediction as in-process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gre_agent.graphs.gre import Context, locate
from tests.scripted import ScriptedBackend

ROOT = Path(__file__).resolve().parents[1]
ANSWER = (
    '<think> 2. Textual clues: "Senaatintori". </think> '
    '<answer> "Latitude": "60.1695°", "Longitude": "24.9525°" </answer>'
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NO_SERVER = f"http://127.0.0.1:{free_port()}/v1"  # a free port: connections are refused


@pytest.fixture(scope="module")
def langgraph_server(tmp_path_factory):
    port = free_port()
    home = tmp_path_factory.mktemp("lg-home")
    env = {
        **os.environ,
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "LANGSMITH_TRACING": "false",
        "GRE_HOME": str(home),
        # a run without context uses the settings' model server: here one nobody serves
        "GRE_MODEL__BACKEND": "openai",
        "GRE_MODEL__BASE_URLS": f'["{NO_SERVER}"]',
    }
    log = (home / "server.log").open("wb")
    langgraph = Path(sys.executable).with_name("langgraph")
    proc = subprocess.Popen(
        [str(langgraph), "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail("langgraph dev exited:\n" + (home / "server.log").read_text()[-3000:])
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    "langgraph dev did not start:\n" + (home / "server.log").read_text()[-3000:]
                )
            time.sleep(0.3)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_langgraph_dev_serves_the_graph(langgraph_server, tmp_path):
    from langgraph_sdk import get_client

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (10, 120, 40)).save(photo)
    local = asyncio.run(
        locate(
            photo,
            Context(mode="single", backend_obj=ScriptedBackend({"gre": ANSWER})),
            trace_path=tmp_path / "single.jsonl",
        )
    )

    async def remote():
        client = get_client(url=langgraph_server)
        try:
            assistants = await client.assistants.search(graph_id="gre")
            assert assistants, "the gre graph is registered"
            thread = await client.threads.create()
            return await client.runs.wait(
                thread["thread_id"],
                "gre",
                input={"image": str(photo)},
                context={
                    "mode": "single",
                    "backend": "replay",
                    "replay_path": str(tmp_path / "single.jsonl"),
                    "offline": True,
                },
            )
        finally:
            await client.aclose()

    state = asyncio.run(remote())
    pred = state["prediction"]
    assert (pred["lat"], pred["lon"]) == (local.prediction.lat, local.prediction.lon)
    assert pred["answer_text"] == ANSWER


def test_langgraph_dev_serves_the_chat_graph(langgraph_server, tmp_path):
    """The chat graph through the server's HTTP API: a message with an image path gets the
    agent's answer; a follow-up on the same thread is answered from the stored run."""
    from langgraph_sdk import get_client

    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (10, 120, 40)).save(photo)
    local = asyncio.run(
        locate(
            photo,
            Context(mode="single", backend_obj=ScriptedBackend({"gre": ANSWER})),
            trace_path=tmp_path / "single.jsonl",
        )
    )
    context = {
        "mode": "single",
        "backend": "replay",
        "replay_path": str(tmp_path / "single.jsonl"),
        "offline": True,
        "trace_dir": str(tmp_path / "traces"),
    }

    async def remote():
        client = get_client(url=langgraph_server)
        try:
            assert await client.assistants.search(graph_id="chat"), "the chat graph is registered"
            thread = await client.threads.create()
            first = await client.runs.wait(
                thread["thread_id"],
                "chat",
                input={"messages": [{"role": "user", "content": f"/image {photo}"}]},
                context=context,
            )
            stages = [
                chunk.data
                async for chunk in client.runs.stream(
                    thread["thread_id"],
                    "chat",
                    input={"messages": [{"role": "user", "content": "how sure are you?"}]},
                    context=context,
                    stream_mode=["custom", "values"],
                )
                if chunk.event == "custom"
            ]
            state = await client.threads.get_state(thread["thread_id"])
            return first, stages, state["values"]
        finally:
            await client.aclose()

    first, stages, values = asyncio.run(remote())
    reply = first["reply"]
    assert reply["intent"] == "locate"
    assert (reply["prediction"]["lat"], reply["prediction"]["lon"]) == (
        local.prediction.lat,
        local.prediction.lon,
    )
    assert stages == []  # the follow-up ran no agent stage
    messages = values["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "human", "ai"]
    assert "Confidence" in messages[-1]["content"]
    assert messages[0]["additional_kwargs"]["image"] == str(photo)


def _run(url: str, photo: str, context: dict | None) -> dict:
    from langgraph_sdk import get_client

    async def remote():
        client = get_client(url=url)
        try:
            thread = await client.threads.create()
            kwargs = {"context": context} if context is not None else {}
            return await client.runs.wait(
                thread["thread_id"], "gre", input={"image": photo}, **kwargs
            )
        finally:
            await client.aclose()

    return asyncio.run(remote())


def test_a_relative_image_path_is_read_from_the_server_directory(langgraph_server, tmp_path):
    """No "BlockingError: An internal error occurred": the settings, the prompts and the
    photo are read off the server's event loop (blockbuster), in single and agent mode."""
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (10, 120, 40)).save(photo)
    asyncio.run(
        locate(
            photo,
            Context(mode="single", backend_obj=ScriptedBackend({"gre": ANSWER})),
            trace_path=tmp_path / "single.jsonl",
        )
    )
    relative = os.path.relpath(photo, ROOT)  # langgraph dev runs in the repository
    assert not Path(relative).is_absolute()
    for mode in ("single", "agent"):
        trace = tmp_path / f"{mode}.jsonl"  # a replay is used up: one copy per run
        trace.write_bytes((tmp_path / "single.jsonl").read_bytes())
        context = {
            "mode": mode,
            "stages": "single-pass",
            "backend": "replay",
            "replay_path": str(trace),
            "offline": True,
        }
        state = _run(langgraph_server, relative, context)
        assert "__error__" not in state, state
        pred = state["prediction"]
        assert pred["status"] == "ok" and pred["country_code"] == "FI", (mode, pred["reasoning"])


def test_a_run_without_context_uses_the_settings_and_says_the_server_is_down(
    langgraph_server, tmp_path
):
    """No context: the settings' backend and base_url (GRE_MODEL__*), and a typed cause
    naming that server when nothing answers there."""
    photo = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (10, 120, 40)).save(photo)
    state = _run(langgraph_server, os.path.relpath(photo, ROOT), None)
    assert "__error__" not in state, state
    pred = state["prediction"]
    assert pred["status"] == "failed" and pred["lat"] is None
    assert "unavailable" in pred["reasoning"] and NO_SERVER in pred["reasoning"]
    errors = [e for e in state["trace"] if e["type"] == "model_error"]
    assert errors and all(e["kind"] == "unavailable" for e in errors)


@pytest.mark.parametrize("mode", ["single", "agent"])
def test_no_node_blocks_the_event_loop(tmp_path, monkeypatch, mode):
    """The server's blocking-call check in-process (blockbuster, stricter than the
    server's): a relative photo path, the settings' stages, the replay backend's hashing,
    the prompts and the country tables are all read off the loop."""
    from blockbuster import BlockBuster

    from gre_agent.graphs.gre.graph import graph

    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (40, 30), (10, 120, 40)).save("p.png")
    backend = ScriptedBackend({"gre": ANSWER})
    asyncio.run(locate("p.png", Context(mode="single", backend_obj=backend), trace_path="t.jsonl"))
    context = Context(
        mode=mode, stages="single-pass", backend="replay", replay_path=str(tmp_path / "t.jsonl")
    )

    async def run():
        blockbuster = BlockBuster()
        blockbuster.activate()
        try:
            return await graph.ainvoke({"image": "p.png"}, context=context)
        finally:
            blockbuster.deactivate()

    pred = asyncio.run(run())["prediction"]
    assert pred["status"] == "ok" and pred["country_code"] == "FI", pred["reasoning"]
