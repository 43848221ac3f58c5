"""Leaflet 1.9.4 (BSD-2-Clause, see LICENSE.txt), vendored from the npm package `leaflet`.

Only `dist/leaflet.js` and `dist/leaflet.css` are kept: the maps of `gre_agent.graphs.gre.map`
use circles, lines, popups and an expanded layer control, none of which needs Leaflet's
marker or layer images. Served from here, a map renders without any CDN.
"""

VERSION = "1.9.4"
