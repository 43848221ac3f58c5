"""The REST Countries v3.1 format (https://restcountries.com), parsed into CountryFacts.

`GET {endpoint}/alpha/{code}` answers a list holding one country object:
name.common, capital[], continents[] (region as fallback), languages{code: name},
car.side, idd.root + idd.suffixes[], tld[], currencies{code: {name, symbol}},
borders[] (alpha-3 codes).
"""

from __future__ import annotations

from typing import Any

from gre_agent.core.errors import ErrorKind, ToolFailure
from gre_agent.tools.country._driving import driving_side
from gre_agent.tools.country._models import CountryFacts
from gre_agent.tools.country._offline import alpha3_to_alpha2


def parse_country(payload: Any, code: str) -> CountryFacts:
    """The facts in one /alpha/{code} answer (bad_response if it is not that shape)."""
    if isinstance(payload, list):
        if not payload:
            raise ToolFailure(ErrorKind.not_found, f"REST Countries has no country {code}")
        payload = payload[0]
    if not isinstance(payload, dict):
        raise ToolFailure(ErrorKind.bad_response, "REST Countries answered neither list nor object")
    name = _get(payload, "name", dict).get("common")
    if not isinstance(name, str) or not name:
        raise ToolFailure(ErrorKind.bad_response, "REST Countries answer has no name.common")
    found = payload.get("cca2")
    if isinstance(found, str) and found.upper() != code:
        raise ToolFailure(ErrorKind.bad_response, f"asked for {code}, REST Countries sent {found}")

    currencies = _get(payload, "currencies", dict)
    currency = next(iter(currencies), None)
    currency_info = currencies.get(currency) if currency else None
    side = _get(payload, "car", dict).get("side")
    a3 = alpha3_to_alpha2()
    return CountryFacts(
        code=code,
        name=name,
        capital=_first(_get(payload, "capital", list)),
        continent=_first(_get(payload, "continents", list)) or payload.get("region") or None,
        languages=[v for v in _get(payload, "languages", dict).values() if isinstance(v, str)],
        driving_side=side if side in ("left", "right") else driving_side(code),
        calling_code=_calling_code(_get(payload, "idd", dict)),
        tld=_first(_get(payload, "tld", list)),
        currency=currency,
        currency_name=currency_info.get("name") if isinstance(currency_info, dict) else None,
        neighbours=[a3[b] for b in _get(payload, "borders", list) if b in a3],
        source="restcountries",
    )


def _get(payload: dict[str, Any], key: str, kind: type) -> Any:
    """payload[key] if it has the expected JSON type, else an empty one."""
    value = payload.get(key)
    return value if isinstance(value, kind) else kind()


def _first(values: list[Any]) -> str | None:
    return next((v for v in values if isinstance(v, str) and v), None)


def _calling_code(idd: dict[str, Any]) -> str | None:
    """root '+3' + the only suffix '58' -> '+358'; many suffixes (NANP '+1') -> the root."""
    root = idd.get("root")
    if not isinstance(root, str) or not root:
        return None
    suffixes = [s for s in idd.get("suffixes") or [] if isinstance(s, str)]
    return root + suffixes[0] if len(suffixes) == 1 else root
