"""The MCP tools' answer cache: one SQLite file under settings.cache_dir.

Keyed by (server, tool, arguments) like the HTTP cache is keyed by request; it honours
the same CacheMode values (see McpTool). Only answers without an error are stored, as
the HTTP cache stores only 200s. A server's tool listing is stored under the tool name
`tools/list`, so replay-only runs know the tools without starting the server.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

LISTING = "tools/list"

_lock = threading.Lock()


def cache_key(server: str, tool: str, args: dict[str, Any]) -> str:
    text = json.dumps([server, tool, args], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class McpCache:
    def __init__(self, path: Path):
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, server TEXT, tool TEXT,"
            " args TEXT, value TEXT, stored REAL)"
        )
        return db

    def get(self, server: str, tool: str, args: dict[str, Any]) -> Any | None:
        if not self.path.exists():
            return None
        with _lock:
            db = self._connect()
            try:
                row = db.execute(
                    "SELECT value FROM answers WHERE key = ?", (cache_key(server, tool, args),)
                ).fetchone()
            finally:
                db.close()
        return None if row is None else json.loads(row[0])

    def put(self, server: str, tool: str, args: dict[str, Any], value: Any) -> None:
        row = (
            cache_key(server, tool, args),
            server,
            tool,
            json.dumps(args, sort_keys=True, default=str),
            json.dumps(value, ensure_ascii=False),
            time.time(),
        )
        with _lock:
            db = self._connect()
            try:
                with db:
                    db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)", row)
            finally:
                db.close()
