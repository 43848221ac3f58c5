"""Shared by the web chat tests: a WebChat on the scripted model and the real offline tools
(Helsinki extract), and the bad uploads a user might send."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from gre_agent.core.settings import Settings
from gre_agent.tools import Registry
from tests.scripted import ScriptedBackend
from tests.test_graph_agent import DETAIL_HELSINKI, SCENE, SEMANTIC, espoo_guess, keep

SCRIPT = {
    "scene": SCENE,
    "detail": DETAIL_HELSINKI,
    "semantic": SEMANTIC,
    "hypotheses": espoo_guess,
    "verification": keep,
    "chat": "The photo shows a Helsinki street.",
}


def make_web_chat(tmp_path: Path, osm_db: Path, tiles: str | None = None):
    """A WebChat whose ChatService runs the scripted model on the offline tools."""
    from gre_agent.cli.web import make_web_chat as build

    settings = Settings(home=tmp_path / "home", offline=True, osm={"data_path": str(osm_db)})
    backend = ScriptedBackend(SCRIPT)
    web = build(
        backend_obj=backend,
        registry=Registry(settings, include_plugins=False),
        db_path=tmp_path / "sessions.sqlite",
        tiles=tiles,
        ctx_kwargs={"trace_dir": str(tmp_path / "traces")},
    )
    return web, backend


def photo(path: Path, colour=(120, 130, 140)) -> Path:
    Image.new("RGB", (64, 48), colour).save(path)
    return path


def corrupt_jpeg(path: Path) -> Path:
    """A real JPEG cut off half-way (an interrupted download)."""
    buf = io.BytesIO()
    Image.effect_noise((256, 192), 60).convert("RGB").save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return path


def text_file(path: Path) -> Path:
    path.write_text("meeting notes: not a photo\n", encoding="utf-8")
    return path


def png_bomb(path: Path, side: int = 30_000) -> Path:
    """A 2 kB PNG that claims side x side pixels (900 million for the default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\0" * (side + 1) * 8, 9)  # a few rows; the size claims them all
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
    path.write_bytes(data + chunk(b"IEND", b""))
    return path
