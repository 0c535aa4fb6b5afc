"""Heavy imports done in a thread the first time a discoverer needs them, not at start-up."""

from __future__ import annotations

import sys


def import_aiohttp() -> None:
    """Import aiohttp (the thread's work: the import itself is the point)."""
    import aiohttp  # noqa: F401


async def load_aiohttp() -> None:
    """Import aiohttp in a worker thread; at once if it is already imported."""
    import asyncio  # loaded by a scan, not with the parsers (ssdp and onvif import this module)

    # aiohttp takes ~0.2 s to import (it builds two TLS contexts, loading the CA store, on
    # import). Loaded on the event loop it would stall the ARP sweep and every listener.
    if "aiohttp" not in sys.modules:
        await asyncio.to_thread(import_aiohttp)
