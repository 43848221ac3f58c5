"""The chat graph through ChatService: a photo located with the scripted model on the real
offline tools, follow-up questions answered from the stored run, hints re-verified,
sessions persisted in SQLite, bad input answered in the chat."""

from __future__ import annotations

import asyncio

from PIL import Image

from gre_agent.core.geo import geodesic_km
from gre_agent.graphs.chat import ChatContext, ChatService
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import ALEKSANTERINKATU, DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess

DETAIL_NO_STREET = (
    "<think> 2. Textual clues: nothing legible. 5. Transport context: trams. </think>"
)
SWEDEN_TOO = (
    '{"hypotheses": [{"place": "Espoo", "country_code": "FI", "lat": 60.205, "lon": 24.40, '
    '"radius_km": 40, "confidence": 0.5}, {"place": "Stockholm", "country_code": "SE", '
    '"lat": 59.33, "lon": 18.07, "radius_km": 30, "confidence": 0.3}]}'
)


def keep(_messages) -> str:
    return '{"decision": "refine", "findings": ["waiting for more checks"]}'


def script(**overrides):
    base = {
        "scene": SCENE,
        "detail": DETAIL_HELSINKI,
        "semantic": SEMANTIC,
        "hypotheses": SWEDEN_TOO,
        "verification": keep,
        "chat": "The photo shows a Helsinki street.",
    }
    base.update(overrides)
    return base


def service(tmp_path, backend, registry, **ctx):
    context = ChatContext(
        backend_obj=backend, registry=registry, trace_dir=str(tmp_path / "traces"), **ctx
    )
    return ChatService(tmp_path / "sessions.sqlite", lambda: context)


async def turn(chat, sid, text="", image=None):
    events = [e async for e in chat.send(sid, text, image=image)]
    assert events[-1].type == "reply" and all(e.type == "progress" for e in events[:-1])
    return events[:-1], events[-1].reply


def test_locate_then_questions_from_the_trace(tmp_path, photo, registry):
    backend = ScriptedBackend(script())

    async def main():
        async with service(tmp_path, backend, registry) as chat:
            progress, reply = await turn(chat, "s1", "", image=photo)
            stages = [e.stage for e in progress]
            assert stages[:4] == ["scene", "detail", "semantic", "hypotheses"]
            assert "commit" in stages and all(e.text for e in progress)
            pred = reply.prediction
            assert reply.intent == "locate" and pred["country_code"] == "FI"
            assert geodesic_km(pred["lat"], pred["lon"], *ALEKSANTERINKATU) < 1.0
            assert "Aleksanterinkatu" in reply.text and "openstreetmap.org" in reply.text
            assert len(reply.hypotheses) >= 2 and reply.trace_path and reply.evidence
            calls = len(backend.calls)

            _, why_not = await turn(chat, "s1", "why not Sweden?")
            assert why_not.intent == "why"
            assert "Stockholm" in why_not.text and "candidate" in why_not.text
            _, why_not_norway = await turn(chat, "s1", "why not Norway?")
            assert "never among the candidates" in why_not_norway.text
            _, tools = await turn(chat, "s1", "what did the tools say?")
            assert tools.intent == "evidence" and "osm." in tools.text
            _, sure = await turn(chat, "s1", "how sure are you?")
            assert sure.intent == "confidence" and f"{pred['confidence']:.2f}" in sure.text
            _, alts = await turn(chat, "s1", "/alternatives")
            assert "Stockholm" in alts.text and "Espoo" in alts.text
            assert len(backend.calls) == calls, "questions are answered without the model"

            _, chat_reply = await turn(chat, "s1", "tell me a story about this")
            assert chat_reply.text == "The photo shows a Helsinki street."
            history = await chat.history("s1")
            assert [t.role for t in history] == ["user", "assistant"] * 7
            assert history[0].image and history[1].reply.prediction == pred

    asyncio.run(main())


def test_a_hint_re_verifies_without_looking_at_the_photo_again(tmp_path, photo, registry):
    backend = ScriptedBackend(script(detail=DETAIL_NO_STREET, hypotheses=espoo_guess))

    async def main():
        async with service(tmp_path, backend, registry) as chat:
            _, first = await turn(chat, "s", image=photo)
            assert (
                geodesic_km(first.prediction["lat"], first.prediction["lon"], *ALEKSANTERINKATU)
                > 20
            )
            n = len(backend.calls)
            progress, second = await turn(chat, "s", "/hint Aleksanterinkatu")
            assert second.intent == "hint" and second.hints == ["Aleksanterinkatu"]
            stages = {s for s, _ in backend.calls[n:]}
            assert stages <= {"hypotheses", "verification"}, stages
            assert progress[0].stage == "hypotheses"
            # the hint reached the model's prompts and the checked claims
            assert "Aleksanterinkatu" in backend.calls[n][1][-1].text
            pred = second.prediction
            assert geodesic_km(pred["lat"], pred["lon"], *ALEKSANTERINKATU) < 1.0
            assert "moved" in second.text
            _, why = await turn(chat, "s", "why?")
            assert "Aleksanterinkatu" in why.text

    asyncio.run(main())


def test_bad_input_is_answered_in_the_chat_and_the_session_goes_on(tmp_path, photo, registry):
    backend = ScriptedBackend(script())
    not_image = tmp_path / "notes.txt"
    not_image.write_text("hello")
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all")
    bomb = tmp_path / "bomb.png"
    Image.new("1", (9000, 8000)).save(bomb)  # 72 Mpx: over check_image's limit, tiny file

    async def main():
        async with service(tmp_path, backend, registry) as chat:
            for text, image, expect in [
                ("", None, "Empty message"),
                ("   ", None, "Empty message"),
                ("", not_image, "not an image"),
                ("", corrupt, "corrupt"),
                ("", bomb, "pixels"),
                ("", tmp_path / "missing.jpg", "no such file"),
                ("/image", None, "Which photo"),
                ("/hint", None, "What do you know"),
            ]:
                _, reply = await turn(chat, "s", text, image=image)
                assert reply.intent == "error" and expect in reply.text, (text, reply.text)
            assert backend.calls == []
            _, reply = await turn(chat, "s", "", image=photo)
            assert reply.intent == "locate" and reply.prediction["lat"] is not None
            _, reply = await turn(chat, "s", "", image=corrupt)
            assert reply.intent == "error"
            _, why = await turn(chat, "s", "/why")  # the located photo is still there
            assert why.image == reply.image and "Aleksanterinkatu" in why.text

    asyncio.run(main())


def test_questions_before_any_photo_and_help_need_no_model(tmp_path, registry):
    async def main():
        ctx = ChatContext(backend="openai", base_url="http://127.0.0.1:9/v1", registry=registry)
        async with ChatService(tmp_path / "s.sqlite", ctx) as chat:
            _, why = await turn(chat, "x", "why?")
            assert "No photo yet" in why.text
            _, hint = await turn(chat, "x", "I think it is Finland")
            assert hint.intent == "hint" and hint.hints == ["I think it is Finland"]
            _, hello = await turn(chat, "x", "hello there")  # no model reachable: the help
            assert hello.intent == "chat" and "/image PATH" in hello.text

    asyncio.run(main())


def test_concurrent_sessions_never_see_each_other(tmp_path, photo, registry):
    other = tmp_path / "other.png"
    Image.new("RGB", (50, 50), (10, 200, 10)).save(other)
    backend = ScriptedBackend(script())

    async def main():
        async with service(tmp_path, backend, registry) as chat:

            async def session(sid, image, hint):
                _, located = await turn(chat, sid, image=image)
                _, hinted = await turn(chat, sid, f"/hint {hint}")
                return located, hinted, await chat.history(sid), await chat.state(sid)

            (_, ha, hist_a, sa), (_, hb, hist_b, sb) = await asyncio.gather(
                session("a", photo, "taken in winter"), session("b", other, "near the sea")
            )
            assert ha.hints == ["taken in winter"] and hb.hints == ["near the sea"]
            assert sa["photo"] != sb["photo"] and sa["hints"] != sb["hints"]
            assert "near the sea" not in str(hist_a) and "taken in winter" not in str(hist_b)
            assert {s.id for s in await chat.sessions()} == {"a", "b"}
            assert await chat.delete("a") and not await chat.delete("nope")
            assert await chat.history("a") == [] and len(await chat.history("b")) == 4

    asyncio.run(main())


def test_chat_on_the_tiny_random_qwen(tmp_path, photo, registry, tiny_qwen_dir):
    """Random text from a real transformers model: every turn still ends in a reply."""
    import torch

    from gre_agent.agent.backends import TransformersBackend
    from gre_agent.core.settings import ModelSettings

    torch.set_num_threads(1)
    backend = TransformersBackend(
        ModelSettings(
            backend="transformers",
            model=str(tiny_qwen_dir),
            max_tokens=24,
            device="cpu",
            dtype="float32",
        )
    )

    async def main():
        async with service(tmp_path, backend, registry, max_rounds=1) as chat:
            progress, located = await turn(chat, "t", image=photo)
            assert located.intent == "locate" and located.prediction is not None
            assert {"scene", "detail", "semantic", "hypotheses", "commit"} <= {
                e.stage for e in progress
            }
            _, hinted = await turn(chat, "t", "I think it is in Finland")
            assert hinted.intent == "hint" and hinted.prediction is not None
            _, free = await turn(chat, "t", "tell me more")
            assert free.intent == "chat" and free.text.strip()
            for question in ("why not Sweden?", "what did the tools say?", "how sure are you?"):
                _, reply = await turn(chat, "t", question)
                assert reply.intent != "error" and reply.text
            assert len(await chat.history("t")) == 12

    asyncio.run(main())


def test_model_router_classifies_what_the_rules_cannot(tmp_path, photo, registry):
    def chat_answer(messages):
        asked = messages[-1].text
        return "confidence" if "Which of these does the user want" in asked else "a story"

    backend = ScriptedBackend(script(chat=chat_answer))

    async def main():
        async with service(tmp_path, backend, registry, router="model") as chat:
            _, located = await turn(chat, "r", "", image=photo)
            n = len(backend.calls)
            _, reply = await turn(chat, "r", "tell me honestly about it")
            assert reply.intent == "confidence"
            assert f"{located.prediction['confidence']:.2f}" in reply.text
            # one short routing call; the answer itself came from the stored run
            assert [s for s, _ in backend.calls[n:]] == ["chat"]
        async with service(tmp_path, backend, registry) as chat:  # rules only: plain chat
            _, plain = await turn(chat, "r2", "tell me honestly about it")
            assert plain.intent == "chat"

    asyncio.run(main())


def test_the_models_text_streams_into_the_chat_as_it_is_written(tmp_path, photo, registry):
    backend = ScriptedBackend(script())

    async def main():
        async with service(tmp_path, backend, registry, stream_text=True) as chat:
            return [e async for e in chat.send("s1", "", image=photo)]

    events = asyncio.run(main())
    assert events[-1].type == "reply"
    texts = [e for e in events if e.type == "text"]
    assert texts, "no streamed text"
    # each model call's text comes before the line of the stage that read it
    kinds = [(e.type, e.stage) for e in events]
    assert kinds.index(("text", "scene")) < kinds.index(("progress", "scene"))
    scene_text = "".join(e.text for e in texts if e.stage == "scene")
    assert scene_text == script()["scene"]


def test_streamed_pieces_from_an_openai_server_reach_the_chat(tmp_path, photo, registry):
    from gre_agent.agent.backends import OpenAIBackend
    from gre_agent.core.settings import ModelSettings
    from tests.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer().start()  # answers "echo: <the prompt>", a word a piece
    try:
        backend = OpenAIBackend(ModelSettings(max_tokens=64), base_urls=[server.url])

        async def main():
            async with service(tmp_path, backend, registry, stream_text=True, max_rounds=0) as chat:
                events = [e async for e in chat.send("s1", "", image=photo)]
            await backend.aclose()
            return events

        events = asyncio.run(main())
    finally:
        server.stop()
    first = [e.text for e in events if e.type == "text" and e.stage == "single_pass"]
    assert len(first) > 1, "the answer arrived in one piece: not streamed"
    assert "".join(first).startswith("echo: Where was this photo taken?")
