"""What the web chat shows beside the conversation: the answer, the evidence, the map.

Plain functions from the GRE graph's state (prediction, evidence, trace) to Markdown and
HTML strings; no Gradio here, so they are cheap to test. Everything the model or a tool
wrote is escaped: it is shown, never interpreted.
"""

from __future__ import annotations

import html
import re
from typing import Any

from gre_agent.cli.locate import country_name

# Symbols every font has (headless Chromium on a server has no colour-emoji font).
EFFECT_MARKS = {
    "confirm": "✔✔",
    "support": "✔",
    "move": "➜",
    "against": "✘",
    "reject": "✘✘",
    "neutral": "○",
    "error": "⚠",
}
MAP_HEIGHT_PX = 440
NO_MAP = "<div class='gre-no-map'>The map appears here once a photo has been located.</div>"


def esc(text: Any) -> str:
    """Model or tool text made inert in Markdown: HTML escaped, Markdown markers neutral."""
    s = html.escape(" ".join(str(text).split()), quote=False)
    for ch in "\\`*_[]#|~":
        s = s.replace(ch, "\\" + ch)
    return s


URL = re.compile(r"https?://[^\s<>]+")


LIST_ITEM = re.compile(r"\s*(?:[-+]|\d+[.)])\s")


def esc_links(text: str) -> str:
    """Like `esc`, line by line, with the URLs in it kept clickable. A line that follows a
    list item without being one starts a paragraph (Markdown would continue the item)."""
    out: list[str] = []
    in_list = False
    for line in (text or "").splitlines():
        if LIST_ITEM.match(line):
            in_list = True
        elif not line.strip():
            in_list = False
        elif in_list and not line[0].isspace():  # an indented line continues the item
            out.append("")
            in_list = False
        parts, last = [], 0
        for m in URL.finditer(line):
            parts += [esc(line[last : m.start()]), f"<{m.group(0)}>"]
            last = m.end()
        parts.append(esc(line[last:]))
        out.append(" ".join(p for p in parts if p))
    return "\n".join(out)


WRITING_SHOWN = 600  # characters of the model's text in progress shown while it writes


def progress_markdown(lines: list[tuple[str, str]], writing: str = "") -> str:
    """The agent's finished stages so far, one line each, then the end of what the model
    is writing now (quoted)."""
    done = "\n".join(f"- ✓ **{esc(stage)}** {esc(text)}" for stage, text in lines)
    if not writing.strip():
        return done
    tail = writing[-WRITING_SHOWN:]
    quoted = "\n".join(f"> {esc(line)}" if line.strip() else ">" for line in tail.splitlines())
    return f"{done}\n\n_The model is writing:_\n\n{quoted}".lstrip()


def answer_markdown(prediction: dict[str, Any] | None, error: str | None = None) -> str:
    """The answer card: coordinates, place, country, confidence, checks, an OSM link."""
    if error:
        return f"**Could not locate the photo.** {esc(error)}"
    if not prediction:
        return "_No answer yet: attach a photo and send it._"
    lat, lon = prediction.get("lat"), prediction.get("lon")
    if lat is None or lon is None:
        reason = prediction.get("reasoning") or prediction.get("status") or "no place found"
        return f"**No place found.** {esc(reason)}"
    code = prediction.get("country_code")
    country = country_name(code)
    place = ", ".join(p for p in (prediction.get("place"), prediction.get("admin1")) if p)
    rows = [
        ("coordinates", f"{lat:.5f}, {lon:.5f}"),
        ("place", place or "-"),
        ("country", f"{country} ({code})" if country else code or "-"),
        ("confidence", f"{prediction.get('confidence') or 0:.2f} ({prediction.get('status')})"),
        (
            "checks",
            f"{prediction.get('rounds', 0)} round(s), {prediction.get('tool_calls', 0)} tool "
            f"call(s), {prediction.get('tool_errors', 0)} error(s)",
        ),
    ]
    lines = ["### Answer", ""]
    lines += [f"- **{k}**: {esc(v)}" for k, v in rows]
    url = f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=16/{lat:.5f}/{lon:.5f}"
    lines += ["", f"[open in OpenStreetMap]({url})"]
    return "\n".join(lines)


def evidence_markdown(
    evidence: list[dict[str, Any]], hypotheses: list[dict[str, Any]] | None = None
) -> str:
    """The checked claims, strongest first: effect, claim, tool, what it found, for whom.

    A candidate is named as it ended (`hypotheses`' labels, by key): an item's own label
    holds the coordinates from when it was found, before any snap moved the candidate."""
    if not evidence:
        return "_No evidence yet._"
    labels = {h["key"]: h["label"] for h in hypotheses or [] if h.get("key") and h.get("label")}
    items = sorted(evidence, key=lambda e: -abs(float(e.get("weight") or 0.0)))
    lines = ["### Evidence", ""]
    for e in items:
        effect = e.get("effect") or "neutral"
        mark = EFFECT_MARKS.get(effect, "○")
        bits = [f"{mark} **{esc(e.get('claim') or '?')}**"]
        candidate = labels.get(e.get("candidate_key") or "") or e.get("candidate")
        if candidate:
            bits.append(f"for {esc(candidate)}")
        bits.append(f"({esc(e.get('tool') or 'reasoning')}, {esc(effect)})")
        line = " ".join(bits)
        detail = e.get("error") or e.get("summary")
        if detail:
            line += f": {esc(detail)}"
        lines.append(f"- {line}")
    return "\n".join(lines)


def map_layer(run: dict[str, Any]) -> Any:
    """The map layer of a chat session's last GRE run (graphs.chat.maps.run_layer)."""
    from gre_agent.graphs.chat.maps import run_layer  # imports folium: only when drawn

    return run_layer(run)


def map_iframe(layers: list[Any], tiles: str | None) -> str:
    """The folium map as an iframe whose srcdoc holds the whole page (Leaflet inlined, so
    the browser fetches nothing but tiles, and none when `tiles` is None)."""
    from gre_agent.graphs.gre.map import build_map, render_html

    if not any(layer.points() for layer in layers):
        return NO_MAP
    page = render_html(build_map(layers, tiles=tiles), assets="inline")
    return (
        f'<iframe class="gre-map" title="map of hypotheses, evidence and answer" '
        f'style="width:100%;height:{MAP_HEIGHT_PX}px;border:0" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )
