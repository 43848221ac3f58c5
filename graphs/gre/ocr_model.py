"""The OCR baseline (`--backend ocr`): a model backend with no model, for any CPU machine.

It answers the GRE agent's one single-pass request by reading the photo's text with
`ocr.read` and writing what it read in the GRE model's format, the detail section only:

    <think> 2. Textual clues: "Aleksanterinkatu", "Unioninkatu" (script Latin) </think>

No scene description, no <answer>: the evidence search (graphs/gre/search.py) places the
texts (streets, shops, place names, country clues), and its candidates are checked like
a model's. A photo without legible text gets a country-level answer from its scripts
and clues, or none. It lives in graphs/ because agent/ may not import tools/.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from gre_agent.agent.backends import (
    BaseBackend,
    Completion,
    ModelError,
    TextCallback,
    Usage,
    as_messages,
    emit_text,
)
from gre_agent.agent.backends._base import Messages
from gre_agent.core.errors import ErrorKind
from gre_agent.tools import Registry
from gre_agent.tools.ocr import ReadResult

OCR_MODEL = "ocr-baseline"
MIN_CONFIDENCE = 0.6  # lower, and OCR noise becomes texts the search looks up everywhere
MAX_TEXTS = 12
NO_TEXT = "<think> 2. Textual clues: none legible </think>"


def gre_answer(result: ReadResult, max_texts: int = MAX_TEXTS) -> str:
    """What the OCR read, as the detail section of a GRE answer."""
    texts: list[str] = []
    scripts: list[str] = []
    for line in result.texts:
        text = " ".join(line.text.replace('"', "'").replace("“", "'").replace("”", "'").split())
        if sum(ch.isalnum() for ch in text) < 2 or text.casefold() in map(str.casefold, texts):
            continue
        texts.append(text)
        if line.script and line.script not in scripts:
            scripts.append(line.script)
        if len(texts) >= max_texts:
            break
    if not texts:
        return NO_TEXT
    quoted = ", ".join(f'"{t}"' for t in texts)
    written = f" (script{'s' if len(scripts) > 1 else ''} {', '.join(scripts)})" if scripts else ""
    return f"<think> 2. Textual clues: {quoted}{written} </think>"


class OcrBackend(BaseBackend):
    """The ModelBackend interface over `ocr.read`. Only a request whose last user turn
    carries the photo can be answered; anything else (a chat question, a revision) is a
    ModelError: there is no language model to answer it."""

    name = "ocr"
    model = OCR_MODEL
    answers_once = True  # the same photo gives the same answer: the graph never asks again

    def __init__(
        self,
        registry: Registry | None = None,
        *,
        min_confidence: float = MIN_CONFIDENCE,
        langs: Sequence[str] | None = None,
    ) -> None:
        self._registry = registry
        self.min_confidence = min_confidence
        self.langs = list(langs) if langs else None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from gre_agent.core.settings import load_settings

            self._registry = Registry(load_settings(offline=True), include_plugins=False)
        return self._registry

    async def complete(
        self,
        messages: Messages,
        *,
        on_text: TextCallback | None = None,
        **kwargs: Any,
    ) -> Completion:
        started = time.perf_counter()
        msgs = as_messages(messages)
        last = next((m for m in reversed(msgs) if m.role == "user"), None)
        images = last.images if last is not None else []
        if not images:
            raise ModelError(
                ErrorKind.unavailable,
                "the OCR baseline has no language model: it only reads the photo's text",
            )
        with _as_file(images[0]) as path:
            args: dict[str, Any] = {"image": path, "min_confidence": self.min_confidence}
            if self.langs:
                args["langs"] = self.langs
            outcome = await self.registry.get("ocr.read").run(args)
        if outcome.error is not None:
            kind = outcome.error.kind
            raise ModelError(
                kind if kind in ErrorKind.__members__ else ErrorKind.bad_response,
                f"ocr.read: {outcome.error.message}",
            )
        text = gre_answer(outcome.value(ReadResult))
        completion = Completion(
            text=text,
            usage=Usage(),
            latency_s=time.perf_counter() - started,
            model=self.model,
            backend=self.name,
            finish_reason="stop",
        )
        return emit_text(on_text, completion)


class _as_file:
    """A path for the image part: a path as given; bytes or a PIL image in a temporary
    file, removed afterwards."""

    def __init__(self, image: Any) -> None:
        self.image = image
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> str:
        if isinstance(self.image, str | Path) and not str(self.image).startswith(
            ("http://", "https://", "data:")
        ):
            return str(self.image)
        img: Image.Image
        if isinstance(self.image, bytes):
            img = Image.open(io.BytesIO(self.image))
        elif isinstance(self.image, Image.Image):
            img = self.image
        else:
            raise ModelError(
                ErrorKind.invalid_args, "the OCR baseline reads local images only, not URLs"
            )
        self._tmp = tempfile.TemporaryDirectory(prefix="gre-ocr-")
        path = Path(self._tmp.name) / "photo.png"
        img.save(path)
        return str(path)

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
