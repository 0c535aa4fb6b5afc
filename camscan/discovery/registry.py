"""The discoverers by `--probes` method and the expanders of their raw replies, in one table."""

from __future__ import annotations

import asyncio
from types import ModuleType

from camscan.context import Discoverer, Expander, Method, ScanContext
from camscan.discovery import arp, dhip, sadp, ssdp, wsd


def _import_mdns() -> ModuleType:
    from camscan.discovery import mdns

    return mdns


async def _mdns(ctx: ScanContext) -> None:
    """mDNS discovery; python-zeroconf (~30 ms to import) loads in a thread when it is asked."""
    mdns = await asyncio.to_thread(_import_mdns)
    await mdns.discover(ctx)


# What each `--probes` method runs in the discovery phase, in the order they are started.
DISCOVERERS: dict[Method, Discoverer] = {
    Method.ARP: arp.discover,
    Method.MDNS: _mdns,
    Method.SSDP: ssdp.discover,
    Method.WSD: wsd.discover,
    Method.SADP: sadp.discover,
    Method.DHIP: dhip.discover,
}

# Raw discovery items (whole replies) -> the structured items their parser reads out of them.
EXPANDERS: dict[str, Expander] = {
    "wsd.probe_match": wsd.expand,
    "sadp.reply": sadp.expand,
    "dhip.reply": dhip.expand,
    "upnp.description": ssdp.expand,
}
