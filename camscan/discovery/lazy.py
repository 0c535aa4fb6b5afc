"""Heavy imports done in a thread the first time a discoverer needs them, not at start-up."""

from __future__ import annotations

import asyncio
import importlib
import sys

# aiohttp takes ~0.2 s to import (it builds two TLS contexts, loading the CA store, on import).
# Loaded on the event loop it would stall the ARP sweep and every listener for that long.
HEAVY = ("aiohttp",)


async def load(module: str) -> None:
    """Import `module` in a worker thread; at once if it is already imported."""
    if module not in sys.modules:
        await asyncio.to_thread(importlib.import_module, module)
