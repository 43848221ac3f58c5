"""Entry point of the `gre` command."""

from __future__ import annotations

import typer

from gre_agent.cli import _help
from gre_agent.cli.chat import chat_cmd
from gre_agent.cli.data import app as data_app
from gre_agent.cli.eval import app as eval_app
from gre_agent.cli.finetune import app as finetune_app
from gre_agent.cli.locatability import app as locatability_app
from gre_agent.cli.locate import locate_cmd
from gre_agent.cli.serve import serve
from gre_agent.cli.sessions import app as sessions_app
from gre_agent.cli.tools import app as tools_app
from gre_agent.cli.trace import app as trace_app
from gre_agent.cli.web import web_cmd

_help.install()

app = typer.Typer(
    name="gre",
    help="gre-agent: image geolocation that verifies before it commits.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tools_app, name="tools")
app.add_typer(data_app, name="data")
app.add_typer(eval_app, name="eval")
app.add_typer(locatability_app, name="locatability")
app.command("serve")(serve)
app.command("locate")(locate_cmd)
app.add_typer(trace_app, name="trace")
app.add_typer(finetune_app, name="finetune")
app.command("chat")(chat_cmd)
app.add_typer(sessions_app, name="sessions")
app.command("web")(web_cmd)


if __name__ == "__main__":
    app()
