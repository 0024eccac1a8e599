"""Ids derived from names (UUID version 5, RFC 4122) as text.

A case event's ids are made several times over on its way out (its decision, its
revision, the record it is stored and published as); `uuid.uuid5` builds and checks a
UUID object each time, which was most of the 6 µs an id cost. This is the same id from
the same SHA-1 digest, formatted directly.
"""

from __future__ import annotations

import hashlib
import uuid


def name_based_id(namespace: uuid.UUID, name: str) -> str:
    """`str(uuid.uuid5(namespace, name))`."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode(),
                                    usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
