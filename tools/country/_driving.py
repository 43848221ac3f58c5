"""Which side of the road traffic keeps to.

The countries and territories that drive on the left, from Wikipedia's article
"Left- and right-hand traffic" (its list of countries and territories by traffic
direction); everything else drives on the right. Places that switched long ago (Sweden
1967, Samoa switched *to* the left in 2009) are listed as they are now.
"""

from __future__ import annotations

from typing import Literal

DrivingSide = Literal["left", "right"]

LEFT_HAND_TRAFFIC: frozenset[str] = frozenset(
    {
        # Europe
        "GB", "IE", "IM", "JE", "GG", "MT", "CY",
        # Africa
        "BW", "KE", "LS", "MW", "MU", "MZ", "NA", "SC", "ZA", "SZ", "TZ", "UG", "ZM", "ZW",
        "SH",
        # Asia
        "BD", "BT", "BN", "HK", "IN", "ID", "JP", "MO", "MY", "MV", "NP", "PK", "SG", "LK",
        "TH", "TL",
        # Americas and the Caribbean
        "AI", "AG", "BS", "BB", "BM", "VG", "KY", "DM", "FK", "GD", "GY", "JM", "MS", "KN",
        "LC", "VC", "SR", "TT", "TC", "VI",
        # Oceania
        "AU", "NZ", "FJ", "KI", "NR", "NU", "PG", "PN", "WS", "SB", "TO", "TV", "CK", "NF",
        "CX", "CC", "TK",
    }
)  # fmt: skip


def driving_side(code: str) -> DrivingSide:
    """'left' or 'right' for an ISO 3166-1 alpha-2 code (upper case)."""
    return "left" if code in LEFT_HAND_TRAFFIC else "right"
