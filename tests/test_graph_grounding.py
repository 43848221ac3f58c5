"""Text grounding: the model's quotes against the OCR of a rendered street scene."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from gre_agent.agent.schemas import Details
from gre_agent.core.trace import load_trace
from gre_agent.graphs.gre import Context, locate
from gre_agent.graphs.gre.evidence import Finding
from gre_agent.graphs.gre.grounding import ground, quotes, similarity, wanted
from gre_agent.tools.ocr import OcrText, ReadResult, _tool
from tests.scripted import ScriptedBackend
from tests.test_tools_ocr import font


@pytest.fixture(autouse=True)
def _fresh_ocr_cache():
    _tool._cache.clear()
    yield
    _tool._cache.clear()


def street_scene(signs: list[str], size: tuple[int, int] = (1024, 768)) -> Image.Image:
    """Facades with blue street-name plates, one below the other, white letters."""
    img = Image.new("RGB", size, (128, 132, 128))
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, size[1] - 160, size[0], size[1]], fill=(70, 70, 75))  # the street
    draw.rectangle([40, 40, 360, 300], fill=(170, 120, 90))  # a shop front
    fnt = font(40)
    y = 330
    for text in signs:
        left, top, right, bottom = fnt.getbbox(text)
        x = 420
        draw.rectangle([x, y, x + right - left + 40, y + bottom - top + 24], fill=(20, 60, 150))
        draw.text((x + 20 - left, y + 12 - top), text, font=fnt, fill=(250, 250, 250))
        y += bottom - top + 60
    return img


def scene_file(tmp_path: Path, signs: list[str], name: str = "scene.jpg") -> Path:
    path = tmp_path / name
    street_scene(signs).save(path, quality=92)
    return path


# One real text (Aleksanterinkatu is on the photo) and one invented (Unioninkatu is not);
# the photo's third sign, Fabianinkatu, the model does not mention.
ANSWER = """<think> 1. Street-level analysis: a city street with stone facades.
2. Textual clues: street signs read "Aleksanterinkatu" and "Unioninkatu".
5. Transport context: cars drive on the right. This is Helsinki, Finland. </think>
<answer> "Latitude": "60.1690°", "Longitude": "24.9500°" </answer>"""


def gre_model(answer: str = ANSWER) -> ScriptedBackend:
    stages = ("gre", "scene", "detail", "semantic", "hypotheses", "verification")
    backend = ScriptedBackend({s: answer for s in stages})
    backend.model = "scripted-gre"
    return backend


def run(photo: Path, registry, **ctx):
    context = Context(backend_obj=gre_model(), registry=registry, stages="single-pass", **ctx)
    return asyncio.run(locate(photo, context, trace_dir=photo.parent / "traces"))


def read(*lines: tuple[str, float]) -> ReadResult:
    box = [(0, 0), (10, 0), (10, 10), (0, 10)]
    texts = [
        OcrText(text=t, confidence=c, box=box, script="Latin", engine="rapidocr") for t, c in lines
    ]
    return ReadResult(width=100, height=100, texts=texts)


def verdicts(result: ReadResult, *texts: str) -> dict[str, str]:
    return {t.text: t.verdict for t in ground(Details(texts=list(texts)), result).texts}


# -- matching ------------------------------------------------------------------------------


def test_matching_ignores_accents_case_and_spaces():
    assert similarity("Eteläesplanadi", "ETELAESPLANADI") == 100
    assert similarity("Aleksanterinkatu 52", "Aleksanterinkatu") >= 85  # a sign's number
    assert similarity("Unioninkatu", "Aleksanterinkatu") < 85
    assert similarity("Unioninkatu", "Unioninkalu") >= 85  # one letter misread


def test_verdicts_of_a_legible_photo():
    ocr = read(("Aleksanterinkatu", 0.99), ("Fabianinkatu", 0.97), ("x7", 0.9))
    got = verdicts(ocr, "Aleksanterinkatu", "Unioninkatu")
    assert got == {
        "Aleksanterinkatu": "seen_by_both",
        "Unioninkatu": "not_seen",
        "Fabianinkatu": "from_ocr",  # legible, not mentioned: a claim of its own
    }


def test_an_illegible_photo_lowers_nothing():
    """No legible line (only a weak, short one): the OCR cannot say the model invented."""
    got = verdicts(read(("Ab", 0.55)), "Aleksanterinkatu")
    assert got == {"Aleksanterinkatu": "unverified"}
    assert verdicts(read(), "Aleksanterinkatu") == {"Aleksanterinkatu": "unverified"}


def test_quotes_are_the_claims_texts():
    assert quotes(Details(texts=["Aleksanterinkatu / Alexandersgatan", "52", '"Stockmann"']))[
        :3
    ] == ["Aleksanterinkatu", "Alexandersgatan", "Stockmann"]


# -- in the graph --------------------------------------------------------------------------


def test_one_real_and_one_invented_text(tmp_path, offline_registry):
    photo = scene_file(tmp_path, ["Aleksanterinkatu", "Fabianinkatu"])
    result = run(photo, offline_registry, ocr=True)
    assert result.error is None, result.error
    trace = load_trace(result.trace_path)
    assert [c.tool for c in trace.tool_calls].count("ocr.read") == 1
    grounding = trace.stage("grounding")
    assert grounding is not None
    got = {t["text"]: t["verdict"] for t in grounding.parsed["texts"]}
    assert got["Aleksanterinkatu"] == "seen_by_both"
    assert got["Unioninkatu"] == "not_seen"
    assert got["Fabianinkatu"] == "from_ocr"

    best = result.state["hypotheses"][0]
    rows = [e for e in result.state["evidence"] if e["kind"] == "text"]
    on_best = {(e["claim"], e["weight"]) for e in rows if e["candidate_key"] == best["key"]}
    # the real text's findings count more, the invented one's less
    assert ("text 'Aleksanterinkatu'", Finding.TEXT_SEEN_BY_BOTH.weight) in on_best
    assert ("text 'Unioninkatu'", Finding.TEXT_NOT_SEEN.weight) in on_best
    # every verdict is in the evidence, unscored, for the model and for people
    unscored = {e["claim"] for e in rows if e["candidate_key"] is None}
    assert {"text 'Aleksanterinkatu'", "text 'Unioninkatu'", "text 'Fabianinkatu'"} <= unscored
    # the text only the OCR read was checked like the model's own
    streets = {e["claim"] for e in result.state["evidence"] if e["kind"] == "street"}
    assert "street 'Fabianinkatu'" in streets
    # the answer's evidence list says which texts both saw
    assert any(line.startswith("text 'Aleksanterinkatu'") for line in result.prediction.evidence)


def test_grounding_moves_the_score_by_its_weights(tmp_path, offline_registry):
    photo = scene_file(tmp_path, ["Aleksanterinkatu", "Unioninkatu"])
    on = run(photo, offline_registry, ocr=True)
    off = run(photo, offline_registry, ocr=False)
    assert off.error is None and on.error is None
    both = 2 * Finding.TEXT_SEEN_BY_BOTH.weight  # both texts are on the photo
    score_on = on.state["hypotheses"][0]["score"]
    score_off = off.state["hypotheses"][0]["score"]
    assert score_on == pytest.approx(score_off + both)
    assert not any(e["kind"] == "text" for e in off.state["evidence"])
    assert on.prediction.tool_calls == off.prediction.tool_calls + 1  # the OCR itself


def test_auto_is_on_for_model_backends_only(offline_registry):
    ctx = Context()
    assert wanted(ctx, offline_registry, "openai") and wanted(ctx, offline_registry, "transformers")
    assert not wanted(ctx, offline_registry, "replay")
    assert not wanted(ctx, offline_registry, "ocr") and not wanted(
        ctx, offline_registry, "scripted"
    )
    assert wanted(Context(ocr=True), offline_registry, "replay")
    assert not wanted(Context(ocr=False), offline_registry, "openai")


def test_test_doubles_run_no_ocr_by_default(tmp_path, offline_registry):
    result = run(scene_file(tmp_path, ["Aleksanterinkatu"]), offline_registry)
    assert "ocr.read" not in [c.tool for c in load_trace(result.trace_path).tool_calls]
