"""The web chat in a real browser: Debian's Chromium, headless, driven by Playwright, against
`gre web`'s app served on a free loopback port; the model is the scripted one and the
tools run offline on the Helsinki extract. `make browser` installs the Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import pytest

from tests.web_support import corrupt_jpeg, make_web_chat, photo, png_bomb, text_file

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ANSWER_TIMEOUT_MS = 90_000  # a locate with the scripted model takes seconds; CI may be slow

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = f"no {CHROMIUM}: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, helsinki_osm_db):
    """`gre web`'s app (tiles off: nothing at all from outside) on a free loopback port."""
    from gre_agent.cli.web_app import launch

    web, _ = make_web_chat(tmp_path_factory.mktemp("web"), helsinki_osm_db, tiles=None)
    port = _free_port()
    demo = launch(web, "127.0.0.1", port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        web.shutdown()
        demo.close()


@pytest.fixture
def page(chromium, server):
    """A fresh tab on the app; every request it makes is recorded."""
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.requests = []
    tab.on("request", lambda r: tab.requests.append(r.url))
    tab.goto(server)
    # the page's load event has given it a session (a message sent before would lose it)
    expect(tab.locator("#gre-session input")).to_have_value("new session")
    yield tab
    context.close()


def send(page, text: str = "", upload: Path | None = None) -> None:
    box = page.locator("#gre-input")
    if upload is not None:
        box.locator("input[type=file]").set_input_files(str(upload))
        box.get_by_role("listitem", name="File thumbnail").wait_for()  # uploaded
    box.locator("textarea").fill(text)
    box.locator("textarea").press("Enter")


def shot(page, tmp_path: Path, name: str) -> Path:
    """A screenshot, also copied to $WEB_SCREENSHOTS when set (to look at)."""
    path = tmp_path / name
    page.screenshot(path=path, full_page=True)
    if os.environ.get("WEB_SCREENSHOTS"):
        Path(os.environ["WEB_SCREENSHOTS"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(os.environ["WEB_SCREENSHOTS"]) / name)
    return path


def test_a_photo_gets_an_answer_evidence_and_a_map_and_the_session_resumes(page, server, tmp_path):
    from playwright.sync_api import expect

    send(page, "where is this?", photo(tmp_path / "street.jpg"))
    answer = page.locator("#gre-answer")
    expect(answer).to_contain_text("Finland (FI)", timeout=ANSWER_TIMEOUT_MS)
    chat = page.locator("#gre-chat")
    expect(chat).to_contain_text("Aleksanterinkatu")
    expect(chat).to_contain_text("The agent's stages")
    expect(chat.locator("img").first).to_be_visible()  # the photo, echoed
    expect(page.locator("#gre-evidence")).to_contain_text("street 'Aleksanterinkatu'")
    named = re.findall(
        r"for ([^()\n]+?) \((-?\d+\.\d+), (-?\d+\.\d+)\)",
        page.locator("#gre-evidence").inner_text(),
    )
    places: dict[str, set[tuple[str, str]]] = {}
    for name, lat, lon in named:
        places.setdefault(name, set()).add((lat, lon))
    assert named and all(len(at) == 1 for at in places.values()), places  # one place, one point
    frame = page.frame_locator("#gre-map iframe")
    expect(frame.locator(".leaflet-container")).to_be_visible()
    markers = frame.locator("path.leaflet-interactive")
    expect(markers.first).to_be_visible()
    assert markers.count() >= 2  # hypotheses, evidence and the answer
    assert frame.locator(".leaflet-tile").count() == 0  # tiles off: no background requested
    path = shot(page, tmp_path, "web-chat.png")
    assert path.stat().st_size > 20_000

    # a follow-up question is answered from the stored run
    send(page, "why not Sweden?")
    expect(chat).to_contain_text("never among the candidates", timeout=ANSWER_TIMEOUT_MS)
    expect(chat).to_contain_text("Add a hint")
    assert chat.locator("li", has_text="Add a hint").count() == 0, "a line after a list is no item"

    # a new session starts empty; the old one is picked from the selector and comes back
    page.locator("#gre-new").click()
    expect(answer).to_contain_text("No answer yet")
    expect(chat).not_to_contain_text("Aleksanterinkatu")
    page.locator("#gre-session input").click()
    page.get_by_role("option", name=re.compile("where is this")).click()
    expect(chat).to_contain_text("Aleksanterinkatu")
    expect(answer).to_contain_text("Finland (FI)")
    expect(frame.locator(".leaflet-container")).to_be_visible()

    outside = [u for u in page.requests if not u.startswith((server, "data:", "blob:"))]
    assert not outside, f"the page fetched from outside: {outside}"


def test_bad_uploads_and_an_empty_message_are_answered_and_the_chat_goes_on(page, tmp_path):
    from playwright.sync_api import expect

    chat = page.locator("#gre-chat")
    send(page, "")
    expect(chat).to_contain_text("attach a photo", timeout=ANSWER_TIMEOUT_MS)
    for make, name, said in [
        (corrupt_jpeg, "broken.jpg", "corrupt or truncated"),
        (text_file, "notes.txt", "not an image"),
        (png_bomb, "huge.png", "decompression bomb"),
    ]:
        send(page, "", make(tmp_path / name))
        expect(chat).to_contain_text(f"[file: {name}]", timeout=ANSWER_TIMEOUT_MS)
        expect(chat).to_contain_text(said, timeout=ANSWER_TIMEOUT_MS)
    assert chat.locator("img").count() == 0, "no bad file reaches the browser as an image"
    # nothing was accepted: the session is not stored, the selector still says "new session"
    expect(page.locator("#gre-session input")).to_have_value("new session")
    expect(page.locator("#gre-answer")).to_contain_text("No answer yet")
    shot(page, tmp_path, "web-chat-bad-input.png")

    send(page, "", photo(tmp_path / "after.jpg", (90, 100, 110)))
    expect(page.locator("#gre-answer")).to_contain_text("Finland (FI)", timeout=ANSWER_TIMEOUT_MS)
    expect(page.frame_locator("#gre-map iframe").locator(".leaflet-container")).to_be_visible()
