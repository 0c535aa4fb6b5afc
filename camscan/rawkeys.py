"""Expand raw evidence (whole responses, replies) into structured keys via the protocol parsers."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable

from camscan.models import Evidence

# raw key -> "module:function"; each function maps one raw Evidence to structured Evidence
# and raises its module's ParseError on input it cannot read.
EXPANDERS: dict[str, str] = {
    "http.response": "camscan.probes.http:expand",
    "rtsp.response": "camscan.probes.rtsp:expand",
    "wsd.probe_match": "camscan.discovery.wsd:expand",
    "sadp.reply": "camscan.discovery.sadp:expand",
    "dhip.reply": "camscan.discovery.dhip:expand",
    "upnp.description": "camscan.discovery.ssdp:expand",
    # not raw, but an RPC2_Login challenge pasted as a body is read like the /RPC2_Login path
    "http.body": "camscan.probes.banners:expand_body",
}


def _load(spec: str) -> Callable[[Evidence], list[Evidence]]:
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def expand(evidence: Iterable[Evidence]) -> list[Evidence]:
    """All evidence, with each raw item followed by what its parser reads out of it."""
    out: list[Evidence] = []
    for ev in evidence:
        out.append(ev)
        spec = EXPANDERS.get(ev.key)
        if spec is None:
            continue
        try:
            out.extend(_load(spec)(ev))
        except Exception as exc:  # a parser's ParseError: keep the raw item, note the failure
            out.append(Evidence(ev.host, ev.source, "probe.error",
                                f"cannot parse {ev.key}: {exc}", ev.port))
    return out
