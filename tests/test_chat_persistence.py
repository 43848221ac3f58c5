"""Chat sessions survive the process: killed with SIGKILL in the middle of an answer, a
new process finds the conversation up to the last completed step and finishes the answer
from the stage it had reached."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from PIL import Image

from gre_agent.core.geo import geodesic_km
from gre_agent.core.settings import Settings
from gre_agent.graphs.chat import ChatContext, ChatService
from gre_agent.tools import Registry
from tests.scripted import ScriptedBackend
from tests.test_chat_graph import script
from tests.test_graph_agent import ALEKSANTERINKATU

ROOT = Path(__file__).resolve().parents[1]

# The child locates a photo; the scripted model blocks at the hypotheses stage, after
# scene, detail and semantic are done, and says so through a marker file.
CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from gre_agent.core.settings import Settings
    from gre_agent.graphs.chat import ChatContext, ChatService
    from gre_agent.tools import Registry
    from tests.scripted import ScriptedBackend
    from tests.test_chat_graph import script

    db, photo, osm, marker = sys.argv[1:5]

    def block(_messages):
        Path(marker).write_text("at hypotheses")
        time.sleep(600)
        return ""

    async def main():
        registry = Registry(Settings(offline=True, osm={"data_path": osm}), include_plugins=False)
        ctx = ChatContext(backend_obj=ScriptedBackend(script(hypotheses=block)), registry=registry)
        async with ChatService(db, ctx) as chat:
            async for _ in chat.send("sess", "where is this?", image=photo):
                pass

    asyncio.run(main())
    """
)


def test_killed_mid_answer_the_session_resumes_from_the_last_stage(tmp_path, helsinki_osm_db):
    photo = tmp_path / "street.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(photo)
    db, marker = tmp_path / "sessions.sqlite", tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(photo), str(helsinki_osm_db), str(marker)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the child never reached the hypotheses stage"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    registry = Registry(
        Settings(home=tmp_path / "h", offline=True, osm={"data_path": str(helsinki_osm_db)}),
        include_plugins=False,
    )
    backend = ScriptedBackend(script())

    async def main():
        async with ChatService(db, ChatContext(backend_obj=backend, registry=registry)) as chat:
            [info] = await chat.sessions()
            assert info.id == "sess" and info.interrupted and info.turns == 1
            history = await chat.history("sess")
            assert [(t.role, t.text) for t in history] == [("user", "where is this?")]
            assert history[0].image and Path(history[0].image).exists()
            events = [e async for e in chat.resume("sess")]
            # scene, detail and semantic were checkpointed before the kill: not asked again
            assert backend.stages()[0] == "hypotheses"
            assert not {"scene", "detail", "semantic"} & set(backend.stages())
            assert events[0].stage == "hypotheses"
            reply = events[-1].reply
            pred = reply.prediction
            assert geodesic_km(pred["lat"], pred["lon"], *ALEKSANTERINKATU) < 1.0
            assert not await chat.interrupted("sess")
            assert [t.role for t in await chat.history("sess")] == ["user", "assistant"]
            # and the stored run answers questions in yet another service
        async with ChatService(db, ChatContext(registry=registry)) as again:
            events = [e async for e in again.send("sess", "how sure are you?")]
            assert f"{pred['confidence']:.2f}" in events[-1].reply.text

    asyncio.run(main())


def test_a_crashing_model_gets_a_reply_and_the_session_goes_on(tmp_path, helsinki_osm_db):
    """An exception inside the agent is reported in the reply, saved, and the next process
    carries on with the same session."""
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (64, 48), (100, 100, 100)).save(photo)
    registry = Registry(
        Settings(home=tmp_path / "h", offline=True, osm={"data_path": str(helsinki_osm_db)}),
        include_plugins=False,
    )

    class Crash(Exception):
        pass

    def crash(_messages):
        raise Crash("the process dies here")

    async def main():
        db = tmp_path / "s.sqlite"
        ctx = ChatContext(backend_obj=ScriptedBackend(script(scene=crash)), registry=registry)
        async with ChatService(db, ctx) as chat:
            async for event in chat.send("s", "", image=photo):
                assert event.type == "progress" or "failed" in event.reply.text
        backend = ScriptedBackend(script())
        async with ChatService(db, ChatContext(backend_obj=backend, registry=registry)) as chat:
            assert not await chat.interrupted("s")  # the runner caught it: a reply was given
            events = [e async for e in chat.send("s", "/recheck")]
            assert events[-1].reply.intent == "recheck"
            assert [t.role for t in await chat.history("s")] == ["user", "assistant"] * 2

    asyncio.run(main())
