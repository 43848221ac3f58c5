"""Turning the model's free text into validated data.

    parse_answer(text) -> Coordinates      every GRE answer variant; AnswerParseError otherwise
    try_parse_answer(text) -> Coordinates | None
    parse_think(text) -> ThinkSections     GRE's numbered <think> sections + quoted strings
    parse_stage(stage, text) -> StageModel JSON (repaired), GRE format or prose; never raises
    extract_json(text) -> dict | list | None

`parse_answer` is the only one that raises on model text: AnswerParseError, a GreError
whose `reason` says why (no coordinates, or which one is out of range). The variants
it reads are listed in `gre_agent.agent._answer`; the headings `parse_think` knows in
`gre_agent.agent._think`; how stages are filled in `gre_agent.agent._stages`.
"""

from gre_agent.agent._answer import parse_answer, try_parse_answer
from gre_agent.agent._stages import (
    STAGE_ALIASES,
    coerce,
    extract_json,
    parse_stage,
    stage_model,
)
from gre_agent.agent._think import parse_think, quoted_strings, section_key, think_text
from gre_agent.core.errors import AnswerParseError

__all__ = [
    "STAGE_ALIASES",
    "AnswerParseError",
    "coerce",
    "extract_json",
    "parse_answer",
    "parse_stage",
    "parse_think",
    "quoted_strings",
    "section_key",
    "stage_model",
    "think_text",
    "try_parse_answer",
]
