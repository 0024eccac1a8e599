"""Does a carrier's delivery address match the order's shipping address? (rule 3)

Two addresses match when their country, postal code and first line are equal after
normalising: letters folded to one case (and accents dropped), punctuation removed and
runs of spaces collapsed. The first line is `line1` only: `line2` (flat, floor) and the
recipient's name are not compared, since carriers record them inconsistently.
"""

from __future__ import annotations

import re
import unicodedata

from domain.records import Address

_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-folded, accents dropped, punctuation and underscores as spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", without_accents.casefold()).replace("_", " ").split())


def normalise_postal_code(code: str) -> str:
    """Postal codes compare without any spaces or punctuation ("SW1A 1AA" = "sw1a1aa")."""
    return normalise(code).replace(" ", "")


def addresses_match(delivered_to: Address, shipping_address: Address) -> bool:
    return (
        normalise(delivered_to.country) == normalise(shipping_address.country)
        and normalise_postal_code(delivered_to.postal_code)
        == normalise_postal_code(shipping_address.postal_code)
        and normalise(delivered_to.line1) == normalise(shipping_address.line1)
    )
