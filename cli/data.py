"""`gre data ...`: prepare offline data (OSM index, GeoNames dump, Wikipedia ZIMs)."""

from __future__ import annotations

import typer

from gre_agent.cli.data_geonames import app as geonames_app
from gre_agent.cli.data_osm import app as osm_app
from gre_agent.cli.data_wikipedia import app as wikipedia_app

app = typer.Typer(help="Prepare the offline data the tools read.", no_args_is_help=True)
app.add_typer(osm_app, name="osm")
app.add_typer(geonames_app, name="geonames")
app.add_typer(wikipedia_app, name="wikipedia")
