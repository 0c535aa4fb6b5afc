"""GLPI: one native inventory document per device, the format the GLPI agent sends.

Shape checked against glpi-project/inventory_format 1.2.3 `inventory.schema.json`
(docs/outputs.md): a network-discovery result is `{"action": "netdiscovery", "deviceid",
"itemtype", "content": {"versionclient", "network_device": {...}}}`. GLPI's native inventory
(Administration → Inventory, or the agent endpoint) imports it with no hand-built mapping.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import camscan
from camscan.output.csv import _facts, _maker, asset_tag, register_name

# network_device.type allows Unmanaged|Computer|Networking|Printer|Storage|Power|Phone|Video|KVM.
DEVICE_KIND = {"camera": "Video", "nvr/dvr": "Video", "doorbell/intercom": "Video"}
ITEMTYPE = "Unmanaged"  # what the agent's own network discovery files a non-SNMP device as


def glpi_inventory(doc: Mapping[str, Any], d: Mapping[str, Any]) -> dict[str, Any]:
    """The GLPI inventory document of one device."""
    v = d["verdict"]
    device: dict[str, Any] = {
        "type": DEVICE_KIND.get(v["device_type"], "Unmanaged"),
        "name": register_name(d),
        "ips": [d["ip"]],
        "mac": d["mac"],
        "manufacturer": _maker(v) if v["maker"] else None,
        "model": v["model"],
        "serial": v["serial"],
        "firmware": v["firmware"],
        "assettag": asset_tag(d),
        "location": doc["site"],
        "description": _facts(doc, d),
    }
    out: dict[str, Any] = {
        "action": "netdiscovery",
        "deviceid": f"camscan-{asset_tag(d).removeprefix('CS-')}",
        "itemtype": ITEMTYPE,
        "content": {
            "versionclient": f"camscan_v{camscan.__version__}",
            "network_device": {k: val for k, val in device.items() if val is not None},
        },
    }
    if doc["site"]:
        out["tag"] = doc["site"]
    return out


def glpi_documents(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One inventory document per device, in the document's order, device ids distinct."""
    out = [glpi_inventory(doc, d) for d in doc["devices"]]
    seen: dict[str, int] = {}
    for g in out:  # two addresses sharing a MAC would otherwise merge into one GLPI asset
        n = seen[g["deviceid"]] = seen.get(g["deviceid"], 0) + 1
        if n > 1:
            g["deviceid"] = f"{g['deviceid']}-{n}"
    return out


def glpi_text(doc: Mapping[str, Any]) -> str:
    """Every device's inventory document, one JSON object per line."""
    return "".join(
        json.dumps(g, ensure_ascii=False, separators=(",", ":")) + "\n" for g in glpi_documents(doc)
    )
