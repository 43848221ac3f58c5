"""The `gre` command line: a thin typer + rich layer over the packages."""
