"""rich's Console, sized when it prints rather than when it is made.

rich reads $COLUMNS and $LINES once, in `Console()`. The command modules make their
consoles at import, and they are imported when their command first runs (cli/_lazy.py),
so in one process that runs several commands (tests, CliRunner with `env={"COLUMNS":
...}`) the first command's width would stick to every later one. A console that was not
given a size asks for it at each print ($COLUMNS, else the terminal), as one made before
any command ran always did.
"""

from __future__ import annotations

from typing import Any

from rich import console


class Console(console.Console):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kwargs.get("width") is None and kwargs.get("height") is None:
            self._width = None
            self._height = None
