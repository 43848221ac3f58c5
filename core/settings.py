"""Configuration: a `gre.toml` file plus `GRE_*` environment variables.

Precedence (highest first): explicit arguments, environment (`GRE_OSM__BACKEND=online`),
the TOML file (`./gre.toml`, or the path in `GRE_CONFIG`), then the defaults below.
Each tool family (the part of a tool name before the dot) has one section.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_USER_AGENT = "gre-agent/0.1 (+https://github.com/gre-agent/gre-agent)"


class CacheMode(StrEnum):
    off = "off"  # never read or write the cache
    read_write = "read-write"  # answer from the cache when possible, store new answers
    replay_only = "replay-only"  # answer only from the cache; never touch the network


def _default_home() -> Path:
    return Path(os.environ.get("GRE_HOME", Path.home() / ".cache" / "gre-agent"))


class ToolSettings(BaseModel):
    """Settings shared by every tool family."""

    backend: Literal["online", "offline"] = "offline"
    endpoint: str | None = Field(None, description="Base URL of the online service.")
    user_agent: str | None = Field(None, description="Overrides the global User-Agent.")
    timeout_s: float = Field(20.0, gt=0, description="Per-request timeout.")
    retries: int = Field(2, ge=0, description="Retries on 429/5xx and connection errors.")
    backoff_s: float = Field(0.5, ge=0, description="Exponential backoff factor.")
    max_retry_after_s: float = Field(
        30.0, ge=0, description="Longest Retry-After honoured; longer ones fail fast."
    )
    min_interval_s: float = Field(
        0.0, ge=0, description="Minimum seconds between network requests (process-wide)."
    )
    cache_mode: CacheMode | None = Field(None, description="None: use the global mode.")
    data_path: Path | None = Field(None, description="Offline data for this tool family.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers, e.g. Authorization for a self-hosted Overpass/Nominatim.",
    )


class GazetteerSettings(ToolSettings):
    endpoint: str | None = "nominatim.openstreetmap.org"
    scheme: Literal["http", "https"] = "https"
    min_interval_s: float = 1.0  # Nominatim's usage policy: at most 1 request per second


class OsmSettings(ToolSettings):
    endpoint: str | None = "https://overpass-api.de/api/interpreter"


class WikipediaSettings(ToolSettings):
    endpoint: str | None = "https://{lang}.wikipedia.org/w/api.php"
    exclude_domains: list[str] = Field(
        default_factory=list,
        description="Leakage guard: drop pages whose title or URL mentions any of these.",
    )


class CountrySettings(ToolSettings):
    endpoint: str | None = "https://restcountries.com/v3.1"


class ExifSettings(ToolSettings):
    enabled: bool = Field(True, description="Evaluations switch this off: EXIF leaks answers.")


class ModelSettings(BaseModel):
    """How to reach the vision-language model (the model layer reads this)."""

    backend: Literal["openai", "transformers", "replay"] = "openai"
    model: str = Field("Anonymous0515/GRE", description="Model id or local path.")
    base_urls: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000/v1"],
        description="OpenAI-compatible endpoints; several = round-robin with failover.",
    )
    api_key: str = "EMPTY"
    timeout_s: float = Field(120.0, gt=0)
    retries: int = Field(2, ge=0)
    max_tokens: int = Field(1024, gt=0)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_pixels: int = Field(1024 * 28 * 28, gt=0, description="Image pixel budget per image.")
    device: str = Field("auto", description="transformers backend: auto, cpu, cuda, cuda:1 ...")
    dtype: str = Field("auto", description="transformers backend: auto, float32, bfloat16 ...")
    replay_path: Path | None = Field(None, description="replay backend: a trace to replay.")
    stages: Literal["auto", "single-pass", "per-stage"] = Field(
        "auto",
        description="single-pass: one generation per image (GRE's staged answer); per-stage: "
        "one prompt per stage (instruction-following VLMs); auto: single-pass for GRE models.",
    )
    stream: bool | None = Field(
        None,
        description="openai backend: stream answers (SSE). None: when the caller takes text "
        "as it is written (on_text); true: always (time to first token); false: never.",
    )


class McpServerSettings(BaseModel):
    """An MCP server whose tools join the registry as `<prefix>.<tool>` (`[[mcp_servers]]`).

    Either `command` (+ `args`, `env`, `cwd`): a local server spoken to over stdio, or
    `url` (+ `headers`): a streamable-HTTP server.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Names the server in errors, logs and cache keys.")
    prefix: str | None = Field(None, description="Tool-name prefix; default: the name.")
    command: str | None = Field(None, description="stdio: the program that runs the server.")
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(
        default_factory=dict, description="stdio: variables on top of a minimal environment."
    )
    cwd: Path | None = None
    url: str | None = Field(None, description="HTTP: the endpoint, e.g. http://host:8000/mcp.")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP: e.g. Authorization.")
    timeout_s: float = Field(30.0, gt=0, description="Budget of each connect, list and call.")
    cache_mode: CacheMode | None = Field(None, description="None: use the global mode.")

    @field_validator("name", "prefix")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        # Tool names go to models as `prefix__tool`: a prefix with "__" would not map back.
        if value is not None and (
            not value[:1].isalpha()
            or "__" in value
            or value.endswith("_")
            or not value.replace("_", "").replace("-", "").isalnum()
            or not value.isascii()
        ):
            raise ValueError(
                f"{value!r}: use letters, digits, '-' and single '_', starting with a letter"
            )
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"mcp server {self.name!r}: set either command or url")
        return self

    @property
    def tool_prefix(self) -> str:
        return self.prefix or self.name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="GRE_",
        env_nested_delimiter="__",
        toml_file="gre.toml",
        extra="ignore",
    )

    home: Path = Field(default_factory=_default_home, description="Caches and offline data.")
    offline: bool = Field(False, description="Force every tool onto its offline backend.")
    cache_mode: CacheMode = CacheMode.read_write
    user_agent: str = DEFAULT_USER_AGENT
    calibration: Path | None = Field(
        None, description="Confidence calibration fitted by `gre eval calibrate`."
    )

    gazetteer: GazetteerSettings = Field(default_factory=GazetteerSettings)
    osm: OsmSettings = Field(default_factory=OsmSettings)
    wikipedia: WikipediaSettings = Field(default_factory=WikipediaSettings)
    country: CountrySettings = Field(default_factory=CountrySettings)
    exif: ExifSettings = Field(default_factory=ExifSettings)
    geo: ToolSettings = Field(default_factory=ToolSettings)

    model: ModelSettings = Field(default_factory=ModelSettings)
    mcp_servers: list[McpServerSettings] = Field(
        default_factory=list, description="MCP servers whose tools join the registry."
    )

    @field_validator("mcp_servers")
    @classmethod
    def _distinct_prefixes(cls, servers: list[McpServerSettings]) -> list[McpServerSettings]:
        seen: set[str] = set()
        for server in servers:
            prefix = server.tool_prefix
            if prefix in seen or prefix in cls.model_fields:
                raise ValueError(f"mcp server prefix {prefix!r} is taken")
            seen.add(prefix)
        return servers

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("GRE_CONFIG", "gre.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    def family(self, name: str) -> ToolSettings:
        """Settings of a tool family (`osm` for `osm.features_near`); defaults if unknown."""
        section = getattr(self, name.split(".", 1)[0], None)
        return section if isinstance(section, ToolSettings) else ToolSettings()

    def backend_for(self, name: str) -> Literal["online", "offline"]:
        return "offline" if self.offline else self.family(name).backend

    def cache_mode_for(self, name: str) -> CacheMode:
        return self.family(name).cache_mode or self.cache_mode

    def user_agent_for(self, name: str) -> str:
        return self.family(name).user_agent or self.user_agent


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and gre.toml, with explicit overrides on top."""
    return Settings(**overrides)
