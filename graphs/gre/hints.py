"""The place a user's hint names: "I think it is Tampere" -> "Tampere".

A hint is kept as the user wrote it (the model reads it whole); the checks get the place it
names, so Tampere is geocoded as a place instead of searched as a street called
"I think it is Tampere"."""

from __future__ import annotations

import re

_LEAD = re.compile(
    r"^\s*(?:(?:hint|note|fyi|context)\s*:?\s*)?"
    r"(?:(?:i\s+(?:think|believe|know|guess|reckon|suspect)|i'?m\s+(?:pretty\s+|quite\s+)?sure"
    r"|pretty\s+sure|maybe|probably|perhaps|definitely)\s*,?\s*(?:that\s+)?)?"
    r"(?:(?:it|this|that|the\s+photo|the\s+picture)\s*(?:'s|\s+is|\s+was|\s+must\s+be"
    r"|\s+could\s+be|\s+might\s+be)\s*(?:taken\s+)?|(?:it\s+)?(?:was\s+)?taken\s+)?"
    r"(?:(?:in|at|near|from|around)\s+)?(?:the\s+(?:city|town|village)\s+of\s+)?"
    r"(?P<place>.+?)\s*[.!?]*\s*$",
    re.IGNORECASE,
)
# Words that start a hint about something other than a place (time, weather, negation).
_NOT_PLACE = re.compile(
    r"^(?:not|no|winter|summer|spring|autumn|fall|january|february|march|april|may|june|july"
    r"|august|september|october|november|december|morning|evening|night|the\s+(?:sea|coast"
    r"|mountains|north|south|east|west)|a\s|an\s)\b",
    re.IGNORECASE,
)


def hint_place(hint: str) -> str | None:
    """The place a hint names ("I think it is in Finland" -> "Finland"), or None when it
    names none (a season, a negation, a description in lower case)."""
    found = _LEAD.match(hint or "")
    if not found:
        return None
    place = found.group("place").strip(" ,;:'\"")
    words = place.split()
    if not place or len(words) > 4 or _NOT_PLACE.match(place):
        return None
    first = place[0]
    if first.isalpha() and first.islower():  # a description, not a name
        return None
    if place == hint.strip().rstrip(".!?") and len(words) > 1 and not _is_name(words):
        return None
    return place


def _is_name(words: list[str]) -> bool:
    """Every word capitalised or caseless (a name like "New York" or "東京")."""
    small = {"de", "la", "le", "del", "di", "da", "am", "an", "der", "upon", "on", "of", "y"}
    return all(not w[:1].isalpha() or not w[:1].islower() or w in small for w in words)


def hint_texts(hints: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """What the checks read of the hints: the place each names, else the hint itself."""
    return tuple(hint_place(h) or h for h in hints)
