"""Backend that runs the model in-process with transformers.

Loads `AutoModelForImageTextToText` and `AutoProcessor` (default `Anonymous0515/GRE`; the
variants `Anonymous0515/GRE-CI` and `Anonymous0515/GRE-RL-I` load the same way, as does any
local directory). Device "auto" means CUDA when available (weights spread over the GPUs
with accelerate's device_map), else CPU; dtype "auto" means bfloat16 on a GPU that supports
it, else float32. The processor's chat template renders the conversation (and tool
definitions); batches are left-padded into one `generate` call; only the new tokens are
decoded; a completion's latency is its batch's. Generation runs in a worker thread, one
batch at a time, so the event loop stays free. With `on_text`, a single conversation's text
is handed over as it is generated (transformers' `TextStreamer`).

Without torchvision (CPU-only machines) the stock Qwen2.5-VL processor cannot be built; the
backend then falls back to an image-only processor (no video), which is all the agent needs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from gre_agent.core.errors import ErrorKind
from gre_agent.core.settings import ModelSettings

from ._base import BaseBackend, Messages, TextCallback, finish_text
from ._errors import ModelError
from ._images import fit_image
from ._types import Completion, ImagePart, Message, Usage, as_messages, normalize_tools

GRE_MODELS = {
    "Anonymous0515/GRE": "GRE (Qwen2.5-VL-7B: SFT cold start + two GRPO stages)",
    "Anonymous0515/GRE-CI": "GRE-CI variant",
    "Anonymous0515/GRE-RL-I": "GRE-RL-I variant (after the first RL stage)",
}


def pick_device_and_dtype(device: str = "auto", dtype: str = "auto") -> tuple[str, Any]:
    """Resolve settings' "auto" values: (device, torch dtype)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return device, torch.bfloat16
        return device, torch.float16 if device.startswith("cuda") else torch.float32
    try:
        return device, getattr(torch, dtype)
    except AttributeError as exc:
        raise ModelError(ErrorKind.invalid_args, f"unknown dtype {dtype!r}") from exc


def load_processor(model_id: str, **kwargs: Any) -> Any:
    """`AutoProcessor`, or the image-only Qwen2.5-VL processor where the stock one fails."""
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(model_id, **kwargs)
    except (AttributeError, ImportError, OSError, ValueError, TypeError) as exc:
        if "video" not in str(exc).lower() and "torchvision" not in str(exc).lower():
            raise
    from ._processor import ImageOnlyQwen2_5_VLProcessor

    return ImageOnlyQwen2_5_VLProcessor.from_pretrained(model_id, **kwargs)


class TransformersBackend(BaseBackend):
    """The model in this process (lazy: loaded on the first request, or by `load()`)."""

    name = "transformers"

    def __init__(
        self,
        settings: ModelSettings | None = None,
        *,
        model: str | None = None,
        batch_size: int = 8,
    ):
        self.settings = settings or ModelSettings()
        self.model = model or self.settings.model
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._hf_model: Any = None
        self._processor: Any = None
        self.device: str | None = None

    def load(self) -> None:
        """Load weights and processor (thread-safe, once)."""
        with self._lock:
            if self._hf_model is not None:
                return
            from transformers import AutoModelForImageTextToText

            device, dtype = pick_device_and_dtype(self.settings.device, self.settings.dtype)
            try:
                processor = load_processor(self.model)
                kwargs: dict[str, Any] = {"dtype": dtype}
                if self.settings.device == "auto" and device == "cuda":
                    kwargs["device_map"] = "auto"
                # Any: transformers' decorated `.to` confuses type checkers
                hf_model: Any = AutoModelForImageTextToText.from_pretrained(self.model, **kwargs)
                if "device_map" not in kwargs:
                    hf_model = hf_model.to(device)
            except OSError as exc:
                raise ModelError(ErrorKind.unavailable, f"cannot load {self.model}: {exc}") from exc
            hf_model.eval()
            processor.tokenizer.padding_side = "left"
            self._processor, self._hf_model, self.device = processor, hf_model, device

    # -- prompt building --------------------------------------------------------------------

    def _hf_messages(self, messages: list[Message]) -> tuple[list[dict[str, Any]], list[Any]]:
        out: list[dict[str, Any]] = []
        images: list[Any] = []
        for m in messages:
            if isinstance(m.content, str):
                content: Any = m.content
            else:
                content = []
                for part in m.content:
                    if isinstance(part, ImagePart):
                        images.append(fit_image(part.image, self.settings.max_pixels))
                        content.append({"type": "image"})
                    else:
                        content.append({"type": "text", "text": part.text})
            msg: dict[str, Any] = {"role": m.role, "content": content}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {"type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in m.tool_calls
                ]
            if m.tool_call_id:
                msg["tool_call_id"] = m.tool_call_id
            out.append(msg)
        return out, images

    def _generate(
        self,
        batch: list[list[Message]],
        kw: dict[str, Any],
        on_piece: Callable[[str], None] | None = None,
    ) -> list[Completion]:
        import torch

        proc, hf_model, s = self._processor, self._hf_model, self.settings
        texts, images = [], []
        tools = normalize_tools(kw.get("tools"))
        for messages in batch:
            hf_msgs, imgs = self._hf_messages(messages)
            texts.append(
                proc.apply_chat_template(
                    hf_msgs, tools=tools, add_generation_prompt=True, tokenize=False
                )
            )
            images.extend(imgs)
        inputs = proc(text=texts, images=images or None, padding=True, return_tensors="pt").to(
            hf_model.device
        )
        inputs.pop("token_type_ids", None)
        temperature = s.temperature if kw.get("temperature") is None else kw["temperature"]
        top_p = s.top_p if kw.get("top_p") is None else kw["top_p"]
        gen: dict[str, Any] = {
            "max_new_tokens": kw.get("max_tokens") or s.max_tokens,
            "do_sample": temperature > 0,
            "pad_token_id": proc.tokenizer.pad_token_id,
        }
        if temperature > 0:
            gen.update(temperature=temperature, top_p=top_p)
        else:  # greedy: silence the sampling defaults of the model's generation config
            gen.update(temperature=None, top_p=None, top_k=None)
        if kw.get("stop"):
            gen.update(stop_strings=list(kw["stop"]), tokenizer=proc.tokenizer)
        # Vendor-specific options: here they are extra `generate` arguments (min_new_tokens,
        # top_k, repetition_penalty ...).
        gen.update(kw.get("extra_body") or {})
        if kw.get("seed") is not None:
            torch.manual_seed(kw["seed"])
        if on_piece is not None:
            gen["streamer"] = _piece_streamer(proc.tokenizer, on_piece)
        eos = hf_model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        eos_ids.add(proc.tokenizer.eos_token_id)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = hf_model.generate(**inputs, **gen)
        latency = time.perf_counter() - t0
        n_in = inputs["input_ids"].shape[1]
        prompt_lens = inputs["attention_mask"].sum(dim=1).tolist()
        results = []
        for row, prompt_len in zip(out[:, n_in:].tolist(), prompt_lens, strict=True):
            n_new, finish = len(row), "length"
            for i, tok in enumerate(row):
                if tok in eos_ids:
                    n_new, finish = i + 1, "stop"
                    break
            text = proc.tokenizer.decode(row[:n_new], skip_special_tokens=True)
            if kw.get("stop") and finish == "length":
                for stop in kw["stop"]:
                    if stop in text:
                        text, finish = text[: text.index(stop)], "stop"
                        break
            results.append(
                Completion(
                    **finish_text(text, []),
                    usage=Usage(prompt_tokens=int(prompt_len), completion_tokens=n_new),
                    latency_s=latency,
                    model=self.model,
                    backend=self.name,
                    finish_reason=finish,
                )
            )
        return results

    def _generate_locked(
        self,
        batch: list[list[Message]],
        kw: dict[str, Any],
        on_piece: Callable[[str], None] | None = None,
    ) -> list[Completion]:
        self.load()
        with self._lock:
            return self._generate(batch, kw, on_piece)

    async def complete(
        self, messages: Messages, *, on_text: TextCallback | None = None, **kwargs: Any
    ) -> Completion:
        if on_text is None:
            return (await self.complete_batch([messages], **kwargs))[0]
        loop = asyncio.get_running_loop()

        def on_piece(piece: str) -> None:  # generation's thread: hand over to the loop
            loop.call_soon_threadsafe(on_text, piece)

        conv = as_messages(messages)
        return (await asyncio.to_thread(self._generate_locked, [conv], kwargs, on_piece))[0]

    async def complete_batch(self, batch: Sequence[Messages], **kwargs: Any) -> list[Completion]:
        convs = [as_messages(m) for m in batch]
        results: list[Completion] = []
        for i in range(0, len(convs), self.batch_size):
            chunk = convs[i : i + self.batch_size]
            results += await asyncio.to_thread(self._generate_locked, chunk, kwargs)
        return results


def _piece_streamer(tokenizer: Any, on_piece: Callable[[str], None]) -> Any:
    """A `TextStreamer` that hands each finished piece of new text to `on_piece`."""
    from transformers import TextStreamer

    class PieceStreamer(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            if text:
                on_piece(text)

    return PieceStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
