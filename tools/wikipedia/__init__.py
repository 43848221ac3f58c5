"""Wikipedia tools: `wikipedia.search`, `wikipedia.page`, `wikipedia.geosearch`.

Online they use the MediaWiki action API through the `wikipedia` package, routed
through the project's cached, rate-limited HTTP session; offline they read Kiwix ZIM
files with libzim (a small demo ZIM ships with the package).
"""

from __future__ import annotations

from ._build import Fact, build_zim, read_facts
from ._geo import parse_coordinates
from ._tools import (
    GeosearchResult,
    GeosearchTool,
    PageResult,
    PageTool,
    SearchResult,
    SearchTool,
)
from ._zim import DEMO_ZIM

__all__ = [
    "DEMO_ZIM",
    "Fact",
    "GeosearchResult",
    "GeosearchTool",
    "PageResult",
    "PageTool",
    "SearchResult",
    "SearchTool",
    "build_zim",
    "parse_coordinates",
    "read_facts",
]
