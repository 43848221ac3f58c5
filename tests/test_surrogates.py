"""Issue 16 (1): a lone UTF-16 surrogate from a model or a tool must not end a run or a batch.

`"60.17\\ud800"` is valid JSON, so a model's answer can hold a str that UTF-8 cannot encode.
Traces, eval rows and `gre locate --json` write it as U+FFFD, and every queued image is output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from gre_agent.cli.main import app
from gre_agent.core.text import REPLACEMENT, json_line, safe_text, safe_value
from gre_agent.core.trace import TraceHeader, read_trace, write_trace
from gre_agent.evals._results import dumps as row_line
from tests.fake_openai import FakeOpenAIServer

# The answer's text itself holds lone surrogates (the server's ASCII JSON escapes them).
SURROGATE_ANSWER = (
    '{"place": "Hels\ud800inki", "country_code": "FI", "Latitude": "60.17\udfff",'
    ' "lat": 60.17, "lon": 24.94, "confidence": 0.5, "reasoning": "\ud83d alone"}'
)


class SurrogateServer(FakeOpenAIServer):
    """Answers every request with text that decodes to lone surrogates."""

    def answer(self, body, mode):
        data = {
            "id": "x",
            "object": "chat.completion",
            "model": "fake-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": SURROGATE_ANSWER},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1},
        }
        return 200, json.dumps(data).encode()


def test_safe_text_replaces_only_surrogates():
    assert safe_text("plain ÄÖ 😀") == "plain ÄÖ 😀"
    assert safe_text("60.17\ud800") == "60.17" + REPLACEMENT
    assert safe_text("\ud83d\ude00") == REPLACEMENT * 2  # a pair as two code points is no char
    assert safe_value({"k\udc00": ["\ud800", 1, None]}) == {
        "k" + REPLACEMENT: [REPLACEMENT, 1, None]
    }
    line = json_line({"a": "x\ud800\n"})
    line.encode("utf-8")
    assert json.loads(line) == {"a": "x" + REPLACEMENT + "\n"}
    # a model's U+2028 or U+0085 must not split a JSON line for str.splitlines()
    seps = {"a": "1\u2028 2\u2029 3\x85 4"}
    assert len(json_line(seps).splitlines()) == 1 and json.loads(json_line(seps)) == seps


def test_write_trace_survives_a_surrogate(tmp_path: Path):
    path = write_trace(
        tmp_path / "t.jsonl",
        TraceHeader(image="x\ud800.jpg"),
        [{"type": "model_call", "completion": {"text": "60.17\ud800"}}, {"type": "x\u2028y"}],
    )
    head, events = read_trace(path)
    assert head["image"] == "x" + REPLACEMENT + ".jpg"
    assert events[0]["completion"]["text"] == "60.17" + REPLACEMENT
    assert events[1]["type"] == "x\u2028y"  # one line still, read back as written


def test_eval_row_survives_a_surrogate():
    line = row_line({"id": "a", "place": "Hels\ud800inki"})
    assert json.loads(line.encode("utf-8"))["place"] == "Hels" + REPLACEMENT + "inki"


@pytest.fixture
def surrogate_server():
    server = SurrogateServer().start()
    yield server
    server.stop()


def photos(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        path = folder / f"photo{i}.jpg"
        Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("mode", ["single", "agent"])
def test_locate_json_outputs_every_image(surrogate_server, tmp_path: Path, mode: str):
    images = photos(tmp_path, 2)
    traces = tmp_path / "traces"
    args = ["locate", *map(str, images), "--json", "-q", "--mode", mode, "--trace-dir", traces]
    args += ["--backend", "openai", "--base-url", surrogate_server.url, "--model", "fake-model"]
    res = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    lines = res.stdout_bytes.decode("utf-8").splitlines()  # strict: valid UTF-8
    rows = [json.loads(line) for line in lines]
    assert [r["image"] for r in rows] == [str(p) for p in images]
    for row in rows:
        assert row["trace"], row
        head, events = read_trace(row["trace"])
        assert head["type"] == "trace" and events
        assert all(e["type"] != "error" for e in events), events[-1]  # the run went on
    written = list(traces.glob("*.jsonl"))
    assert len(written) == 2
    assert any(REPLACEMENT in p.read_text(encoding="utf-8") for p in written)
