"""GRE's `<think>` block cut into its numbered sections, plus every quoted string.

Headings it recognises: `1. Street-level analysis: …` (inline, as GRE writes them, or
one per line), `**1. Textual clues**`, `1. **Textual clues**:`, `### 2. Terrain`, a
numbered line on its own (`3. Vegetation`), and the five GRE section names without a
number (`Terrain: …`). Numbers may skip (1, 2, 4) but never go back: a `1.` inside
section 3 is a list item, not a heading. An unclosed `<think>` runs to `<answer>` or
the end; with no tags at all, the whole text outside `<answer>` is the reasoning.
"""

from __future__ import annotations

import re

from gre_agent.agent.schemas import ThinkSection, ThinkSections

_THINK_OPEN = re.compile(r"<\s*think\s*>", re.I)
_THINK_CLOSE = re.compile(r"<\s*/\s*think\s*>", re.I)
_ANSWER_OPEN = re.compile(r"<\s*answer\s*>", re.I)
_ANSWER_BLOCK = re.compile(r"<\s*answer\s*>.*?(?:<\s*/\s*answer\s*>|\Z)", re.I | re.S)
_TAG = re.compile(r"<\s*/?\s*(?:think|answer)\s*>", re.I)

_B = r"(?:^|(?<=[\s>*#]))"  # a heading starts a line, or follows a space or a tag
_BOLD_NUM = re.compile(
    _B + r"\*\*[ \t]*(?P<n>\d{1,2})[.)][ \t]*(?P<t>[^*\n:]{1,80}?)[ \t]*:?[ \t]*\*\*[ \t]*:?",
    re.M,
)
_NUM_BOLD = re.compile(
    _B + r"(?P<n>\d{1,2})[.)][ \t]*\*\*(?P<t>[^*\n:]{1,80}?)[ \t]*:?[ \t]*\*\*[ \t]*:?", re.M
)
_NUM_COLON = re.compile(
    _B + r"(?P<n>\d{1,2})[.)][ \t]*(?P<t>[^\W\d_][^:\n.!?;*]{0,60}?)[ \t]*[:：]", re.M
)
_MD_HEAD = re.compile(
    r"^[ \t]*#{1,6}[ \t]*(?:(?P<n>\d{1,2})[.)][ \t]*)?(?P<t>[^\n:#]{1,80}?)[ \t]*:?[ \t]*$", re.M
)
_NUM_LINE = re.compile(
    r"^[ \t]*(?P<n>\d{1,2})[.)][ \t]+(?P<t>[^\W\d_][^\n.:!?*]{0,60}?)[ \t]*$", re.M
)
_KNOWN = (
    r"Street[- ]level analysis|Street[- ]level|Textual clues|Text clues|"
    r"Vegetation(?:[ \t]*(?:/|and|&)[ \t]*[Bb]iome)?|Biome|Terrain|Transport context|"
    r"Transportation|Climate|Architecture|Conclusion"
)
_KNOWN_HEAD = re.compile(
    r"(?:^|(?<=[^\W\d][.!?]\s)|(?<=>)|(?<=\n))[ \t]*(?:\*\*)?(?P<t>"
    + _KNOWN
    + r")(?:\*\*)?[ \t]*:(?:\*\*)?",
    re.M,
)
_HEADINGS = (_BOLD_NUM, _NUM_BOLD, _NUM_COLON, _MD_HEAD, _NUM_LINE, _KNOWN_HEAD)

_KEY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (key, re.compile(pattern, re.I))
    for key, pattern in (
        ("textual_clues", r"\btext|\bsign|\blanguage|\bscript|\bwriting|\binscription|\bocr\b"),
        ("street_level_analysis", r"street|scene overview|overall scene|visual overview"),
        ("vegetation_biome", r"vegetation|biome|flora|plant|\btrees?\b"),
        ("terrain", r"terrain|topograph|landscape|landform|elevation|geolog"),
        ("transport_context", r"transport|traffic|vehicle|\broad|driving|infrastructure"),
        ("climate", r"climate|weather"),
        ("architecture", r"architect|building"),
        ("conclusion", r"conclu|final|summary|synthesis|overall|location infer|answer"),
    )
)

# (pattern, name_like): single quotes double as apostrophes, so only name-like spans count
_QUOTES = tuple(
    (re.compile(p), name_like)
    for p, name_like in (
        (r'"([^"\n]{1,200}?)"', False),
        (r"“([^“”\n]{1,200}?)”", False),
        (r"„([^„“”\n]{1,200}?)[“”]", False),
        (r"«([^«»\n]{1,200}?)»", False),
        (r"»([^«»\n]{1,200}?)«", False),
        (r"「([^「」\n]{1,200}?)」", False),
        (r"‘([^‘’\n]{1,120}?)’(?!\w)", True),
        (r"(?<![\w'’])'((?:[^'\n]|(?<=\w)'(?=\w)){1,120}?)'(?!\w)", True),
    )
)


def section_key(title: str, number: int | None = None) -> str:
    """Normalised section name: GRE's five (plus climate, architecture, conclusion) or a slug."""
    for key, rule in _KEY_RULES:
        if rule.search(title):
            return key
    slug = re.sub(r"[^\w]+", "_", title.lower()).strip("_")
    return slug or (f"section_{number}" if number is not None else "section")


def think_text(text: str) -> str:
    """The reasoning part of a model's output (see the module docstring)."""
    found = _think_text(text)
    return found if found.strip() else _TAG.sub(" ", _ANSWER_BLOCK.sub(" ", text))


def _think_text(text: str) -> str:
    opening = _THINK_OPEN.search(text)
    if opening:
        close = _THINK_CLOSE.search(text, opening.end())
        if close:
            return text[opening.end() : close.start()]
        answer = _ANSWER_OPEN.search(text, opening.end())
        return text[opening.end() : answer.start() if answer else len(text)]
    close = _THINK_CLOSE.search(text)
    if close:
        return text[: close.start()]
    return _TAG.sub(" ", _ANSWER_BLOCK.sub(" ", text))


def quoted_strings(text: str) -> list[str]:
    """Every quoted string, verbatim, in order, once: "…", “…”, „…“, «…», ‘Name’, 'Name'."""
    hits: list[tuple[int, int, str]] = []
    for pattern, name_like in _QUOTES:
        for m in pattern.finditer(text):
            inner = m.group(1).strip()
            if not inner or not any(c.isalnum() for c in inner):
                continue
            first = inner[0]
            caseless = first.isalpha() and not first.islower() and not first.isupper()
            if name_like and not (first.isupper() or first.isdigit() or caseless):
                continue  # 'quaint': an apostrophe pair or a style word, not a name
            if name_like and len(inner.split()) > 8:
                continue
            hits.append((m.start(), m.end(), inner))
    hits.sort()
    out: list[str] = []
    seen: set[str] = set()
    last_end = -1
    for start, end, inner in hits:
        if start < last_end:
            continue
        last_end = end
        if inner not in seen:
            seen.add(inner)
            out.append(inner)
    return out


def _headings(think: str) -> list[tuple[int, int, int | None, str]]:
    found: list[tuple[int, int, int | None, str]] = []
    for pattern in _HEADINGS:
        for m in pattern.finditer(think):
            n = m.groupdict().get("n")
            title = m.group("t").strip().strip("*").strip()
            if title:
                found.append((m.start(), m.end(), int(n) if n else None, title))
    found.sort(key=lambda h: (h[0], -h[1]))
    kept: list[tuple[int, int, int | None, str]] = []
    last_number = 0
    for start, end, number, title in found:
        if kept and start < kept[-1][1]:
            continue
        if number is not None:
            if number <= last_number:
                continue
            last_number = number
        kept.append((start, end, number, title))
    return kept


def _clean(text: str) -> str:
    return _TAG.sub(" ", text).strip().strip("*").strip()


def parse_think(text: str) -> ThinkSections:
    """The numbered reasoning sections of a GRE answer, in order, and its quoted strings.

    Never raises: text without sections gives no sections and the text as `preamble`.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    think = think_text(text)
    heads = _headings(think)
    sections: list[ThinkSection] = []
    for i, (_start, end, number, title) in enumerate(heads):
        stop = heads[i + 1][0] if i + 1 < len(heads) else len(think)
        sections.append(
            ThinkSection(
                key=section_key(title, number),
                title=title,
                number=number,
                text=_clean(think[end:stop]),
            )
        )
    preamble = _clean(think[: heads[0][0]] if heads else think)
    return ThinkSections(
        sections=sections,
        preamble=preamble,
        quoted=quoted_strings(think),
        think=think.strip(),
    )
