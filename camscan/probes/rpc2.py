"""Dahua's RPC2_Login challenge: the realm and MAC of its JSON body, read without I/O."""

from __future__ import annotations

import json

from camscan.models import Evidence, no_surrogates


def parse_challenge(body: bytes) -> dict[str, str]:
    """`dahua.rpc2_realm` / `dahua.rpc2_mac` of an RPC2_Login challenge body (empty if none)."""
    try:
        doc = json.loads(body.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return {}
    params = doc.get("params") if isinstance(doc, dict) else None
    if not isinstance(params, dict):
        return {}
    out: dict[str, str] = {}
    for key, field in (("dahua.rpc2_realm", "realm"), ("dahua.rpc2_mac", "mac")):
        value = params.get(field)
        if isinstance(value, str) and value:
            out[key] = no_surrogates(value[:256])
    return out


def expand_body(ev: Evidence) -> list[Evidence]:
    """An RPC2_Login challenge given as an `http.body` (pasted offline) -> its dahua.rpc2_* keys,
    read as if it had come from /RPC2_Login; any other body -> nothing."""
    if "268632079" not in ev.value and "login challenge" not in ev.value:
        return []
    found = parse_challenge(ev.value.encode("utf-8", "surrogatepass"))
    return [
        Evidence(ev.host, ev.source, key, value, ev.port) for key, value in sorted(found.items())
    ]
