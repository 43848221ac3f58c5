"""A fast CLI (issue 15.5): which modules an import pulls in, in a fresh interpreter (never
a wall-clock time: benchmarks/bench_cli.py measures those)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def loaded(mods: set[str], prefix: str) -> list[str]:
    return [m for m in mods if m == prefix or m.startswith(prefix + ".")]


@pytest.mark.parametrize("heavy", ["langchain_core", "langsmith", "langgraph", "scipy"])
def test_importing_the_tools_pulls_in_no_langchain(heavy):
    mods = modules_after("import gre_agent.tools; from gre_agent.tools import Registry")
    assert not loaded(mods, heavy)


def test_to_langchain_still_imports_on_use():
    mods = modules_after("from gre_agent.tools import to_langchain")
    assert loaded(mods, "langchain_core")


@pytest.mark.parametrize(
    "heavy",
    [
        "gre_agent.evals",
        "gre_agent.tools",
        "gre_agent.graphs",
        "gre_agent.agent",
        "gre_agent.core.settings",
        "pydantic_settings",
        "langchain_core",
        "langgraph",
        "numpy",
    ],
)
def test_the_cli_entry_point_loads_no_package_before_a_command_runs(heavy):
    mods = modules_after("import gre_agent.cli.main")
    assert not loaded(mods, heavy)


def test_core_names_load_on_use():
    mods = modules_after("from gre_agent.core import ErrorKind")
    assert "gre_agent.core.errors" in mods and "gre_agent.core.settings" not in mods
    mods = modules_after("from gre_agent.core import load_settings")
    assert "gre_agent.core.settings" in mods
