"""Build a small Kiwix-style ZIM from article facts (JSON lines).

Each record is `{title, lang, summary, lat?, lon?, redirects?}`; `summary` may hold
several paragraphs separated by blank lines. Articles are written as HTML that looks
like Wikipedia's: a title, the paragraphs, and the title coordinates in a
`<span id="coordinates">` block with `geo-dec` and `geo` spans, so the offline reader
parses them the way it parses real Kiwix dumps. The ZIM gets a full-text and a title
index. Used by `gre data wikipedia build-zim`, the tests and the bundled demo ZIM.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from pathlib import Path

from libzim.writer import Creator, Hint, IndexData, Item, StringProvider
from pydantic import BaseModel, Field, ValidationError

from gre_agent.core.errors import ConfigError

from ._lang import lang3


class Fact(BaseModel):
    """One article's facts."""

    title: str = Field(min_length=1)
    lang: str = "en"
    summary: str = Field(min_length=1)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    redirects: list[str] = Field(default_factory=list, description="Other titles for it.")


def article_path(title: str) -> str:
    """Wikipedia's path for a title (what mwoffliner uses inside ZIMs too)."""
    return title.strip().replace(" ", "_")


def _hemi(value: float, pos: str, neg: str) -> str:
    return f"{abs(value):.4f}°{pos if value >= 0 else neg}"


def article_html(fact: Fact) -> str:
    title = html.escape(fact.title)
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{title}</title></head>",
        f'<body><h1 id="firstHeading">{title}</h1>',
    ]
    if fact.lat is not None and fact.lon is not None:
        dec = f"{_hemi(fact.lat, 'N', 'S')} {_hemi(fact.lon, 'E', 'W')}"
        parts.append(
            '<p><span id="coordinates"><span class="geo-dec">'
            f'{dec}</span> <span style="display:none">(<span class="geo">'
            f"{fact.lat:.5f}; {fact.lon:.5f}</span>)</span></span></p>"
        )
    for para in fact.summary.split("\n\n"):
        if para.strip():
            parts.append(f"<p>{html.escape(para.strip())}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


class _Page(Item):
    def __init__(self, path: str, title: str, content: str, *, front: bool = True):
        super().__init__()
        self._path, self._title, self._content, self._front = path, title, content, front

    def get_path(self) -> str:
        return self._path

    def get_title(self) -> str:
        return self._title

    def get_mimetype(self) -> str:
        return "text/html"

    def get_contentprovider(self) -> StringProvider:
        return StringProvider(self._content)

    def get_hints(self) -> dict[Hint, int]:
        return {Hint.FRONT_ARTICLE: self._front}


class _NoIndex(IndexData):
    def has_indexdata(self) -> bool:
        return False


class _ListPage(_Page):
    """The main page: a list of every title, kept out of the full-text index."""

    def get_indexdata(self) -> IndexData:
        return _NoIndex()


def read_facts(path: Path) -> list[Fact]:
    """Facts from a JSON-lines file; a bad line is a ConfigError naming the line."""
    facts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            facts.append(Fact.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(f"{path}:{n}: not a valid fact record: {exc}") from exc
    return facts


def build_zim(
    facts: Iterable[Fact],
    out: Path,
    *,
    lang: str | None = None,
    title: str = "Wikipedia facts",
    description: str = "Small Wikipedia-style ZIM built by gre-agent",
) -> tuple[Path, int]:
    """Write the facts of one language as a ZIM; returns (path, articles written)."""
    facts = list(facts)
    if not facts:
        raise ConfigError("no facts to write")
    lang = lang or facts[0].lang
    chosen = [f for f in facts if f.lang == lang]
    if not chosen:
        raise ConfigError(f"no facts in language {lang!r}")
    code3 = lang3(lang)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    seen: set[str] = set()
    creator = Creator(str(out)).config_indexing(True, code3)
    creator.config_nbworkers(1)
    with creator:
        creator.set_mainpath("index")
        for key, value in {
            "Name": f"gre_wikipedia_{lang}",
            "Title": title,
            "Description": description,
            "Language": code3,
            "Creator": "Wikipedia contributors (facts restated)",
            "Publisher": "gre-agent",
            "Date": dt.date.today(),
            "Source": f"https://{lang}.wikipedia.org/",
        }.items():
            creator.add_metadata(key, value)
        for fact in chosen:
            path = article_path(fact.title)
            if path in seen:
                raise ConfigError(f"duplicate title {fact.title!r}")
            seen.add(path)
            creator.add_item(_Page(path, fact.title, article_html(fact)))
        for fact in chosen:
            for alias in fact.redirects:
                if article_path(alias) not in seen:
                    seen.add(article_path(alias))
                    creator.add_redirection(
                        article_path(alias), alias, article_path(fact.title), {}
                    )
        links = "".join(
            f'<li><a href="{html.escape(article_path(f.title))}">{html.escape(f.title)}</a></li>'
            for f in chosen
        )
        index = f"<html><head><title>{html.escape(title)}</title></head><body><ul>{links}</ul>"
        creator.add_item(_ListPage("index", title, index + "</body></html>", front=False))
    return out, len(chosen)
