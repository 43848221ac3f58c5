"""Prompt templates, one file per graph stage, plus GRE's own single-shot prompt.

    render(name, **values) -> str    fills `$placeholders` (string.Template syntax)
    variables(name) -> set[str]      the placeholders a template needs
    template(name) -> str            the raw text
    PROMPTS                          every template name

Templates are `<name>.md` files beside this module, read with importlib.resources, so
they ship in the wheel. `$name` placeholders (not `{name}`) leave JSON braces alone;
`$$` is a literal dollar. A missing value is a PromptError (except `$context`, free
extra instructions, empty by default); extra values are ignored, so the graph can pass
one context to every stage. Stage results go in as `format_stage(model)`, checked
claims as `format_evidence(items)` (EvidenceItems or ready lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from string import Template

from pydantic import BaseModel

from gre_agent.core.errors import PromptError
from gre_agent.core.evidence import EvidenceItem

STAGE_PROMPTS = ("scene", "detail", "semantic", "hypotheses", "verification", "final")
PROMPTS = (*STAGE_PROMPTS, "system", "gre")
"""`system`: the agent's system message; `gre`: the plain GRE baseline, single shot."""
OPTIONAL = {"context": ""}
"""Placeholders that may be left out, with their defaults."""


@cache
def template(name: str) -> str:
    """The raw text of a prompt template."""
    if name not in PROMPTS:
        raise PromptError(f"no prompt {name!r}; known: {', '.join(PROMPTS)}")
    try:
        return resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise PromptError(f"prompt file {name}.md is missing from the package") from err


def variables(name: str) -> set[str]:
    """The `$placeholders` a template needs."""
    return set(Template(template(name)).get_identifiers())


def render(name: str, **values: object) -> str:
    """The template with its placeholders filled; values are turned into text with str()."""
    needed = variables(name)
    values = {**OPTIONAL, **values}
    missing = sorted(needed - values.keys())
    if missing:
        raise PromptError(f"prompt {name!r} needs {', '.join(missing)}")
    text = {k: "" if values[k] is None else str(values[k]) for k in needed}
    try:
        filled = Template(template(name)).substitute(text)
    except (KeyError, ValueError) as err:
        raise PromptError(f"prompt {name!r}: {err}") from err
    return re.sub(r"\n{3,}", "\n\n", filled).strip() + "\n"


def format_stage(stage: BaseModel | None) -> str:
    """A finished stage as compact JSON (empty fields left out); "(none)" if missing."""
    if stage is None:
        return "(none)"
    text = stage.model_dump_json(exclude_none=True, exclude_defaults=True)
    return "(none)" if text == "{}" else text


def format_evidence(items: Iterable[EvidenceItem | str]) -> str:
    """One line per item: an EvidenceItem as its `line()` (claim | source | result |
    supports / contradicts), a string as a bullet of its own."""
    lines = [item.line() if isinstance(item, EvidenceItem) else f"- {item}" for item in items]
    return "\n".join(lines) or "(none)"
