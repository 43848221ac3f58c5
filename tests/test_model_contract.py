"""The contract every model backend keeps, run against each of them.

Backends: openai (against the fake server), transformers (the tiny random Qwen2.5-VL),
replay (a trace recorded from the fake server, replayed), and openai against a real vLLM
server (CPU build) serving the tiny model. Each scenario is an async function of a backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image

from gre_agent.agent.backends import (
    Message,
    ModelBackend,
    OpenAIBackend,
    RecordingBackend,
    ReplayBackend,
    TransformersBackend,
)
from gre_agent.core.settings import ModelSettings
from tests.fake_openai import FakeOpenAIServer

PIXELS = 112 * 112


def _image(tmp: Path) -> Path:
    path = tmp / "street.png"
    img = Image.new("RGB", (140, 100), (90, 140, 200))
    for x in range(0, 140, 10):
        img.putpixel((x, 50), (255, 255, 0))
    img.save(path)
    return path


def _conv(text: str, image: Path | None = None) -> list[Message]:
    return [Message.system("You locate photos."), Message.user(text, *([image] if image else []))]


# -- scenarios ----------------------------------------------------------------------------


async def text_in_text_out(backend: ModelBackend, tmp: Path) -> None:
    c = await backend.complete(_conv("Where was this photo taken?"), max_tokens=8, temperature=0)
    assert isinstance(c.text, str)
    assert c.usage.prompt_tokens > 5
    assert 1 <= c.usage.completion_tokens <= 8
    assert c.finish_reason in ("stop", "length")
    assert c.latency_s >= 0
    assert c.model


async def image_and_prompt(backend: ModelBackend, tmp: Path) -> None:
    image = _image(tmp)
    plain = await backend.complete(_conv("Where is this?"), max_tokens=4, temperature=0)
    with_image = await backend.complete(_conv("Where is this?", image), max_tokens=4, temperature=0)
    assert isinstance(with_image.text, str)
    # The image reached the model: it costs prompt tokens (Qwen: one per 28x28 pixels).
    assert with_image.usage.prompt_tokens > plain.usage.prompt_tokens
    # The same image as bytes and as a PIL image is the same request.
    as_bytes = await backend.complete(
        _conv("Where is this?", image.read_bytes()), max_tokens=4, temperature=0
    )
    assert as_bytes.usage.prompt_tokens == with_image.usage.prompt_tokens


async def deterministic_at_zero_temperature(backend: ModelBackend, tmp: Path) -> None:
    a = await backend.complete(_conv("Name a city."), max_tokens=6, temperature=0)
    b = await backend.complete(_conv("Name a city."), max_tokens=6, temperature=0)
    assert a.text == b.text
    assert a.usage == b.usage


async def batch_keeps_order(backend: ModelBackend, tmp: Path) -> None:
    prompts = ["Where?", "Where is this street?", "Where is this street with yellow lines?"]
    singles = [
        (await backend.complete(_conv(p), max_tokens=3, temperature=0)).usage.prompt_tokens
        for p in prompts
    ]
    batch = await backend.complete_batch([_conv(p) for p in prompts], max_tokens=3, temperature=0)
    assert len(batch) == 3
    assert [c.usage.prompt_tokens for c in batch] == singles
    assert singles == sorted(singles) and singles[0] < singles[-1]
    assert all(1 <= c.usage.completion_tokens <= 3 for c in batch)


SCENARIOS: dict[str, Callable[[ModelBackend, Path], Awaitable[None]]] = {
    "text": text_in_text_out,
    "image": image_and_prompt,
    "deterministic": deterministic_at_zero_temperature,
    "batch": batch_keeps_order,
}


# -- backends -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_transformers(tiny_qwen_dir: Path) -> TransformersBackend:
    settings = ModelSettings(
        backend="transformers", model=str(tiny_qwen_dir), device="cpu", dtype="float32"
    )
    backend = TransformersBackend(settings.model_copy(update={"max_pixels": PIXELS}))
    backend.load()
    return backend


@pytest.fixture
def fake_server():
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_openai_fake(scenario: str, fake_server: FakeOpenAIServer, tmp_path: Path):
    settings = ModelSettings(model="fake-model", max_pixels=PIXELS)
    async with OpenAIBackend(settings, base_urls=[fake_server.url]) as backend:
        await SCENARIOS[scenario](backend, tmp_path)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_transformers(scenario: str, tiny_transformers: TransformersBackend, tmp_path: Path):
    await SCENARIOS[scenario](tiny_transformers, tmp_path)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_replay(scenario: str, fake_server: FakeOpenAIServer, tmp_path: Path):
    trace = tmp_path / "trace.jsonl"
    settings = ModelSettings(model="fake-model", max_pixels=PIXELS)
    recorder = RecordingBackend(OpenAIBackend(settings, base_urls=[fake_server.url]), trace)
    async with recorder:
        await SCENARIOS[scenario](recorder, tmp_path)
    replay = ReplayBackend(trace, match="hash")
    await SCENARIOS[scenario](replay, tmp_path)
    assert replay.remaining == 0


@pytest.mark.vllm
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_openai_vllm(scenario: str, vllm_server: str, tmp_path: Path):
    settings = ModelSettings(model="tiny", max_pixels=PIXELS, timeout_s=60)
    async with OpenAIBackend(settings, base_urls=[vllm_server]) as backend:
        await SCENARIOS[scenario](backend, tmp_path)
