"""Sub-commands imported when they run, not when `gre` starts.

Each command module pulls in its own packages (the graph, the eval runner, pydantic
models, LangChain), so importing them all made every `gre ...` wait for all of them.
`LazyGroup` lists each command with a placeholder that carries only its help line;
the real command (a typer sub-app or a command function) is imported and built the
first time it is looked up for anything other than a listing (`gre --help`, shell
completion of command names).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a sub-command lives ("module:attribute": a `typer.Typer` or a command
    function) and the help line `gre --help` shows for it (the first paragraph of its
    help; tests/test_cli_startup.py checks the two agree)."""

    target: str
    help: str

    def load(self) -> Any:
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)


class _Placeholder(TyperCommand):
    """Stands in for a command not imported yet; only listings ever see it."""


class LazyGroup(TyperGroup):
    """A typer group whose commands in `lazy` (name -> LazyCommand, in listing order)
    are imported on first use. Set `lazy` in a subclass and pass it as `cls=`."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listing = False
        for name, entry in self.lazy.items():
            # in self.commands, so listings, "Did you mean" and `in` see every name
            self.commands.setdefault(name, _Placeholder(name, help=entry.help))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = self.commands.get(cmd_name)
        if isinstance(cmd, _Placeholder) and not self._listing:
            cmd = self.commands[cmd_name] = self._build(cmd_name)
        return cmd

    def _build(self, name: str) -> Any:
        # built as `app.add_typer(obj, name=...)` / `app.command(name)(obj)` would build it
        obj = self.lazy[name].load()
        parent = typer.Typer(rich_markup_mode=self.rich_markup_mode)
        if isinstance(obj, typer.Typer):
            parent.add_typer(obj, name=name)
        else:
            parent.command(name)(obj)
        return typer.main.get_group(parent).commands[name]

    @contextmanager
    def _listing_only(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self._listing_only():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        with self._listing_only():
            return super().shell_complete(ctx, incomplete)
