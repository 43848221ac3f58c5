"""Text made safe to write: a model or a tool may hand us strings that UTF-8 cannot encode.

JSON allows `"\\ud800"` (a lone UTF-16 surrogate), so `json.loads` of a model's answer can
give a Python str that `str.encode("utf-8")` refuses. Every writer of records (traces, eval
rows, `--json` output, chat stores) passes its text through `safe_text` first, so one odd
character costs that character (it becomes U+FFFD), not the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_text(text: str) -> str:
    """`text` with every surrogate code point replaced by U+FFFD (UTF-8 encodable)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def safe_value(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string, keys included, made safe."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, dict):
        return {safe_value(k): safe_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_value(v) for v in value]
    return value


# Line breaks for str.splitlines() that json.dumps(ensure_ascii=False) leaves as they are.
_LINE_BREAKS = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"}
_LINE_BREAK = re.compile("[\u2028\u2029\x85]")


def json_line(value: Any, **kw: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, default=str, **kw)`, safe to encode as UTF-8
    and one line for every reader: surrogates become U+FFFD and U+2028, U+2029 and U+0085
    (line breaks to `str.splitlines`) are written as escapes.

    Both can only sit inside JSON strings, so the text stays valid JSON of the same value
    (but for the surrogates); no newline is added."""
    text = safe_text(json.dumps(value, ensure_ascii=False, default=str, **kw))
    return _LINE_BREAK.sub(lambda m: _LINE_BREAKS[m.group(0)], text)
