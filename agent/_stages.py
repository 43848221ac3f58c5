"""Model text -> stage model, whatever the model chose to write.

Three readings, merged (JSON wins where both say something):
1. JSON, repaired with json-repair (code fences, trailing commas, single quotes, Python
   literals, text around it, a missing closing brace), its keys mapped onto the model's
   fields through aliases, each value coerced (a string where a list is due, "80%" as a
   confidence, "31.28° S" as a latitude); values that cannot fit are dropped into notes.
2. GRE's own format: the numbered `<think>` sections fill the fields (street-level
   analysis -> setting, architecture, road type; textual clues -> texts, with every
   quoted string verbatim; vegetation/biome -> vegetation; terrain -> terrain; transport
   context -> transport, driving side, road markings), and an `<answer>` becomes the
   hypothesis or the final answer.
3. Anything else: the same sentence reading over the prose, which is kept in `notes`.

Never raises on model text.
"""

from __future__ import annotations

import math
import re
import types
import typing
from typing import Any, Literal

import json_repair
from pydantic import BaseModel, ValidationError

from gre_agent.agent import _vocab as vocab
from gre_agent.agent._answer import _WS, parse_coordinate, try_parse_answer
from gre_agent.agent._think import parse_think
from gre_agent.agent.schemas import (
    STAGE_MODELS,
    Details,
    FinalAnswer,
    Hypotheses,
    Hypothesis,
    Scene,
    Semantics,
    StageModel,
    ThinkSections,
    Verification,
)
from gre_agent.core.scripts import scripts_named_in

_MAX_JSON = 200_000
_MAX_DEPTH = 32  # model JSON is shallow; deep nesting is damage, and slow to repair
_FENCE = re.compile(r"```[ \t]*[\w-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)

STAGE_ALIASES = {
    "scene": "scene",
    "detail": "detail",
    "details": "detail",
    "semantic": "semantic",
    "semantics": "semantic",
    "hypotheses": "hypotheses",
    "hypothesis": "hypotheses",
    "verification": "verification",
    "verify": "verification",
    "final": "final",
    "final_answer": "final",
    "answer": "final",
    "commit": "final",
}

# JSON key (normalised) -> field name; used only when the model has that field.
KEY_ALIASES = {
    "text": "texts",
    "visible_text": "texts",
    "texts_read": "texts",
    "ocr": "texts",
    "read_text": "texts",
    "plates": "license_plates",
    "licence_plates": "license_plates",
    "license_plate": "license_plates",
    "licence_plate": "license_plates",
    "markings": "road_markings",
    "road_marking": "road_markings",
    "poles": "poles_bollards",
    "bollards": "poles_bollards",
    "utility_poles": "poles_bollards",
    "shops": "shops_brands",
    "brands": "shops_brands",
    "businesses": "shops_brands",
    "sign": "signs",
    "landmark": "landmarks",
    "road": "road_type",
    "roads": "road_type",
    "road_types": "road_type",
    "buildings": "architecture",
    "building_style": "architecture",
    "landscape": "terrain",
    "topography": "terrain",
    "biome": "vegetation",
    "flora": "vegetation",
    "weather": "climate",
    "environment": "setting",
    "scene_type": "setting",
    "language": "languages",
    "script": "scripts",
    "writing_systems": "scripts",
    "cultural": "cultural_cues",
    "culture": "cultural_cues",
    "countries": "country_hints",
    "country_candidates": "country_hints",
    "candidate_countries": "country_hints",
    "traffic_side": "driving_side",
    "drives_on": "driving_side",
    "name": "place",
    "place_name": "place",
    "location_name": "place",
    "city": "place",
    "region": "place",
    "latitude": "lat",
    "longitude": "lon",
    "lng": "lon",
    "long": "lon",
    "radius": "radius_km",
    "uncertainty_km": "radius_km",
    "error_km": "radius_km",
    "radius_m": "radius_km",
    "score": "confidence",
    "probability": "confidence",
    "prob": "confidence",
    "certainty": "confidence",
    "reasons": "evidence",
    "clues": "evidence",
    "supporting_evidence": "evidence",
    "candidates": "hypotheses",
    "ranked_hypotheses": "hypotheses",
    "revised_hypotheses": "hypotheses",
    "places": "hypotheses",
    "locations": "hypotheses",
    "summary": "reasoning",
    "rationale": "reasoning",
    "explanation": "reasoning",
    "iso_code": "country_code",
    "country_iso": "country_code",
    "cc": "country_code",
    "iso2": "country_code",
    "ruled_out": "rejected",
    "eliminated": "rejected",
    "next_checks": "checks_wanted",
    "checks": "checks_wanted",
    "verdict": "decision",
    "note": "notes",
    "comments": "notes",
}
_COORD_KEYS = ("coordinates", "coords", "location", "position", "latlon", "lat_lon", "point")
_WORD_CONFIDENCE = {"very high": 0.9, "high": 0.8, "medium": 0.5, "moderate": 0.5, "low": 0.2}


def stage_model(stage: str | type[StageModel]) -> type[StageModel]:
    """The model class for a stage name ('scene', 'detail', …, 'final') or a class."""
    if isinstance(stage, type) and issubclass(stage, BaseModel):
        return stage
    key = STAGE_ALIASES.get(str(stage).strip().lower().replace("-", "_"))
    if key is None:
        raise KeyError(f"unknown stage {stage!r}; known: {sorted(STAGE_MODELS)}")
    return STAGE_MODELS[key]


# ---------------------------------------------------------------- JSON


def _balanced_objects(text: str) -> list[str]:
    """Top-level {...} spans, strings respected; an unclosed last one runs to the end."""
    spans: list[str] = []
    depth, start, in_str, quote, escape = 0, -1, False, "", False
    for i, ch in enumerate(text):
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == quote:
                in_str = False
            continue
        if ch in "\"'" and depth > 0:
            in_str, quote = True, ch
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    if depth > 0 and start >= 0:
        spans.append(text[start:])
    return spans


def _depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}]":
            depth = max(depth - 1, 0)
    return deepest


def extract_json(text: str) -> dict[str, Any] | list[Any] | None:
    """The JSON object (or list of objects) in a model's text, repaired; None if none."""
    found = _extract_json(text) if isinstance(text, str) else None
    return found[0] if found else None


def _extract_json(text: str) -> tuple[dict[str, Any] | list[Any], str] | None:
    if "{" not in text:
        return None
    text = text[:_MAX_JSON]
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    brace, bracket = text.find("{"), text.find("[")
    array = None
    if bracket != -1:
        last = text.rfind("]")
        array = text[bracket : last + 1] if last > bracket else text[bracket:]
        if bracket < brace:  # a list of objects: try it whole before its items
            candidates.append(array)
    candidates += sorted(_balanced_objects(text), key=len, reverse=True)
    last = text.rfind("}")
    candidates.append(text[brace : last + 1] if last > brace else text[brace:])
    if array is not None:
        candidates.append(array)
    for candidate in dict.fromkeys(candidates):
        if "{" not in candidate or _depth(candidate) > _MAX_DEPTH:
            continue
        try:
            data = json_repair.loads(candidate)
        except Exception:  # json-repair is tolerant but not proven total; never crash here
            continue
        if isinstance(data, dict) and data:
            return data, candidate
        if isinstance(data, list) and data and all(isinstance(x, dict) for x in data):
            return data, candidate
    return None


# ---------------------------------------------------------------- coercion


def _norm_key(key: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(key).strip().lower()).strip("_")


def _as_text(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list):
        parts = [t for v in value if (t := _as_text(v))]
        return "; ".join(parts) or None
    if isinstance(value, dict):
        parts = [f"{k}: {t}" for k, v in value.items() if (t := _as_text(v))]
        return "; ".join(parts) or None
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple | set):
        return [t for v in value if (t := _as_text(v))]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        parts = [p.strip() for p in re.split(r"\s*[;\n]\s*", text) if p.strip()]
        return parts
    text = _as_text(value)
    return [text] if text else []


_NUMBER = re.compile(r"[-+−]?\d+(?:[.,]\d+)?")


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        m = _NUMBER.search(value)
        if m:
            return float(m.group(0).replace(",", ".").replace("−", "-"))
    return None


def _confidence(value: Any) -> float | None:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _WORD_CONFIDENCE:
            return _WORD_CONFIDENCE[word]
        number = _as_float(value)
        if number is not None and "%" in value:
            number /= 100
    else:
        number = _as_float(value)
    if number is None:
        return None
    if 1 < number <= 100:
        number /= 100
    return number if 0 <= number <= 1 else None


def _radius(value: Any, key: str) -> float | None:
    number = _as_float(value)
    if number is None:
        return None
    if key == "radius_m" or (isinstance(value, str) and re.search(r"\d\s*m\b", value)):
        number /= 1000
    if isinstance(value, str) and re.search(r"\bmi(?:les?)?\b", value):
        number *= 1.609344
    return number if number > 0 else None


def _coordinate(value: Any, axis: str) -> float | None:
    if isinstance(value, str):
        return parse_coordinate(value, axis)
    number = _as_float(value) if not isinstance(value, str) else None
    limit = 90 if axis == "lat" else 180
    return number if number is not None and -limit <= number <= limit else None


def _coords_from(value: Any) -> tuple[float, float] | None:
    if isinstance(value, dict):
        flat = {KEY_ALIASES.get(_norm_key(k), _norm_key(k)): v for k, v in value.items()}
        lat, lon = _coordinate(flat.get("lat"), "lat"), _coordinate(flat.get("lon"), "lon")
        return (lat, lon) if lat is not None and lon is not None else None
    if isinstance(value, list | tuple) and len(value) == 2:
        value = f"{value[0]}, {value[1]}"
    if isinstance(value, str):
        found = try_parse_answer(f"<answer>{value}</answer>")
        return found.as_tuple() if found else None
    return None


def _literal(value: Any, options: tuple[str, ...]) -> str | None:
    if isinstance(value, bool) and "commit" in options:
        return "commit" if value else "refine"
    text = _as_text(value)
    if not text:
        return None
    low = text.lower()
    if "commit" in options:
        if re.search(r"\b(commit|accept|final|done|confident|yes|stop)\b", low):
            return "commit"
        if re.search(r"\b(refine|more|continue|retry|no|check|uncertain)\b", low):
            return "refine"
        return None
    if "left" in options:
        side = vocab.driving_side(text)
        if side:
            return side
        has_left, has_right = "left" in low, "right" in low
        if has_left != has_right:
            return "left" if has_left else "right"
    return None


def _field_kind(annotation: Any) -> str:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _field_kind(inner[0]) if len(inner) == 1 else "any"
    if origin is list:
        return "hypotheses" if args and args[0] is Hypothesis else "list"
    if origin is Literal:
        return "literal"
    if origin is typing.Annotated:
        return _field_kind(args[0])
    if annotation is float:
        return "float"
    if annotation is str:
        return "str"
    return "any"


def _hypothesis_items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        # {"Lisbon": {...}, "Porto": {...}} or one hypothesis
        if any(
            KEY_ALIASES.get(_norm_key(k), _norm_key(k)) in Hypothesis.model_fields for k in value
        ):
            return [value]
        return [
            {"place": k, **v} if isinstance(v, dict) else {"place": k} for k, v in value.items()
        ]
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [{"place": p} for p in _as_list(value)]
    return []


def coerce(model: type[StageModel], data: Any) -> tuple[StageModel, list[str]]:
    """Best-effort model from a JSON value; second item: what did not fit, as notes."""
    leftovers: list[str] = []
    if isinstance(data, list):
        key = "hypotheses" if "hypotheses" in model.model_fields else None
        data = {key: data} if key else {"notes": data}
    elif isinstance(data, dict) and "hypotheses" in model.model_fields:
        keys = {KEY_ALIASES.get(_norm_key(k), _norm_key(k)) for k in data}
        if not keys & set(model.model_fields) and keys & {"place", "lat", *_COORD_KEYS}:
            data = {"hypotheses": [data]}  # one bare hypothesis
    if not isinstance(data, dict):
        return model(), [f"{data}"] if data not in (None, "") else []
    values: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _norm_key(raw_key)
        if key not in model.model_fields:
            key = KEY_ALIASES.get(key, key)
        if key in ("lat", "lon") and key not in model.model_fields:
            key = "_skip"
        if key in _COORD_KEYS and "lat" in model.model_fields:
            pair = _coords_from(value)
            if pair:
                values.setdefault("lat", pair[0])
                values.setdefault("lon", pair[1])
                continue
            if key == "location" and "place" in model.model_fields and isinstance(value, str):
                key = "place"
        if key == "radius_m" and "radius_km" in model.model_fields:
            values["radius_km"] = _radius(value, "radius_m")
            continue
        if model is Hypotheses and key not in model.model_fields and isinstance(value, list):
            key = "hypotheses"
        field = model.model_fields.get(key)
        if field is None or key in values:
            text = _as_text(value)
            if text:
                leftovers.append(f"{raw_key}: {text}")
            continue
        kind = _field_kind(field.annotation)
        if key in ("lat", "lon"):
            converted: Any = _coordinate(value, key)
        elif key == "confidence":
            converted = _confidence(value)
        elif key == "radius_km":
            converted = _radius(value, key)
        elif key == "country_code":
            converted = _country_code(value)
            if converted is None and (text := _as_text(value)):
                values.setdefault("country", text)
        elif kind == "hypotheses":
            converted = []
            for item in _hypothesis_items(value):
                hyp, rest = coerce(Hypothesis, item)
                if not hyp.is_empty():
                    converted.append(hyp)
                leftovers += rest
        elif kind == "list":
            converted = _as_list(value)
        elif kind == "literal":
            options = typing.get_args(typing.get_args(field.annotation)[0])
            converted = _literal(value, options)
        elif kind == "float":
            converted = _as_float(value)
        else:
            converted = _as_text(value)
        if converted is None or converted == []:
            text = _as_text(value)
            if text and key not in ("notes",):
                leftovers.append(f"{raw_key}: {text}")
            continue
        values[key] = converted
    if "notes" in values and leftovers:
        values["notes"] = "\n".join([values["notes"], *leftovers])
        leftovers = []
    if "lat" in model.model_fields and ("lat" in values) != ("lon" in values):
        for key in ("lat", "lon"):
            if key in values:
                leftovers.append(f"{key}: {values.pop(key)}")
    if isinstance(values.get("country"), str) and "country_code" in model.model_fields:
        values.setdefault("country_code", vocab.country_code(values["country"]))
    return _build(model, values, leftovers), leftovers


def _country_code(value: Any) -> str | None:
    text = _as_text(value)
    if not text:
        return None
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return vocab.country_code(text)


def _build(model: type[StageModel], values: dict[str, Any], leftovers: list[str]) -> StageModel:
    """Validate; drop fields that still fail (into leftovers) until it does."""
    values = {k: v for k, v in values.items() if v is not None}
    for _ in range(len(values) + 1):
        try:
            return model.model_validate(values)
        except ValidationError as err:
            bad = {e["loc"][0] for e in err.errors() if e["loc"]}
            if not bad:  # a model-level rule (lat and lon come together)
                bad = {"lat", "lon"} & set(values) or set(values)
            for key in bad:
                if key in values:
                    leftovers.append(f"{key}: {_as_text(values.pop(key))}")
    return model()


# ---------------------------------------------------------------- GRE format / prose


def _join(parts: list[str]) -> str | None:
    parts = [p for p in parts if p]
    return " ".join(parts) if parts else None


def _matching(sents: list[str], key: str) -> list[str]:
    rx = vocab.KEYWORDS[key]
    return [s for s in sents if rx.search(s)]


def _first_sentence(text: str) -> str:
    sents = vocab.sentences(text)
    return sents[0] if sents else text.strip()


def _reasoning_fields(model: type[StageModel], text: str, ts: ThinkSections) -> dict[str, Any]:
    """Field values read from GRE sections (or, with no sections, from the prose)."""
    sec = ts.as_dict()
    body = ts.think or text
    chunks = [ts.preamble, *(s.text for s in ts.sections)] if ts.sections else [body]
    all_sents = [sent for chunk in chunks for sent in vocab.sentences(chunk)]
    street = sec.get("street_level_analysis", "")
    transport = sec.get("transport_context", "")
    out: dict[str, Any] = {}
    if model is Scene:
        scene_sents = vocab.sentences(" ".join([street, transport])) if sec else all_sents
        env_sents = vocab.sentences(
            " ".join([street, sec.get("vegetation_biome", ""), sec.get("terrain", "")])
        )
        out = {
            "setting": _first_sentence(street) if street else None,
            "terrain": sec.get("terrain"),
            "vegetation": sec.get("vegetation_biome"),
            "climate": sec.get("climate")
            or _join(_matching(env_sents if sec else all_sents, "climate")),
            "architecture": sec.get("architecture")
            or _join(_matching(vocab.sentences(street) if sec else all_sents, "architecture")),
            "road_type": _join(_matching(scene_sents, "road_type")),
        }
    elif model is Details:
        textual = sec.get("textual_clues")
        out = {
            "texts": ts.quoted,
            "transport": transport or None,
            **{
                key: _matching(all_sents, key)
                for key in (
                    "signs",
                    "license_plates",
                    "road_markings",
                    "poles_bollards",
                    "shops_brands",
                    "landmarks",
                )
            },
        }
        if textual:
            out["notes"] = textual
    elif model is Semantics:
        brand_quotes = [
            q for s in all_sents if vocab.BRAND_CONTEXT.search(s) for q in ts.quoted if q in s
        ]
        out = {
            "languages": _text_languages(body, sec.get("textual_clues")),
            "scripts": scripts_named_in(body),
            "brands": list(dict.fromkeys(brand_quotes)),
            "cultural_cues": _matching(all_sents, "cultural_cues"),
            "driving_side": vocab.driving_side(body),
            "country_hints": vocab.countries_in(body),
        }
    elif model in (Hypotheses, Verification, Hypothesis, FinalAnswer):
        coords = try_parse_answer(text)
        countries = vocab.countries_in(body)
        country = countries[0] if len(countries) == 1 else None
        evidence = [f"{s.title}: {_first_sentence(s.text)}" for s in ts.sections if s.text]
        evidence += [f'"{q}"' for q in ts.quoted]
        if model is FinalAnswer:
            summary = "; ".join(evidence[: len(ts.sections)]) or _WS.sub(" ", body).strip()
            out = {"reasoning": summary[:2000] or None, "country": country}
            if coords:
                out.update(lat=coords.lat, lon=coords.lon)
        else:
            hyp = None
            if coords:
                hyp = Hypothesis(
                    place=_place_before(body, country) or country,
                    country=country,
                    country_code=vocab.country_code(country) if country else None,
                    lat=coords.lat,
                    lon=coords.lon,
                    evidence=evidence,
                )
            if model is Hypothesis:
                out = hyp.model_dump(exclude_none=True) if hyp else {"evidence": evidence}
            else:
                out = {"hypotheses": [hyp] if hyp else []}
    return {k: v for k, v in out.items() if v not in (None, "", [])}


def _place_before(body: str, country: str | None) -> str | None:
    """The place a conclusion names with its country ("... so this is central Helsinki,
    Finland"): the capitalised words right before the last "<Place>, <Country>"."""
    if not country:
        return None
    word = r"[A-Z][\w'’.-]*"
    joint = (
        r"(?:[ -](?:(?:de|da|do|dos|das|del|della|di|du|la|le|les|el|am|an|im|upon|on|sur)[ -])?)"
    )
    pattern = re.compile(rf"({word}(?:{joint}{word}){{0,4}}),\s+(?:the\s+)?{re.escape(country)}\b")
    found = [m.group(1) for m in pattern.finditer(body)]
    return found[-1] if found else None


def _text_languages(body: str, textual: str | None) -> list[str]:
    """Languages of the text in the image: any the textual clues section names (that is
    what it is about), then those the rest says of text and signs."""
    found = vocab.text_languages_in(textual, about_text=True) if textual else []
    return list(dict.fromkeys([*found, *vocab.text_languages_in(body)]))


def _leftover_notes(model: type[StageModel], text: str, ts: ThinkSections) -> str | None:
    """What the fields did not take: the preamble and unmapped sections, or the prose."""
    if not ts.sections:
        return text.strip() or None
    used = {
        Scene: {"street_level_analysis", "terrain", "vegetation_biome", "climate", "architecture"},
        Details: {"textual_clues", "transport_context"},
    }.get(model, set())
    parts = [ts.preamble] if ts.preamble else []
    parts += [f"{s.title}: {s.text}" for s in ts.sections if s.key not in used and s.text]
    return "\n".join(parts) or None


M = typing.TypeVar("M", bound=StageModel)


@typing.overload
def parse_stage(stage: type[M], text: str) -> M: ...
@typing.overload
def parse_stage(stage: str, text: str) -> StageModel: ...
def parse_stage(stage: str | type[StageModel], text: str) -> StageModel:
    """A stage model from whatever the model wrote (JSON, GRE format, prose).

    Never raises on model text; an unknown stage name is a KeyError (a programming error).
    """
    model = stage_model(stage)
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    found = _extract_json(text)
    json_values: dict[str, Any] = {}
    leftovers: list[str] = []
    rest = text
    if found is not None:
        data, span = found
        part, leftovers = coerce(model, data)
        json_values = part.model_dump(exclude_defaults=True, exclude_none=True)
        rest = _FENCE.sub(lambda m: " " if span in m.group(0) else m.group(0), text)
        rest = rest.replace(span, " ")
    ts = parse_think(rest)
    values = {**_reasoning_fields(model, rest, ts), **json_values}
    notes = [json_values.get("notes"), *leftovers, values.get("notes") if not json_values else None]
    if model is Details and json_values and "notes" not in json_values:
        notes.append(_reasoning_fields(model, rest, ts).get("notes"))
    notes.append(_leftover_notes(model, rest, ts))
    kept = list(dict.fromkeys(n.strip() for n in notes if n and n.strip()))
    values["notes"] = "\n".join(kept) or None
    return _build(model, values, [])
