"""Favicon hashes: md5 hex and the Shodan-style mmh3 of the base64 text."""

from __future__ import annotations

import base64
import hashlib

import mmh3


def favicon_md5(data: bytes) -> str:
    """md5 hex digest of the raw icon bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def favicon_mmh3(data: bytes) -> int:
    """Shodan's http.favicon.hash: signed mmh3 (seed 0) of base64 with a newline every 76 chars."""
    # Shodan hashes Python's base64.encodebytes output (MIME lines of 76 chars + "\n").
    return int(mmh3.hash(base64.encodebytes(data)))
