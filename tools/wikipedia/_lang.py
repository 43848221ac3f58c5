"""Language codes: Wikipedia uses ISO 639-1 ("en"), ZIM metadata ISO 639-3 ("eng")."""

from __future__ import annotations

import functools

import pycountry


@functools.cache
def lang3(code: str) -> str:
    """ISO 639-3 code of a Wikipedia language code (unknown codes pass through)."""
    code = code.lower()
    if len(code) == 2:
        found = pycountry.languages.get(alpha_2=code)
        if found is not None:
            return found.alpha_3
    return code


def same_language(wiki_code: str, zim_codes: str) -> bool:
    """Whether a ZIM's Language metadata (e.g. "eng" or "eng,fra") covers `wiki_code`."""
    wanted = {wiki_code.lower(), lang3(wiki_code)}
    return any(c.strip().lower() in wanted for c in zim_codes.split(","))
