"""`gre chat` driven as a person would, through a real pseudo-terminal (pexpect): a photo,
streamed stages, the answer, a hint, /why, /map, /quit; then a second process resumes the
session and shows its history; `gre sessions` lists, shows and deletes it. The model is a
fake OpenAI-compatible server answering each stage from a script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest
from PIL import Image

from tests.fake_openai import FakeOpenAIServer, _user_text
from tests.scripted import STAGES
from tests.test_chat_graph import DETAIL_NO_STREET, script
from tests.test_graph_agent import espoo_guess

GRE = str(Path(sys.executable).with_name("gre"))


class StageServer(FakeOpenAIServer):
    """Answers each GRE stage prompt from a script, as a real model server would."""

    def __init__(self, answers: dict[str, Any]):
        super().__init__()
        self.answers = answers

    def completion(self, body: dict[str, Any], mode: str) -> dict[str, Any]:
        # both paths, plain JSON and streamed (SSE), answer from this completion
        text = _user_text(body)
        stage = next((s for marker, s in STAGES.items() if marker in text), None)
        content = self.answers.get(stage, "")
        content = content([]) if callable(content) else content
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": self.name,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content},
                 "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }  # fmt: skip


@pytest.fixture
def model_server():
    server = StageServer(script(detail=DETAIL_NO_STREET, hypotheses=espoo_guess)).start()
    yield server
    server.stop()


def spawn(args: list[str], env: dict[str, str]) -> pexpect.spawn:
    return pexpect.spawn(
        GRE, args, env=env, encoding="utf-8", timeout=90, dimensions=(60, 200), echo=True
    )


def test_terminal_chat_end_to_end(tmp_path, helsinki_osm_db, model_server):
    photo = tmp_path / "street.jpg"
    Image.new("RGB", (64, 48), (120, 130, 140)).save(photo)
    db = tmp_path / "sessions.sqlite"
    env = {
        **os.environ,
        "GRE_OSM__DATA_PATH": str(helsinki_osm_db),
        "NO_COLOR": "1",
        "TERM": "dumb",  # plain text: no ANSI styles between the words matched
    }
    model = ["--backend", "openai", "--base-url", model_server.url, "--model", "fake-model"]
    common = [*model, "--db", str(db), "--tiles", "none", "--session", "walk"]
    chat = spawn(["chat", *common], env)
    try:
        chat.expect("session walk")
        chat.expect("you> ")
        chat.sendline(f"/image {photo}")
        for stage in ("scene", "detail", "semantic", "hypotheses", "verify", "commit"):
            chat.expect(f"✓ {stage}")
        chat.expect("coordinates +60\\.")
        chat.expect("country +Finland \\(FI\\)")
        chat.expect("openstreetmap.org")
        chat.expect("you> ")

        chat.sendline("/hint Aleksanterinkatu")
        chat.expect("✓ hypotheses")
        chat.expect("Checked again with your hints \\(Aleksanterinkatu\\)\\. The answer moved")
        chat.expect("hints +Aleksanterinkatu")
        chat.expect("street 'Aleksanterinkatu'")
        chat.expect("you> ")

        chat.sendline("why not Sweden?")
        chat.expect("Sweden was never among the candidates")
        chat.expect("you> ")
        chat.sendline("/why")
        chat.expect("What supports it:")
        chat.expect("you> ")
        chat.sendline(f"/map {tmp_path / 'answer.html'}")
        chat.expect("map: ")
        chat.expect("you> ")
        chat.sendline("/trace")
        chat.expect("trace: ")
        chat.expect("you> ")
        chat.sendline("/quit")
        chat.expect("the session is kept")
        chat.expect(pexpect.EOF)
    finally:
        chat.close()
    assert chat.exitstatus == 0, chat.before
    page = (tmp_path / "answer.html").read_text()
    assert "Aleksanterinkatu" in page and "cdn.jsdelivr" not in page and "unpkg" not in page

    again = spawn(["chat", *common], env)
    try:
        again.expect("session walk.*resumed")
        again.expect("you> +\\[photo .*chat-images")  # the history, in order
        again.expect("you> /hint Aleksanterinkatu")
        again.expect("you> why not Sweden")
        again.expect("you> ")
        again.sendline("how sure are you?")
        again.expect("Confidence 0\\.\\d\\d")
        again.expect("you> ")
        again.sendeof()
        again.expect(pexpect.EOF)
    finally:
        again.close()
    assert again.exitstatus == 0

    def gre(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [GRE, "sessions", *args, "--db", str(db)],
            env={**env, "COLUMNS": "200"},
            capture_output=True,
            text=True,
        )

    listed = gre("list")
    assert listed.returncode == 0 and "walk" in listed.stdout and "street.jpg" in listed.stdout
    shown = gre("show", "walk")
    assert (
        shown.returncode == 0 and "Checked again" in shown.stdout and "Confidence" in shown.stdout
    )
    assert gre("delete", "walk").returncode == 0
    missing = gre("show", "walk")
    assert missing.returncode == 1 and "no session walk" in missing.stdout
