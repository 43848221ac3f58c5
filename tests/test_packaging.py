"""Install paths: editable, built wheel, and a third-party tool plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugins" / "gre_hello_plugin"


def run_py(code: str, cwd: Path, **env: str) -> str:
    """Run code in a fresh interpreter outside the repo (so the repo is not on sys.path)."""
    full_env = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_editable_install_maps_folders_into_one_namespace(tmp_path):
    out = run_py(
        "import importlib.util as u, json, gre_agent.tools, gre_agent.core, gre_agent.cli.main;"
        "print(json.dumps([gre_agent.tools.__file__, "
        "[n for n in ('tools', 'agent', 'graphs', 'evals', 'core', 'cli') if u.find_spec(n)]]))",
        cwd=tmp_path,
    )
    tools_file, top_level = json.loads(out)
    assert Path(tools_file) == ROOT / "tools" / "__init__.py"
    assert top_level == []  # no generic top-level packages leak out


@pytest.mark.slow
def test_built_wheel_has_only_the_namespace_and_imports(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("gre_agent-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert all(t == "gre_agent" or t.endswith(".dist-info") for t in tops), tops
    assert "gre_agent/tools/base.py" in names and "gre_agent/cli/main.py" in names
    assert not any(n.startswith(("tools/", "agent/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gre = gre_agent.cli.main:app" in zipfile.ZipFile(wheel).read(entry_points).decode()

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    out = run_py(
        "import gre_agent.tools.base as b, gre_agent.tools.registry as r; "
        "print(b.__file__); print(len(r.BUILTIN))",
        cwd=tmp_path,
        PYTHONPATH=str(target),
    )
    file, count = out.splitlines()
    assert Path(file).is_relative_to(target)
    assert int(count) > 0


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PLUGIN),
        ],
        check=True,
        capture_output=True,
    )
    return target


def test_plugin_tool_is_discovered_and_runs(plugin_site, tmp_path):
    out = run_py(
        "import asyncio, json\n"
        "from gre_agent.tools import Registry, to_langchain\n"
        "reg = Registry()\n"
        "tool = reg.get('hello.greet')\n"
        "o = asyncio.run(tool.run({'place': 'Hobart', 'lat': -42.88}))\n"
        "lc = to_langchain(tool)\n"
        "result = o.model_dump(mode='json')['result']\n"
        "print(json.dumps({'names': reg.names(), 'result': result, 'lc': lc.name}))",
        cwd=tmp_path,
        PYTHONPATH=str(plugin_site),
    )
    data = json.loads(out)
    assert "hello.greet" in data["names"] and "gazetteer.geocode" in data["names"]
    assert data["result"] == {"greeting": "Hello, Hobart!", "hemisphere": "south"}
    assert data["lc"] == "hello__greet"


def test_plugin_tool_through_cli(plugin_site, tmp_path):
    gre = Path(sys.executable).with_name("gre")
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    listed = subprocess.run(
        [str(gre), "tools", "list", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "hello.greet" in {spec["name"] for spec in json.loads(listed.stdout)}
    called = subprocess.run(
        [str(gre), "tools", "call", "hello.greet", "--args", '{"place": "Oslo", "lat": 59.9}'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(called.stdout)["hemisphere"] == "north"
    bad = subprocess.run(
        [str(gre), "tools", "call", "hello.greet", "--args", '{"place": "X", "lat": 123}'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "invalid_args" in bad.stderr
