"""Model backends: one async interface to the vision-language model, three ways to reach it.

    backend = make_backend(settings.model)          # openai | transformers | replay
    completion = await backend.complete([Message.user("Where is this?", "photo.jpg")])
    completion.text, completion.tool_calls, completion.usage, completion.latency_s

- `OpenAIBackend`: any OpenAI-compatible chat endpoint (`vllm serve`, `gre serve`), with
  images as data URLs within a pixel budget, retries, round-robin and failover over
  several base URLs, and the tools API.
- `TransformersBackend`: the model in-process (`AutoModelForImageTextToText`), batched.
- `ReplayBackend`: recorded completions from a JSON-lines trace (format in `_replay.py`);
  `RecordingBackend` writes such traces.

Tool calls come back as `ToolCall(id, name, arguments)` from the tools API or from
`<tool_call>{json}</tool_call>` blocks in the text. Failures raise `ModelError` (a
`GreError`) whose `kind` says why. `complete(..., on_text=callback)` hands the answer's text
to the callback as it is written (the openai backend streams it over SSE; `ttft_s` on the
completion); `usage.cached_tokens` is the prompt's part the server's prefix cache held.
"""

from ._base import BaseBackend, ModelBackend, TextCallback, emit_text, extract_tool_calls
from ._errors import ModelError
from ._factory import backend_from_options, make_backend
from ._images import fit_image, load_image, smart_size, to_data_url
from ._openai import OpenAIBackend
from ._replay import RecordingBackend, ReplayBackend, model_call_event, model_call_record
from ._transformers import GRE_MODELS, TransformersBackend, pick_device_and_dtype
from ._types import (
    Completion,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    Usage,
    as_messages,
    request_hash,
)

__all__ = [
    "GRE_MODELS",
    "BaseBackend",
    "Completion",
    "ImagePart",
    "Message",
    "ModelBackend",
    "ModelError",
    "OpenAIBackend",
    "RecordingBackend",
    "ReplayBackend",
    "TextCallback",
    "TextPart",
    "ToolCall",
    "TransformersBackend",
    "Usage",
    "as_messages",
    "backend_from_options",
    "emit_text",
    "extract_tool_calls",
    "fit_image",
    "load_image",
    "make_backend",
    "model_call_event",
    "model_call_record",
    "pick_device_and_dtype",
    "request_hash",
    "smart_size",
    "to_data_url",
]
