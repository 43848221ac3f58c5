"""A plugin tool: greets a place and says which hemisphere it is in."""

from pydantic import BaseModel

from gre_agent.tools import Tool
from gre_agent.tools.types import Latitude


class HelloArgs(BaseModel):
    place: str
    lat: Latitude


class HelloResult(BaseModel):
    greeting: str
    hemisphere: str


class HelloTool(Tool):
    name = "hello.greet"
    description = "Greets a place and names its hemisphere."
    Args = HelloArgs
    Result = HelloResult
    backends = ("offline",)

    def offline(self, args: HelloArgs) -> HelloResult:
        return HelloResult(
            greeting=f"Hello, {args.place}!", hemisphere="north" if args.lat >= 0 else "south"
        )
