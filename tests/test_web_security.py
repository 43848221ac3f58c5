"""Issue 16 (2, 3): the web chat opens no server file, and a browser's sessions are its own.

Handlers are called as Gradio calls them (test_web_app.py does the same), over a real
ChatService on the scripted model; the upload limit and the login are checked over HTTP
against a launched server.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
from types import SimpleNamespace

import pytest

from gre_agent.cli.web import parse_auth, server_secret
from gre_agent.cli.web_app import MAX_UPLOAD, NOT_AVAILABLE, UPLOADS_ONLY, WebChat, launch
from tests.web_support import make_web_chat, photo


async def send(web: WebChat, sid: str, text: str = "", files=None, token=None):
    return [u async for u in web.respond({"text": text, "files": files or []}, sid, [], token)]


def last_text(updates) -> str:
    return updates[-1][0][-1]["content"]


@pytest.fixture
async def owned(tmp_path, helsinki_osm_db):
    """A WebChat in owner mode (what `gre web --host 0.0.0.0` runs)."""
    shared, _ = make_web_chat(tmp_path, helsinki_osm_db)
    web = WebChat(shared.chat, share_sessions=False, secret=b"k" * 32)
    yield web
    await web.aclose()


@pytest.fixture
async def shared(tmp_path, helsinki_osm_db):
    web, _ = make_web_chat(tmp_path, helsinki_osm_db)
    yield web
    await web.aclose()


async def test_image_command_opens_no_server_file_and_tells_nothing(shared, tmp_path):
    server_photo = photo(tmp_path / "server-side.jpg")  # exists on the server, never uploaded
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    replies = []
    for path in (server_photo, notes, tmp_path / "no-such-file.jpg", tmp_path):
        updates = await send(shared, f"s-{len(replies)}", f"/image {path}")
        replies.append(last_text(updates).replace(str(path), "PATH"))
    assert len(set(replies)) == 1, replies  # one neutral answer: nothing about the path
    assert UPLOADS_ONLY.split(":")[0] in replies[0].replace("\\", "")
    images = shared.chat.images_dir
    assert not images.exists() or not any(images.iterdir()), "no server file was stored"
    assert await (await shared.service()).sessions() == []  # not even a session was made
    # an upload still works, with or without text
    updates = await send(shared, "up", "taken in winter", [str(photo(tmp_path / "u.jpg"))])
    assert "Finland" in updates[-1][2]


async def test_sessions_belong_to_the_browser_that_made_them(owned, tmp_path):
    *_, alice = await owned.load(SimpleNamespace(query_params={}))
    *_, bob = await owned.load(SimpleNamespace(query_params={}), None)
    assert owned.owner_of(alice) and owned.owner_of(bob) and alice != bob
    updates = await send(owned, "alices", "", [str(photo(tmp_path / "a.jpg"))], alice)
    assert "Finland" in updates[-1][2]
    assert [sid for _, sid in await owned.choices(None, alice)] == ["alices"]

    # Bob neither lists, opens, resumes, writes to nor deletes it
    assert "alices" not in [sid for _, sid in await owned.choices(None, bob)]
    chat, answer, *_ = await owned.open_session("alices", bob)
    assert NOT_AVAILABLE in chat[0]["content"] and "Finland" not in answer
    page = await owned.load(SimpleNamespace(query_params={"session": "alices"}), bob)
    assert page[0].value != "alices" and page[1] == [] and page[-1] == bob
    assert NOT_AVAILABLE in last_text(await send(owned, "alices", "why?", token=bob))
    resumed = [u async for u in owned.resume("alices", [], bob)]
    assert resumed[-1][0][-1]["content"] == "Nothing to resume here."
    await owned.delete_session("alices", bob)
    assert await owned.chat.exists("alices")
    assert len(await owned.chat.history("alices")) == 2  # Bob's "why?" never got in

    # a token this server did not sign is no one's
    for forged in (None, "", "x", f"{owned.owner_of(alice)}.0000", alice + "x"):
        assert owned.owner_of(forged) is None
        assert "alices" not in [sid for _, sid in await owned.choices(None, forged)]
        assert NOT_AVAILABLE in last_text(await send(owned, "alices", "why?", token=forged))
    *_, fresh = await owned.load(SimpleNamespace(query_params={}), "forged.token")
    assert owned.owner_of(fresh) and fresh != alice

    # a terminal session has no owner: hidden from browsers unless sessions are shared
    async for _ in owned.chat.send("terminal", "hello"):
        pass
    assert "terminal" not in [sid for _, sid in await owned.choices(None, alice)]
    shared_web = WebChat(owned.chat, share_sessions=True)
    assert {"terminal", "alices"} <= {sid for _, sid in await shared_web.choices()}

    # Alice opens and deletes her own
    chat, answer, *_ = await owned.open_session("alices", alice)
    assert "Finland" in answer
    await owned.delete_session("alices", alice)
    assert not await owned.chat.exists("alices")


def test_server_secret_is_kept_private_under_gre_home(tmp_path):
    key = server_secret(tmp_path / "home")
    assert len(key) == 32 and server_secret(tmp_path / "home") == key
    assert (tmp_path / "home" / "web-secret").stat().st_mode & 0o077 == 0
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x") and parse_auth(None) is None
    with pytest.raises(Exception, match="USER:PASSWORD"):
        parse_auth("nopassword")


def test_gre_web_offers_owner_mode_and_login():
    from typer.testing import CliRunner

    from gre_agent.cli.main import app

    res = CliRunner().invoke(app, ["web", "--help"], terminal_width=200)
    assert "--share-sessions" in res.stdout and "--own-sessions" in res.stdout
    assert "--auth" in res.stdout


# The server runs in its own process: Gradio leaves an event loop behind that the garbage
# collector would report (ResourceWarning) in whatever test runs next.
SERVER_CHECK = """
import json, sys
import httpx
from gre_agent.cli.web_app import WebChat, launch
from gre_agent.graphs.chat import ChatService

web = WebChat(ChatService(sys.argv[1]), tiles=None)
demo = launch(web, "127.0.0.1", int(sys.argv[2]), block=False, auth=("ann", "pw"),
              max_file_size="2kb")
out = {}
with httpx.Client(base_url="http://127.0.0.1:" + sys.argv[2], timeout=20) as client:
    out["config_before_login"] = client.get("/config").status_code
    out["bad_login"] = client.post("/login", data={"username": "ann", "password": "no"}).status_code
    out["login"] = client.post("/login", data={"username": "ann", "password": "pw"}).status_code
    out["config_after_login"] = client.get("/config").status_code
    big = client.post("/gradio_api/upload", files={"files": ("big.jpg", b"x" * 4096)})
    out["big"] = [big.status_code, big.text]
    small = client.post("/gradio_api/upload", files={"files": ("s.jpg", b"x" * 100)})
    out["small"] = small.status_code
web.shutdown()
demo.close()
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_large_uploads_are_refused_and_a_login_is_asked(tmp_path):
    assert inspect.signature(launch).parameters["max_file_size"].default == MAX_UPLOAD == "50mb"
    args = [sys.executable, "-c", SERVER_CHECK, str(tmp_path / "s.sqlite"), str(free_port())]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["config_before_login"] == 401  # nothing without the login
    assert out["bad_login"] == 400 and out["login"] == 200 and out["config_after_login"] == 200
    status, text = out["big"]
    assert status == 413 and "maximum allowed size" in text  # refused, and says why
    assert out["small"] == 200
