"""Pydantic argument models built from an MCP tool's JSON schema.

The model checks what it can locally (required properties, the JSON type of each
top-level property, enums) so a bad call fails as `invalid_args` before the server is
reached; anything deeper (nested objects, `$ref`, combinators) is left to the server.
`model_json_schema()` gives back the server's schema unchanged, so `gre tools list`
and the models see exactly what the server published.
"""

from __future__ import annotations

import copy
import keyword
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
    "null": type(None),
}


class SchemaArgs(BaseModel):
    """Base of the generated models; dumps use the schema's property names."""

    model_config = ConfigDict(extra="allow", serialize_by_alias=True, validate_by_alias=True)

    mcp_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.mcp_schema)


def _annotation(prop: Any) -> Any:
    if not isinstance(prop, dict):
        return Any
    enum = prop.get("enum")
    if isinstance(enum, list) and enum and all(_literal_ok(v) for v in enum):
        return Literal[tuple(enum)]
    if "const" in prop and _literal_ok(prop["const"]):
        return Literal[prop["const"]]
    kind = prop.get("type")
    if isinstance(kind, str):
        return _JSON_TYPES.get(kind, Any)
    if isinstance(kind, list) and kind and all(k in _JSON_TYPES for k in kind):
        return Union[tuple(_JSON_TYPES[k] for k in kind)]  # noqa: UP007 (built at run time)
    return Any


def _literal_ok(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _python_name(name: str, index: int) -> str:
    ok = name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")
    return name if ok and not hasattr(BaseModel, name) else f"field_{index}"


def args_model(model_name: str, schema: dict[str, Any]) -> type[SchemaArgs]:
    """A SchemaArgs subclass for `schema` (an object schema; anything else takes any args)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    props = props if isinstance(props, dict) else {}
    required = set(schema.get("required") or []) if isinstance(schema, dict) else set()
    fields: dict[str, Any] = {}
    for index, (name, prop) in enumerate(props.items()):
        annotation = _annotation(prop)
        description = prop.get("description") if isinstance(prop, dict) else None
        if name in required:
            default: Any = ...
        else:
            annotation = annotation | None if annotation is not Any else Any
            default = prop.get("default") if isinstance(prop, dict) else None
        fields[_python_name(name, index)] = (
            annotation,
            Field(default, alias=name, description=description),
        )
    closed = isinstance(schema, dict) and schema.get("additionalProperties") is False
    model = create_model(model_name, __base__=SchemaArgs, **fields)
    model.model_config = {**model.model_config, "extra": "forbid" if closed else "allow"}
    model.model_rebuild(force=True)
    model.mcp_schema = copy.deepcopy(schema) if isinstance(schema, dict) else {"type": "object"}
    return model
