"""`country.facts`: capital, languages, driving side, calling code... of one country."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.core.http import request_json
from gre_agent.tools.base import Backend, Tool
from gre_agent.tools.country._models import CountryFacts, FactsArgs
from gre_agent.tools.country._offline import offline_facts
from gre_agent.tools.country._restcountries import parse_country


class FactsTool(Tool):
    name: ClassVar[str] = "country.facts"
    description: ClassVar[str] = (
        "Facts about a country from its ISO alpha-2 code: name, capital, continent, "
        "languages, driving side, calling code, internet domain, currency and the "
        "countries it borders. Use them to test clues (road side, script, phone numbers, "
        "domains on signs) against a candidate country."
    )
    Args: ClassVar[type[BaseModel]] = FactsArgs
    Result: ClassVar[type[BaseModel]] = CountryFacts
    backends: ClassVar[tuple[Backend, ...]] = ("offline", "online")

    def offline(self, args: FactsArgs) -> CountryFacts:
        code = args.country_code.upper()
        facts = offline_facts(code)
        if facts is None:
            raise ToolFailure(ErrorKind.not_found, f"no country with code {code}")
        return facts

    def online(self, args: FactsArgs) -> CountryFacts:
        code = args.country_code.upper()
        fam = self.settings.country
        if not fam.endpoint:
            raise ToolFailure(ErrorKind.unavailable, "settings.country.endpoint is not set")
        url = f"{fam.endpoint.rstrip('/')}/alpha/{code}"
        payload = request_json(self.session("restcountries"), "GET", url, timeout=fam.timeout_s)
        return parse_country(payload, code)
