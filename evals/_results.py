"""The run's results file: JSON lines, one row per image, appended durably, keyed by id.

Why JSON lines and not SQLite (WAL): the results file is also the input of
`gre eval score` (a predictions file), it merges by concatenation, diffs and greps as
text, and it has one writer (the runner). Durability comes from the write discipline:
each row is one `os.write` of a whole line on an `O_APPEND` descriptor, then `fsync`
(group commit: rows queued while the disk syncs are synced together, each row still
reaches the disk before the runner forgets about it). A crash or SIGKILL can leave at
most a partial last line (a torn write on power loss, a file copied mid-run); `open`
detects it, moves it to `results.jsonl.torn` for inspection, and truncates the file back
to its last whole line. The image of that line simply runs again.

Ids are unique: on load a later row for an id replaces an earlier one (a retried
failure), and `rewrite` compacts the file to one row per id.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path
from typing import Any

from gre_agent.core.errors import GreError
from gre_agent.core.text import json_line

RESULTS_NAME = "results.jsonl"


class ResultsError(GreError, RuntimeError):
    """The results file cannot be read or written (not a results file, disk error)."""


def repair_tail(path: Path) -> bytes:
    """Cut a partial last line (no trailing newline, or not JSON) off `path`; returns the
    bytes removed (also saved to `<path>.torn`)."""
    if not path.exists():
        return b""
    with open(path, "rb+") as fh:
        data = fh.read()
        if not data:
            return b""
        end = len(data)
        if not data.endswith(b"\n"):
            end = data.rfind(b"\n") + 1
        else:
            # a whole-looking last line that is not JSON is torn too (e.g. zero-filled)
            start = data.rfind(b"\n", 0, len(data) - 1) + 1
            try:
                json.loads(data[start:])
            except ValueError:
                end = start
        torn = data[end:]
        if torn:
            with open(path.with_name(path.name + ".torn"), "ab") as side:
                side.write(torn + b"\n")
            fh.truncate(end)
            fh.flush()
            os.fsync(fh.fileno())
    return torn


def read_rows(path: Path) -> dict[str, dict[str, Any]]:
    """Rows by id (a later row for an id replaces an earlier one), in file order.

    Lines that are not JSON objects with an id raise `ResultsError`: only the last line
    can be torn by a crash, and `repair_tail` handles that one."""
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ResultsError(f"{path}:{number}: not JSON ({exc})") from exc
            if not isinstance(row, dict) or row.get("id") is None:
                raise ResultsError(f"{path}:{number}: not a result row (no id)")
            rows.pop(str(row["id"]), None)
            rows[str(row["id"])] = row
    return rows


def rewrite(path: Path, rows: list[dict[str, Any]]) -> None:
    """Replace the file with exactly `rows` (temp file, fsync, rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(dumps(row))
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


def dumps(row: dict[str, Any]) -> str:
    """One result line; a model's lone surrogate is written as U+FFFD, not an error."""
    return json_line(row, allow_nan=False) + "\n"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class ResultsWriter:
    """Appends rows from the event loop; a thread writes and fsyncs them (the loop never
    waits for the disk). `close()` drains the queue; a write error is raised there."""

    def __init__(self, path: Path, fsync: bool = True):
        self.path = path
        self.fsync = fsync
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._error: BaseException | None = None
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="results-writer", daemon=True)
        self._thread.start()

    def append(self, row: dict[str, Any]) -> None:
        if self._error is not None:
            raise ResultsError(f"cannot write {self.path}: {self._error}") from self._error
        self._queue.put(dumps(row).encode("utf-8"))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while not self._queue.empty():  # group commit: everything queued so far
                batch.append(self._queue.get())
            try:
                for line in batch:
                    if line is not None:
                        view = memoryview(line)
                        while view:  # one write per whole line (a short write: disk full)
                            view = view[os.write(self._fd, view) :]
                        self.written += 1
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as exc:
                self._error = exc
                return
            if None in batch:
                return

    def close(self) -> None:
        if self._fd < 0:
            return
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        os.close(self._fd)
        self._fd = -1
        if self._error is not None:
            raise ResultsError(f"cannot write {self.path}: {self._error}") from self._error
