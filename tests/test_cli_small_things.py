"""Small things a new user meets (issue 15.10): usage names arguments as command lines do
(`IMAGES...`, not `{images}...`), flags show no `<bool>` type, and `gre trace show` prints a
sentence the single-pass answer put in several scene fields once, and tool results indented
under their tool."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from gre_agent.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "examples" / "helsinki-street.trace.jsonl"  # single-pass


def gre(*args: str | Path, width: int = 100):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(width)})


def test_usage_and_flags_read_like_a_command_line():
    res = gre("locate")
    assert res.exit_code == 2
    assert "Usage: gre locate [OPTIONS] IMAGES..." in res.output and "{images}" not in res.output
    assert "gre trace show [OPTIONS] PATH" in gre("trace", "show").output
    helped = gre("locate", "--help").output
    assert "<bool>" not in helped and "--json" in helped and "--offline" in helped
    assert "IMAGES..." in helped


def test_trace_show_prints_a_repeated_sentence_once_and_indents_tool_results():
    res = gre("trace", "show", TRACE, width=80)
    assert res.exit_code == 0, res.output
    scene = res.stdout.split("stage scene", 1)[1].split("stage detail", 1)[0]
    assert scene.count("a dense city-centre street") == 1, scene
    assert "(as setting)" in scene
    lines = res.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("tool  geo.check"))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        block.append(line)
    assert len(block) >= 3 and all(line.startswith("      ") for line in block), block
