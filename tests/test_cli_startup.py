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


def modules_after_gre(*args: str) -> set[str]:
    """The modules loaded once `gre ARGS...` has run (in a fresh interpreter)."""
    code = (
        "import sys, json\n"
        "from gre_agent.cli.main import app\n"
        f"sys.argv = ['gre', *{list(args)!r}]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        "print('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.rsplit("\nMODULES ", 1)[1]))


@pytest.fixture(scope="module")
def after_help() -> set[str]:
    return modules_after_gre("--help")


@pytest.mark.parametrize(
    "heavy",
    [
        "langgraph",
        "langchain_core",
        "torch",
        "numpy",
        "pydantic_settings",
        "gre_agent.tools",
        "gre_agent.graphs",
        "gre_agent.evals",
        "gre_agent.core.trace",
        "gre_agent.cli.trace",
        "gre_agent.cli.chat",
        "gre_agent.cli.locate",
    ],
)
def test_gre_help_imports_no_command_module(after_help, heavy):
    assert not loaded(after_help, heavy)


@pytest.fixture(scope="module")
def after_geocode() -> set[str]:
    return modules_after_gre(
        "tools", "call", "gazetteer.geocode", "--offline", "--args", '{"query": "Tampere"}'
    )


@pytest.mark.parametrize(
    "other",
    [
        "gre_agent.tools.osm",
        "gre_agent.tools.wikipedia",
        "gre_agent.tools.ocr",
        "gre_agent.tools.mcp",
        "gre_agent.tools.country",
        "gre_agent.tools.exif",
        "gre_agent.graphs",
        "gre_agent.evals",
        "gre_agent.cli.trace",
        "langgraph",
        "langchain_core",
    ],
)
def test_tools_call_geocode_imports_only_the_gazetteer_family(after_geocode, other):
    assert "gre_agent.tools.gazetteer" in after_geocode
    assert not loaded(after_geocode, other)


def test_every_builtin_tool_name_names_its_family_module():
    from gre_agent.tools.registry import BUILTIN, FAMILIES, _load

    for target in BUILTIN:
        for cls in _load(target):
            assert FAMILIES[cls.name.partition(".")[0]] == target.partition(":")[0], cls.name


def test_a_registry_finds_builtins_without_discovering_every_family(settings):
    from gre_agent.tools import Registry
    from gre_agent.tools.registry import builtin_class

    registry = Registry(settings, include_plugins=False)
    assert "country.facts" in registry and "country.nope" not in registry
    assert registry.get("geo.check") is registry.get("geo.check")
    assert builtin_class("gazetteer.geocode") is registry.classes["gazetteer.geocode"]
    assert builtin_class("nope.tool") is None


def _eager_app():
    """`gre` as it was built before commands loaded lazily: every command added up front."""
    import typer

    from gre_agent.cli.main import COMMANDS

    app = typer.Typer(
        name="gre",
        help="gre-agent: image geolocation that verifies before it commits.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    for name, entry in COMMANDS.items():
        obj = entry.load()
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name)
        else:
            app.command(name)(obj)
    return app


@pytest.mark.parametrize("args", [["--help"], []])
def test_the_lazy_command_list_is_the_eager_one(args):
    from typer.testing import CliRunner

    from gre_agent.cli.main import app

    lazy = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    eager = CliRunner().invoke(_eager_app(), args, env={"COLUMNS": "100"})
    assert lazy.output == eager.output and "sessions" in lazy.output


def test_each_command_help_line_is_its_own_first_paragraph():
    import inspect

    import typer

    from gre_agent.cli.main import COMMANDS, app

    group = typer.main.get_command(app)
    for name, entry in COMMANDS.items():
        real = group.get_command(None, name)  # builds the real command
        assert entry.help == inspect.cleandoc(real.help).split("\n\n")[0], name


@pytest.mark.parametrize("name", ["tools", "trace", "locate", "locatability", "data"])
def test_each_command_help_is_the_eager_one(name):
    from typer.testing import CliRunner

    from gre_agent.cli.main import app

    lazy = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "100"})
    eager = CliRunner().invoke(_eager_app(), [name, "--help"], env={"COLUMNS": "100"})
    assert lazy.exit_code == eager.exit_code == 0
    assert lazy.output == eager.output


def test_a_mistyped_command_still_gets_a_suggestion():
    from typer.testing import CliRunner

    from gre_agent.cli.main import app

    result = CliRunner().invoke(app, ["tols"])
    assert result.exit_code == 2 and "Did you mean 'tools'?" in result.output


def test_a_console_made_at_import_follows_columns_when_it_prints(monkeypatch):
    from gre_agent.cli._console import Console

    monkeypatch.setenv("COLUMNS", "40")
    console = Console(stderr=True)
    assert console.width == 40
    monkeypatch.setenv("COLUMNS", "160")
    assert console.width == 160
    assert Console(width=50).width == 50
