"""What a chat message asks: commands first, then keyword rules; the model only when asked.

parse("/hint it was taken in winter")  -> Parsed("hint", "it was taken in winter")
parse("why not Sweden?")               -> Parsed("why", "why not Sweden?")
parse("I think it is Finland")         -> Parsed("hint", "I think it is Finland")
parse("what else could it be?")        -> Parsed("alternatives", "what else could it be?")
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

COMMANDS = {
    "/image": "locate",
    "/hint": "hint",
    "/recheck": "recheck",
    "/why": "why",
    "/evidence": "evidence",
    "/tools": "evidence",
    "/alternatives": "alternatives",
    "/confidence": "confidence",
    "/answer": "answer",
    "/help": "help",
}

QUESTION_WORDS = {
    "why", "what", "how", "which", "where", "who", "when", "is", "are", "do", "does", "did",
    "can", "could", "would", "should", "was", "were", "any", "tell", "show", "explain",
}  # fmt: skip

_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("recheck", re.compile(r"\b(check|verify|look|try) (it )?again\b|\bre-?(check|verify)\b")),
    # before "why": "what else could it be?" asks for the others, not for a reason
    ("alternatives", re.compile(r"\b(what|where|somewhere|anywhere) else\b|\bother places?\b")),
    ("why", re.compile(r"\bwhy\b|\bwhat about\b|\bcould it (not )?be\b|\bis it (not )?in\b")),
    ("evidence", re.compile(r"\btools?\b|\bevidence\b|\bsources?\b|\bfound\b|\bchecked\b")),
    (
        "alternatives",
        re.compile(r"\balternativ|\bother\b|\belse\b|\bcandidates?\b|\bhypothes|\brejected\b"),
    ),
    ("confidence", re.compile(r"\bsure\b|\bconfiden|\bcertain|\blikely\b|\bprobab|\btrust")),
    ("answer", re.compile(r"\bwhere\b|\banswer\b|\bcoordinates\b|\blocation\b|\bplace\b")),
    ("help", re.compile(r"^\s*(help|commands|\?)\s*$|\bwhat can you do\b")),
]

_HINT = re.compile(
    r"^(hint|note|fyi|context)\b|\b(i think|i believe|i know|i guess|i'?m (pretty |quite )?sure"
    r"|pretty sure|it was taken|was taken|taken (in|at|near|during|on)|it'?s (in|at|near|from)"
    r"|it is (in|at|near|from)|this is (in|at|near|from)|was (in|at|near)|probably|maybe"
    r"|perhaps|definitely|must be|not in|isn'?t in|in (winter|summer|spring|autumn|fall))\b"
)


@dataclass(frozen=True)
class Parsed:
    intent: str
    text: str
    """The message without its command (for /hint: the hint, for /image: what follows)."""
    image: str | None = None
    """/image PATH: the path."""


def split_path(rest: str) -> tuple[str, str]:
    """`/image PATH [TEXT]`: a path may be quoted, or contain spaces if it exists."""
    rest = rest.strip()
    if not rest or Path(rest).expanduser().exists():
        return rest, ""
    try:
        parts = shlex.split(rest)
    except ValueError:
        parts = rest.split()
    head = parts[0] if parts else ""
    return head, " ".join(parts[1:])


def is_question(text: str) -> bool:
    t = text.strip().lower()
    if t.endswith("?"):
        return True
    first = re.split(r"\W+", t, maxsplit=1)[0] if t else ""
    return first in QUESTION_WORDS


def parse(text: str, has_image: bool = False) -> Parsed:
    """Intent of a message by commands and keywords ("chat" when nothing matches)."""
    raw = (text or "").strip()
    if raw.startswith("/"):
        command, _, rest = raw.partition(" ")
        intent = COMMANDS.get(command.lower())
        if intent is None:
            return Parsed("help", raw)
        rest = rest.strip()
        if intent == "locate":
            path, tail = split_path(rest)
            return Parsed("locate", tail, image=path or None)
        if intent == "hint":
            return Parsed("hint", rest)
        return Parsed(intent, rest or raw)
    if has_image:
        return Parsed("locate", raw)
    if not raw:
        return Parsed("error", "")
    low = raw.lower()
    if is_question(low):
        for intent, pattern in _RULES:
            if pattern.search(low):
                return Parsed(intent, raw)
        return Parsed("chat", raw)
    if _RULES[0][1].search(low):
        return Parsed("recheck", raw)
    if _HINT.search(low):
        return Parsed("hint", re.sub(r"^(hint|note|fyi|context)\s*:?\s*", "", raw, flags=re.I))
    for intent, pattern in _RULES[1:]:
        if intent != "answer" and pattern.search(low):
            return Parsed(intent, raw)
    return Parsed("chat", raw)


MODEL_LABELS = ("hint", "recheck", "why", "evidence", "alternatives", "confidence", "answer")


def label_from_model(text: str) -> str | None:
    """The first intent label named in a model's classification answer."""
    found = re.search(r"\b(" + "|".join(MODEL_LABELS) + r")\b", (text or "").lower())
    return found.group(1) if found else None
