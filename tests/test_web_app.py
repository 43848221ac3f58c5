"""The web chat without a browser: its view functions and its Gradio event handlers, called
directly, over a real ChatService (scripted model, real offline tools, SQLite sessions)."""

from __future__ import annotations

import html
import json
import re
from types import SimpleNamespace

import pytest

from gre_agent.cli.main import app
from gre_agent.cli.web import is_loopback
from gre_agent.cli.web_app import EMPTY_MESSAGE, WebChat, build_app, reply_markdown
from gre_agent.cli.web_view import (
    NO_MAP,
    answer_markdown,
    esc,
    esc_links,
    evidence_markdown,
    map_iframe,
    map_layer,
)
from gre_agent.core.trace import header, write_trace
from tests.web_support import corrupt_jpeg, make_web_chat, photo, png_bomb, text_file

LOADS = re.compile(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="([^"]+)"')


async def send(web: WebChat, sid: str, text: str = "", files: list[str] | None = None, chat=None):
    """All the updates one message produces; the last one's (chat, answer, evidence, map)."""
    updates = [u async for u in web.respond({"text": text, "files": files or []}, sid, chat)]
    return updates


def texts(history: list[dict]) -> list[str]:
    return [m["content"] for m in history if isinstance(m["content"], str)]


# --- view functions ------------------------------------------------------------------------


def test_model_text_is_shown_not_interpreted():
    shown = esc("<script>alert(1)</script> **bold** [x](javascript:y) | `code`")
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "\\*\\*bold\\*\\*" in shown and "\\[x\\]" in shown and "\\|" in shown
    linked = esc_links("Map: https://www.openstreetmap.org/?mlat=1&mlon=2#map=15/1/2 ok_go")
    assert "<https://www.openstreetmap.org/?mlat=1&mlon=2#map=15/1/2>" in linked
    assert linked.endswith("ok\\_go")
    assert reply_markdown("line one\nline <b>two</b>", error=True).startswith("⚠️ line one\n")


def test_answer_and_evidence_panels():
    assert "No answer yet" in answer_markdown(None)
    assert "Could not locate" in answer_markdown(None, "ImageError: bad")
    assert "No place found" in answer_markdown({"lat": None, "status": "failed"})
    pred = {
        "lat": 60.1685,
        "lon": 24.949,
        "place": "Helsinki",
        "country_code": "FI",
        "confidence": 0.93,
        "status": "ok",
        "rounds": 1,
        "tool_calls": 4,
    }
    card = answer_markdown(pred)
    assert "60.16850, 24.94900" in card and "Finland (FI)" in card and "0.93" in card
    assert "mlat=60.16850" in card
    evidence = [
        {"claim": "weak", "tool": "country.facts", "effect": "support", "weight": 0.3},
        {
            "claim": "street 'Aleksanterinkatu'",
            "tool": "osm.find_named",
            "effect": "confirm",
            "weight": 2.5,
            "candidate": "Helsinki, FI",
            "summary": "found 3 ways",
        },
        {"claim": "x", "tool": "osm.find_named", "effect": "error", "error": "timeout"},
    ]
    listed = evidence_markdown(evidence).splitlines()
    assert "Aleksanterinkatu" in listed[2] and "found 3 ways" in listed[2]  # strongest first
    assert any("timeout" in line and "⚠" in line for line in listed)
    assert "No evidence" in evidence_markdown([])


def test_a_line_after_a_list_is_a_paragraph_of_its_own():
    shown = reply_markdown("The candidates:\n- Helsinki\n- Espoo\nThe answer stands.")
    assert shown == "The candidates:\n- Helsinki\n- Espoo\n\nThe answer stands."
    numbered = esc_links("1. one\n  more of one\n2. two\nafter\n- three")
    assert numbered == "1. one\nmore of one\n2. two\n\nafter\n- three"


def test_a_candidate_is_named_where_it_ended_not_where_each_finding_saw_it():
    """Findings before a snap carry the old coordinates in their label; the list names
    the candidate once, as the run's hypotheses have it now."""
    key = "Helsinki|FI|60.170,24.940"
    evidence = [
        {
            "claim": "street",
            "effect": "confirm",
            "weight": 2.0,
            "candidate": "Helsinki, FI (60.1700, 24.9400)",
            "candidate_key": key,
        },
        {
            "claim": "shop",
            "effect": "support",
            "weight": 1.0,
            "candidate": "Helsinki, FI (60.1686, 24.9503)",
            "candidate_key": key,
        },
    ]
    hypotheses = [{"key": key, "label": "Helsinki, FI (60.1686, 24.9503)"}]
    listed = evidence_markdown(evidence, hypotheses)
    assert listed.count("60.1686, 24.9503") == 2 and "60.1700" not in listed


def test_map_of_a_run_is_self_contained(tmp_path):
    args = {"name": "Aleksanterinkatu"}
    trace = write_trace(
        tmp_path / "t.jsonl",
        header("street.jpg", {}),
        [
            {
                "type": "tool_call",
                "tool": "osm.find_named",
                "args": args,
                "result": {"features": [{"lat": 60.1686, "lon": 24.9502, "name": "Aleks."}]},
            }
        ],
    )
    run = {
        "photo": "street.jpg",
        "prediction": {"lat": 60.1685, "lon": 24.949, "place": "Helsinki", "confidence": 0.9},
        "hypotheses": [
            {"place": "Helsinki", "lat": 60.1685, "lon": 24.949, "status": "confirmed"},
            {"place": "Espoo", "lat": 60.205, "lon": 24.40, "status": "rejected"},
        ],
        "initial": {"place": "Espoo", "lat": 60.205, "lon": 24.40},
        "evidence": [{"claim": "street", "tool": "osm.find_named", "args": args, "weight": 2.5}],
        "trace_path": str(trace),
    }
    layer = map_layer(run)
    assert [e.label for e in layer.evidence] == ["Aleks."]
    html_ = map_iframe([layer], tiles=None)
    assert html_.startswith("<iframe") and "srcdoc=" in html_
    page = html.unescape(html_.split('srcdoc="')[1])
    assert "L.map" in page and not LOADS.findall(page), "nothing loaded from elsewhere"
    # a trace gone since: the places are still drawn, the evidence points are not
    trace.unlink()
    assert map_layer(run).evidence == [] and map_layer(run).points()
    assert map_iframe([map_layer({"photo": "x"})], None) == NO_MAP


def test_gre_web_is_registered_and_local_by_default():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["web", "--help"])
    assert result.exit_code == 0 and "127.0.0.1" in result.output
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    bad = CliRunner().invoke(app, ["web", "--backend", "openai", "--replay", "x.jsonl"])
    assert bad.exit_code == 2


# --- handlers over a real ChatService --------------------------------------------------------


@pytest.fixture
async def web(tmp_path, helsinki_osm_db):
    web, _ = make_web_chat(tmp_path, helsinki_osm_db)
    build_app(web)  # the wiring is valid for these handlers
    yield web
    await web.aclose()


async def test_a_photo_streams_stages_then_answer_evidence_and_map(web, tmp_path):
    new = await web.new_session()
    sid = new[0].value if hasattr(new[0], "value") else new[0]["value"]
    updates = await send(web, sid, "where is this?", [str(photo(tmp_path / "street.jpg"))])
    chat, _box, answer, evidence, map_html, session = updates[-1]
    assert session.value == sid and (session.choices[0][1] == sid)
    assert session.choices[0][0].startswith("where is this?"), "listed under its first words"
    assert len(updates) >= 6, "the agent's stages stream in before the answer"
    assert chat[0]["content"] == {"path": str(tmp_path / "street.jpg")}
    assert chat[1]["content"] == "where is this?"
    stages = chat[2]
    assert stages["metadata"]["status"] == "done" and "commit" in stages["content"]
    assert (
        "Aleksanterinkatu" in chat[-1]["content"]
        and "<https://www.openstreetmap.org" in (chat[-1]["content"])
    )
    assert "Finland (FI)" in answer and "Aleksanterinkatu" in evidence
    assert "<iframe" in map_html and "leaflet" in map_html.lower()

    # a follow-up is answered from the stored run: no new stages, the panels stay
    follow = await send(web, sid, "why not Sweden?", chat=chat)
    assert len(follow) == 2 and follow[-1][0][-1]["content"].startswith("Sweden")
    assert "Finland (FI)" in follow[-1][2]

    # the session is listed and reopens with its conversation and panels
    assert sid in [s for _, s in await web.choices()]
    reopened, answer2, _, map2, resume = await web.open_session(sid)
    assert texts(reopened)[0] == "where is this?" and "Finland (FI)" in answer2
    assert "<iframe" in map2 and resume.visible is False
    assert (await web.delete_session(sid))[1] == []
    assert sid not in [s for _, s in await web.choices()]


async def test_bad_uploads_are_answered_in_the_chat_and_the_session_goes_on(web, tmp_path):
    sid, chat = "bad-input", []
    for make, name, said in [
        (corrupt_jpeg, "broken.jpg", "corrupt or truncated"),
        (text_file, "notes.txt", "not an image"),
        (png_bomb, "huge.png", "decompression bomb"),
    ]:
        chat = (await send(web, sid, "", [str(make(tmp_path / name))], chat=chat))[-1][0]
        assert chat[-2]["content"] == f"[file: {name}]", "a bad file is never shown as an image"
        reply = chat[-1]["content"]
        assert reply.startswith("⚠️") and said in reply and name in reply
        assert "chat-images" not in reply, "the upload's own name, not the server's copy"
        listed = [s for _, s in await web.choices()]
        assert sid not in listed, "a refused upload leaves no empty session in the selector"
    good = await send(web, sid, "", [str(photo(tmp_path / "ok.jpg"))], chat=chat)
    assert "Finland (FI)" in good[-1][2]
    assert sid in [s for _, s in await web.choices()], "listed once a message is accepted"
    later = await send(web, sid, "", [str(text_file(tmp_path / "late.txt"))], chat=good[-1][0])
    assert "not an image" in later[-1][0][-1]["content"]
    assert [t.text for t in await (await web.service()).history(sid)][-1].startswith("That")


async def test_an_empty_message_gets_a_hint_and_changes_nothing(web):
    updates = await send(web, "empty", "   ", [])
    assert len(updates) == 1
    chat, _box, answer, *_ = updates[0]
    assert chat == [{"role": "assistant", "content": f"⚠️ {EMPTY_MESSAGE}"}]
    assert not isinstance(answer, str), "the panels are left as they are"
    assert "empty" not in [s for _, s in await web.choices()]


async def test_a_page_opened_with_a_session_resumes_it(web, tmp_path):
    await send(web, "kept", "", [str(photo(tmp_path / "p.jpg"))])

    dropdown, chat, answer, *_ = await web.load(SimpleNamespace(query_params={"session": "kept"}))
    assert dropdown.value == "kept" and "Finland" in answer
    assert "chat-images" in chat[0]["content"]["path"], "the photo as the session stored it"
    assert "Aleksanterinkatu" in chat[1]["content"] and len(chat) == 2
    nothing = [u async for u in web.resume("kept", chat)]
    assert nothing[-1][0][-1]["content"] == "Nothing to resume here."
    fresh = await web.load(SimpleNamespace(query_params={"session": "no-such-session"}))
    assert fresh[0].value != "no-such-session" and fresh[1] == []
    assert json.dumps(fresh[0].choices)  # labels and ids are plain strings


async def test_an_answer_cut_off_mid_run_is_finished_with_the_resume_button(web, tmp_path):
    stream = web.respond({"text": "", "files": [str(photo(tmp_path / "p.jpg"))]}, "cut", [])
    async for chat, *_ in stream:
        if any("semantic" in str(m.get("content")) for m in chat):
            break  # the page is closed after the third stage
    await stream.aclose()
    chat, _answer, _, _, resume = await web.open_session("cut")
    assert resume.visible is True and "was cut off" in chat[-1]["content"]
    done = [u async for u in web.resume("cut", chat)]
    chat, _box, answer, *_rest, button = done[-1]
    assert "Finland (FI)" in answer and button.visible is False
    stages = next(m for m in chat if m.get("metadata"))["content"]
    assert "scene" not in stages and "commit" in stages, "it went on from where it stopped"
