"""Entry point of the `gre` command.

Sub-commands are imported when they run (cli/_lazy.py): `gre --help` and `gre tools
call` do not wait for the graph, the eval runner or the web app to import.
"""

from __future__ import annotations

import typer

from gre_agent.cli import _help
from gre_agent.cli._lazy import LazyCommand, LazyGroup

_help.install()

# name -> where it lives and its help line, in the order `gre --help` lists them
COMMANDS: dict[str, LazyCommand] = {
    "serve": LazyCommand(
        "gre_agent.cli.serve:serve",
        "Serve the GRE model with vLLM (OpenAI-compatible API), then point `gre` at it.",
    ),
    "locate": LazyCommand(
        "gre_agent.cli.locate:locate_cmd",
        "Locate photos: coordinates, place, country, confidence and the evidence behind them.",
    ),
    "chat": LazyCommand(
        "gre_agent.cli.chat:chat_cmd",
        "Chat about photos: locate, ask why, add hints; sessions are kept.",
    ),
    "web": LazyCommand(
        "gre_agent.cli.web:web_cmd",
        "Chat with the agent in a browser: upload photos, see its answer, evidence and map.",
    ),
    "tools": LazyCommand("gre_agent.cli.tools:app", "List, call and serve the agent's tools."),
    "data": LazyCommand("gre_agent.cli.data:app", "Prepare the offline data the tools read."),
    "eval": LazyCommand("gre_agent.cli.eval:app", "Evaluate geolocation predictions."),
    "locatability": LazyCommand(
        "gre_agent.cli.locatability:app",
        "Score how locatable images are (GeoReasoner's CLIP locatability network). "
        "`gre locatability IMAGE...` is short for `gre locatability score IMAGE...`.",
    ),
    "trace": LazyCommand("gre_agent.cli.trace:app", "Inspect traces of the GRE agent."),
    "finetune": LazyCommand(
        "gre_agent.cli.finetune:app", "Fine-tune the model on the agent's trajectories."
    ),
    "sessions": LazyCommand("gre_agent.cli.sessions:app", "Chat sessions (gre chat) kept on disk."),
}


class GreGroup(LazyGroup):
    lazy = COMMANDS


app = typer.Typer(
    name="gre",
    help="gre-agent: image geolocation that verifies before it commits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=GreGroup,
)


@app.callback()
def _root() -> None:
    # typer builds a group only for an app with a callback or registered commands; every
    # command here is lazy, so this empty callback stands in
    pass


if __name__ == "__main__":
    app()
