"""Tools over the Model Context Protocol, both ways.

- `gre tools serve` (`server.py`): our tools as an MCP server, over stdio or streamable HTTP.
- `[[mcp_servers]]` in gre.toml (`source.py`, `connection.py`): any MCP server's tools join
  the Registry as `<prefix>.<tool>`, `McpTool`s with `source == "mcp"`; answers are cached
  under settings.cache_dir (`cache.py`) like the HTTP tools' answers.

Importing this package does not import the MCP SDK; its modules do.
"""
