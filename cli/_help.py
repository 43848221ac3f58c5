"""Help and usage text as command lines write it: `gre locate [OPTIONS] IMAGES...`, not
typer 0.29's `{images}...`, and no `<bool>` type beside an on/off flag (a flag takes no
value). Both adjust typer's own display hooks, when this typer has them."""

from __future__ import annotations

from typing import Any

from typer import core


def _usage_name(self: Any) -> str:
    name = self.metavar or self.name.upper()
    name = name if self.required else f"[{name}]"
    return name + ("..." if self.nargs != 1 and not name.endswith("...") else "")


_typer_type_column: Any = getattr(core.TyperOption, "display_type_rich", None)


def _type_column(self: Any, ctx: Any) -> str | None:
    if getattr(self, "is_flag", False) and not getattr(self, "count", False):
        return None  # --json, --offline/--online: nothing to type after them
    shown: str | None = _typer_type_column(self, ctx)
    return shown


def install() -> None:
    if hasattr(core.TyperArgument, "_usage_display_name"):
        core.TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
    if _typer_type_column is not None:
        core.TyperOption.display_type_rich = _type_column  # type: ignore[method-assign]
