"""GRE agent graph benchmarks: what an image costs the model server, and the agent's overhead.

1. Tokens per image, for one 1024x768 street photo whose evidence agrees with the model:
   - single-shot: `Context(mode="single")`, GRE's one prompt, no tools;
   - single-pass: `Context(stages="single-pass")`, the agent reading GRE's one answer
     (measured when the graph has the setting);
   - per-stage: `Context(stages="per-stage")`, one prompt per stage. Answered by a GRE
     model, which writes its whole staged answer whatever it is asked, and by an
     instruction-following VLM that answers each stage's JSON prompt.
   Per image: model calls, prompt tokens, cached-prefix tokens, prefill (prompt less cached),
   generated tokens and vision-encoder runs. The GRE answers are written like GRE30K's
   chain-of-thought (five numbered sections, then the answer: about 300 tokens).
   Tokens are counted on Qwen2.5-VL's chat template (`<|im_start|>role ... <|im_end|>`)
   with a stand-in for its BPE (words and punctuation marks, about 1.3 per English word)
   and the image as Qwen's (h/28) * (w/28) tokens after resizing to the pixel budget.
   The prefix cache is simulated as vLLM's `--enable-prefix-caching`: a request reuses the
   longest common prefix with an earlier request of the same image (its prompt and what was
   generated), in whole 16-token blocks, never its last prompt token; the image is encoded
   again unless the cached prefix covers it.
2. Agent overhead per image: everything except model generation (the replay backend
   answering from a recorded trace, offline tools on the Helsinki extract). Target: median
   < 50 ms.

Run: python benchmarks/bench_graph.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.scripted (the scripted model) and its answers

from PIL import Image  # noqa: E402

from gre_agent.agent.backends import (  # noqa: E402
    BaseBackend,
    Completion,
    ImagePart,
    Message,
    ReplayBackend,
    as_messages,
    smart_size,
)
from gre_agent.core.settings import Settings  # noqa: E402
from gre_agent.graphs.gre import Context, locate  # noqa: E402
from gre_agent.tools import Registry  # noqa: E402
from tests.scripted import ScriptedBackend, stage_of  # noqa: E402
from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess, keep  # noqa: E402

PHOTO_W, PHOTO_H, MAX_PIXELS = 1024, 768, 1024 * 28 * 28
BLOCK = 16  # vLLM's KV-cache block on a GPU: the prefix cache reuses whole blocks

# A GRE answer for a photo at the Aleksanterinkatu / Unioninkatu corner in central Helsinki,
# in the model's own format and at GRE30K's length.
GRE_ANSWER = """<think> 1. Street-level analysis: The photo shows a wide, paved city street
lined with stone and stucco buildings of four to six storeys, in the neo-classical and
early twentieth century styles common to Nordic capitals. The facades are pale yellow,
grey and white, with tall windows, copper roofs and decorative cornices. Pedestrians wear
light jackets, so the season is likely late spring or autumn. Tram rails run along the
middle of the street and overhead wires hang from the buildings, which points to a city
with a tram network. 2. Textual clues: A blue street name sign on the corner building reads
"Aleksanterinkatu", and a second sign across the junction reads "Unioninkatu". The suffix
"-katu" is Finnish for street, and the smaller Swedish name below it ("Alexandersgatan")
matches the bilingual signage used in Helsinki. A shop front further along carries Finnish
text. 3. Vegetation/biome: There are only a few street trees, deciduous and in leaf, and
no palms or evergreen broadleaf plants; this is a cool temperate or hemiboreal climate. 4.
Terrain: The street is flat, and the sky above the rooftops is open, consistent with a
low-lying coastal city centre. 5. Transport context: Cars drive on the right side of the
road, the tram is green and white like those of Helsinki City Transport, and the road
markings are white. Combining the Finnish and Swedish street names, the tram network and the
architecture, this is the Senate Square area of central Helsinki, Finland, near the corner of
Aleksanterinkatu and Unioninkatu. </think> <answer> "Latitude": "60.1688°", "Longitude":
"24.9502°" </answer>"""

GRE_STAGES = ("gre", "gre_repair", "scene", "detail", "semantic", "hypotheses", "verification")
GRE_SCRIPT = dict.fromkeys(GRE_STAGES, GRE_ANSWER)
VLM_SCRIPT = {
    "scene": SCENE,
    "detail": DETAIL_HELSINKI,
    "semantic": SEMANTIC,
    "hypotheses": espoo_guess,
    "verification": keep,
}


# -- counting tokens ------------------------------------------------------------------------

_PIECE = re.compile(r"\w+|[^\w\s]")


def image_tokens() -> int:
    h, w = smart_size(PHOTO_H, PHOTO_W, MAX_PIXELS)
    return (h // 28) * (w // 28)


def text_tokens(text: str) -> list[str]:
    return _PIECE.findall(text)


def prompt_tokens(messages: Sequence[Message]) -> tuple[list[str], int]:
    """The request as tokens on Qwen's chat template, and where its last image ends."""
    out: list[str] = []
    image_end = 0
    for m in messages:
        out += ["<|im_start|>", m.role, "\n"]
        for part in m.parts:
            if isinstance(part, ImagePart):
                out += ["<|vision_start|>", *["<|image_pad|>"] * image_tokens(), "<|vision_end|>"]
                image_end = len(out)
            else:
                out += text_tokens(part.text)
        for call in m.tool_calls:
            out += text_tokens(f"<tool_call> {call.name} {call.arguments} </tool_call>")
        out += ["<|im_end|>", "\n"]
    return [*out, "<|im_start|>", "assistant", "\n"], image_end


def common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


@dataclasses.dataclass
class Cost:
    """What one image cost the model server."""

    calls: int = 0
    prompt: int = 0
    cached: int = 0
    generated: int = 0
    image_encodes: int = 0
    stages: list[str] = dataclasses.field(default_factory=list)

    @property
    def prefill(self) -> int:
        return self.prompt - self.cached


def cost(calls: Sequence[tuple[list[Message], Completion]]) -> Cost:
    """Tokens of one image's requests, with a simulated prefix cache over them."""
    out = Cost()
    seen: list[list[str]] = []  # earlier requests' prompt and generated tokens
    for messages, completion in calls:
        prompt, image_end = prompt_tokens(messages)
        generated = text_tokens(completion.raw_text or completion.text)
        lcp = max((common_prefix(prompt, s) for s in seen), default=0)
        cached = min(lcp, len(prompt) - 1) // BLOCK * BLOCK
        out.calls += 1
        out.prompt += len(prompt)
        out.cached += cached
        out.generated += len(generated) + 1  # and the end-of-turn token
        out.image_encodes += 1 if image_end and cached < image_end else 0
        out.stages.append(stage_of(messages))
        seen.append(prompt + generated)
    return out


class Recorder(BaseBackend):
    """A scripted model that keeps each request with its completion."""

    def __init__(self, script: dict[str, Any], model: str):
        self.inner = ScriptedBackend(script)
        self.name, self.model = "scripted", model
        self.calls: list[tuple[list[Message], Completion]] = []

    async def complete(self, messages: Any, **kwargs: Any) -> Completion:
        kwargs.pop("on_text", None)
        completion = await self.inner.complete(messages, **kwargs)
        self.calls.append((as_messages(messages), completion))
        return completion


# -- the runs -------------------------------------------------------------------------------


def has_stages_setting() -> bool:
    return "stages" in {f.name for f in dataclasses.fields(Context)}


async def run_agent(
    photo: Path,
    registry: Registry,
    *,
    mode: str = "agent",
    stages: str | None = None,
    script: dict[str, Any] = GRE_SCRIPT,
    trace_path: Path | None = None,
) -> tuple[Cost, Any]:
    """One image through the graph; `stages` is Context's single-pass / per-stage setting
    (None: the graph's default, for a graph without the setting)."""
    backend = Recorder(script, model="Anonymous0515/GRE" if script is GRE_SCRIPT else "vlm")
    extra: dict[str, Any] = {"stages": stages} if stages is not None else {}
    ctx = Context(backend_obj=backend, registry=registry, mode=mode, **extra)
    result = await locate(photo, ctx, trace_path=trace_path)
    if result.error:
        raise RuntimeError(f"{mode} {stages}: {result.error}")
    return cost(backend.calls), result


def print_costs(rows: list[tuple[str, Cost]]) -> None:
    base = rows[0][1]
    print(
        f"tokens per image (a {PHOTO_W}x{PHOTO_H} photo = {image_tokens()} image tokens; "
        f"cached: simulated prefix cache, {BLOCK}-token blocks):"
    )
    head = f"  {'':44} {'calls':>5} {'prompt':>7} {'cached':>7} {'prefill':>7} {'generated':>9}"
    print(head + f" {'image enc':>9}   vs single-shot: prompt, prefill, generated")
    for label, c in rows:
        ratios = (
            f"{c.prompt / base.prompt:4.2f}x {c.prefill / base.prefill:4.2f}x "
            f"{c.generated / base.generated:4.2f}x"
        )
        print(
            f"  {label:44} {c.calls:5d} {c.prompt:7d} {c.cached:7d} {c.prefill:7d} "
            f"{c.generated:9d} {c.image_encodes:9d}   {ratios}"
        )
    for label, c in rows:
        print(f"  {label}: {' -> '.join(c.stages)}")


async def main(runs: int) -> None:
    from gre_agent.cli.data_osm import sample_path
    from gre_agent.tools.osm import import_pbf

    tmp = Path(tempfile.mkdtemp(prefix="bench-graph-"))
    db = tmp / "osm.sqlite"
    import_pbf(sample_path("helsinki"), db)
    photo = tmp / "photo.jpg"
    Image.new("RGB", (PHOTO_W, PHOTO_H), (120, 130, 140)).save(photo)
    registry = Registry(
        Settings(home=tmp / "home", offline=True, osm={"data_path": str(db)}), include_plugins=False
    )

    rows: list[tuple[str, Cost]] = []
    single, _ = await run_agent(photo, registry, mode="single")
    rows.append(("single-shot (GRE)", single))
    staged = "per-stage" if has_stages_setting() else None
    if has_stages_setting():
        try:
            one, _ = await run_agent(photo, registry, stages="single-pass")
            rows.append(("agent, single-pass (GRE)", one))
        except Exception as exc:  # the setting is there but not (yet) working
            print(f"single-pass not measured: {exc}")
    else:
        print("single-pass not measured: this graph's Context has no `stages` setting")
    per_stage, _ = await run_agent(photo, registry, stages=staged)
    rows.append(("agent, per-stage (GRE answers every prompt)", per_stage))
    vlm, _ = await run_agent(photo, registry, stages=staged, script=VLM_SCRIPT)
    rows.append(("agent, per-stage (instruction VLM, JSON)", vlm))
    print_costs(rows)

    modes = [staged] + (["single-pass"] if any("single-pass" in r[0] for r in rows) else [])
    for stages in modes:
        await overhead(photo, registry, tmp, stages, runs)


async def overhead(
    photo: Path, registry: Registry, tmp: Path, stages: str | None, runs: int
) -> None:
    """Median time of a run with the model's answers replayed from a recorded trace."""
    recorded_path = tmp / f"recorded-{stages}.jsonl"
    _, recorded = await run_agent(photo, registry, stages=stages, trace_path=recorded_path)
    extra: dict[str, Any] = {"stages": stages} if stages else {}
    times = []
    for i in range(runs + 3):
        replay = ReplayBackend(recorded_path, match="hash")
        ctx = Context(backend_obj=replay, registry=registry, **extra)
        started = time.perf_counter()
        result = await locate(photo, ctx)
        elapsed = time.perf_counter() - started
        assert result.prediction.lat == recorded.prediction.lat
        if i >= 3:  # the first runs load the offline indexes
            times.append(elapsed * 1000)
    times.sort()
    print(
        f"agent overhead per image ({stages or 'default'}, replay backend, offline tools, "
        f"{runs} runs): median {statistics.median(times):.1f} ms, "
        f"p90 {times[int(0.9 * len(times)) - 1]:.1f} ms, min {times[0]:.1f} ms "
        "(target: median < 50 ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main(parser.parse_args().runs))
