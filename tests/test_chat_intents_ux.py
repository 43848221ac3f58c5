"""Chat intents a new user meets (issue 15.2): "what else could it be?" lists the
alternatives, "what did the tools say?" is a readable summary, and the hint "I think it is
Tampere" geocodes Tampere (a place claim, not a street) and the reply says what it changed.
The same ChatService answers gre chat and gre web."""

from __future__ import annotations

import asyncio
import json

import pytest

from gre_agent.graphs.chat.intents import parse
from gre_agent.graphs.gre.hints import hint_place, hint_texts
from tests.scripted import ScriptedBackend
from tests.test_chat_graph import DETAIL_NO_STREET, script, service, turn
from tests.test_graph_agent import espoo_guess


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what else could it be?", "alternatives"),
        ("where else could it be?", "alternatives"),
        ("could it be somewhere else?", "alternatives"),
        ("could it be Sweden?", "why"),
        ("what did the tools say?", "evidence"),
        ("I think it is Tampere", "hint"),
    ],
)
def test_intents(text, intent):
    assert parse(text).intent == intent


@pytest.mark.parametrize(
    ("hint", "place"),
    [
        ("I think it is Tampere", "Tampere"),
        ("I think it is in Finland", "Finland"),
        ("it was taken in Oulu.", "Oulu"),
        ("maybe Rovaniemi?", "Rovaniemi"),
        ("I believe this is New York", "New York"),
        ("Aleksanterinkatu", "Aleksanterinkatu"),
        ("taken in winter", None),
        ("near the sea", None),
        ("not in Sweden", None),
        ("it is on a hill", None),
    ],
)
def test_the_place_a_hint_names(hint, place):
    assert hint_place(hint) == place
    assert hint_texts([hint]) == (place or hint,)


def test_alternatives_tools_and_a_place_hint_in_the_chat(tmp_path, photo, registry):
    backend = ScriptedBackend(script(detail=DETAIL_NO_STREET, hypotheses=espoo_guess))

    async def main():
        async with service(tmp_path, backend, registry) as chat:
            await turn(chat, "s", image=photo)
            _, alts = await turn(chat, "s", "what else could it be?")
            assert alts.intent == "alternatives" and "The candidates, best first" in alts.text

            _, tools = await turn(chat, "s", "what did the tools say?")
            assert tools.intent == "evidence"
            for line in tools.text.splitlines():
                assert '{"' not in line and '":' not in line, line  # no raw JSON
                assert not line.endswith("…") or line.endswith(" …"), line  # cut at a word

            _, hinted = await turn(chat, "s", "I think it is Tampere")
            assert hinted.intent == "hint" and hinted.hints == ["I think it is Tampere"]
            run = await chat.state("s")
            calls = run["run"]["tools"]
            asked = [json.dumps(c["args"], ensure_ascii=False) for c in calls]
            assert any("Tampere" in a for a in asked), asked
            assert not any("I think it is Tampere" in a for a in asked), asked
            assert "Your hint names Tampere" in hinted.text and "to Tampere" in hinted.text

    asyncio.run(main())
