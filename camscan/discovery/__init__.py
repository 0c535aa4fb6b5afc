"""Discoverers: ARP, mDNS, SSDP, WS-Discovery, SADP, DHIP; each pure build/parse + transport."""

from __future__ import annotations

from camscan.context import Discoverer, Expander, Method
from camscan.discovery import arp, dhip, mdns, sadp, ssdp, wsd

# What each `--probes` method runs in the discovery phase, in the order they are started.
DISCOVERERS: dict[Method, Discoverer] = {
    Method.ARP: arp.discover,
    Method.MDNS: mdns.discover,
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
