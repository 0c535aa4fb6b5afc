"""A crowd lab: many multicast responders cloned from the office spec's real personalities.

Each clone is an office device that answers WS-Discovery (Hikvision, Dahua, OEM and other
makers' recorded ProbeMatches), re-addressed: its own IP and a MAC under the original's OUI
wherever the reply names them (XAddrs, MAC scope, v1-UUID EPR, IPv6 link-local), fresh
EPR/message UUIDs, and its SADP/DHIP/SSDP services with it. Replies are spread as WS-Discovery
1.1 allows a target service (a random delay up to APP_MAX_DELAY, 500 ms), while every
`AT_ONCE_EVERY`-th device answers at once, as many cameras do, so some replies collide.

`python -m camscan_lab.crowd DIR [--onvif 62]` writes the spec for `camscan lab up --spec DIR`.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from camscan_lab.resources import lab_data
from camscan_lab.spec import DEVICES_FILE, DeviceSpec, LabSpec, load_spec

CLONED_KINDS = ("wsd", "sadp", "dhip", "ssdp")  # the multicast services a clone keeps
APP_MAX_DELAY_MS = 500  # WS-Discovery 1.1: a target waits up to this before a ProbeMatch
AT_ONCE_EVERY = 3  # every third device ignores the delay and answers at once
SSDP_MAX_DELAY_MS = 1000  # UDA 1.1: up to MX seconds; camscan's M-SEARCH sends MX: 1
HOSTILE_ROLES = frozenset({"hostile", "hostile-content", "impostor"})
FIRST_HOST = 10  # clones take 198.18.0.10 and up
SERVICES_FILE = "services.toml"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Identity:
    """What a reply says about its sender: name, address and MAC."""

    name: str
    ip: str
    mac: str


def _link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address a device derives from `mac` (RFC 4291 App. A)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    eui = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    return ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui).compressed


def rewrite(text: str, old: Identity, new: Identity) -> str:
    """`text` with every mention of `old`'s address, MAC and UUIDs changed to `new`'s."""
    old_hex = old.mac.replace(":", "")

    def fresh_uuid(m: re.Match[str]) -> str:
        value = m.group(0)
        if value == _ZERO_UUID or value.lower().endswith(old_hex):
            return value  # the echo placeholder, or a v1 UUID whose node the MAC step rewrites
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"camscan-lab:{new.name}:{value.lower()}"))

    text = _UUID.sub(fresh_uuid, text)
    text = re.sub(rf"(?<![\d.]){re.escape(old.ip)}(?![\d])", new.ip, text)
    text = text.replace(_link_local(old.mac), _link_local(new.mac))
    for sep in (":", "-", ""):  # 58:50:ed…, 58-50-ed… (SADP), 5850ed… (EPR node)
        before, after = old.mac.replace(":", sep), new.mac.replace(":", sep)
        text = text.replace(before, after).replace(before.upper(), after.upper())
    return text


def _rewritten(value: Any, old: Identity, new: Identity) -> Any:
    if isinstance(value, str):
        return rewrite(value, old, new)
    if isinstance(value, Mapping):
        return {k: _rewritten(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewritten(v, old, new) for v in value]
    return value


def personalities(spec: LabSpec) -> list[DeviceSpec]:
    """The spec's well-behaved WS-Discovery devices in scope whose replies name themselves."""
    return [
        d
        for d in spec.devices
        if d.role not in HOSTILE_ROLES
        and not d.table.get("outside_scope")
        and any(s.kind == "wsd" and d.ip in str(s.table.get("reply", "")) for s in d.services)
    ]


def clone_ip(index: int) -> str:
    """The address of clone `index` (0-based)."""
    return str(ipaddress.IPv4Address("198.18.0.0") + FIRST_HOST + index)


def clone_mac(original: str, index: int) -> str:
    """A MAC under `original`'s OUI, unique per clone `index`."""
    return f"{original[:8]}:c5:{index >> 8 & 0xFF:02x}:{index & 0xFF:02x}"


def max_delay_ms(kind: str, index: int) -> int:
    """How long clone `index` may wait before answering a `kind` request."""
    if index % AT_ONCE_EVERY == 0:
        return 0
    return SSDP_MAX_DELAY_MS if kind == "ssdp" else APP_MAX_DELAY_MS


def crowd_tables(
    spec: LabSpec, onvif: int, wsd_options: Mapping[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """([[device]] and [[service]] tables of `onvif` clones, cycling through the personalities;
    `wsd_options` are added to every clone's `wsd` service (`ignore_repeats`, `lose_replies`)."""
    if not 1 <= onvif <= 240:
        raise ValueError(f"a crowd of {onvif} ONVIF devices: 1..240 fit the lab's /24")
    sources = personalities(spec)
    devices: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for index in range(onvif):
        original = sources[index % len(sources)]
        old = Identity(original.name, original.ip, original.mac)
        new = Identity(
            f"{original.name}-{index:03d}", clone_ip(index), clone_mac(original.mac, index)
        )
        devices.append({**original.table, "name": new.name, "ip": new.ip, "mac": new.mac})
        for service in original.services:
            if service.kind not in CLONED_KINDS:
                continue
            table = _rewritten(dict(service.table), old, new)
            table.update(
                device=new.name,
                kind=service.kind,
                port=service.port,
                max_delay_ms=max_delay_ms(service.kind, index),
            )
            if service.kind == "wsd":
                table.update(wsd_options or {})
            services.append(table)
    return devices, services


def write_crowd_spec(
    root: Path,
    onvif: int = 62,
    source: Path | None = None,
    wsd_options: Mapping[str, Any] | None = None,
) -> Path:
    """Write a spec directory of `onvif` ONVIF clones of `source` (the office) under `root`."""
    spec = load_spec(source or lab_data("office"))
    devices, services = crowd_tables(spec, onvif, wsd_options)
    root.mkdir(parents=True, exist_ok=True)
    lab = dict(spec.settings.table)
    header = f"# {onvif} ONVIF devices cloned from {spec.path.name} by camscan_lab.crowd\n"
    (root / DEVICES_FILE).write_text(
        header + tomli_w.dumps({"lab": lab, "device": devices}), encoding="utf-8"
    )
    (root / SERVICES_FILE).write_text(
        header + tomli_w.dumps({"service": services}, multiline_strings=True), encoding="utf-8"
    )
    return root


def main(argv: Sequence[str] | None = None) -> None:
    """Write a crowd spec directory."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("directory", type=Path)
    ap.add_argument("--onvif", type=int, default=62, help="ONVIF devices (default 62)")
    args = ap.parse_args(argv)
    try:
        path = write_crowd_spec(args.directory, args.onvif)
    except ValueError as exc:
        ap.error(str(exc))
    print(path)


if __name__ == "__main__":
    main()
