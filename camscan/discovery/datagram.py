"""A datagram received by a UDP exchange (or heard passively) and what is read from it.

Pure of sockets and of asyncio: the protocol parsers and the passive listener import this,
the transport (`camscan.discovery.udp`) only when a scan runs.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from camscan.models import Evidence, FieldRecord
from camscan.oui import normalize_mac
from camscan.output.private import write_private

if TYPE_CHECKING:
    from camscan.context import ScanContext


@dataclass(frozen=True, slots=True)
class Datagram:
    """One datagram received during an exchange."""

    ip: str
    port: int
    data: bytes


def record_evidence(
    record: FieldRecord,
    host: str,
    source: str,
    port: int | None,
    keys: Mapping[str, str],
    *,
    model: str,
    mac: str,
) -> list[Evidence]:
    """Structured evidence of one vendor discovery reply: each field of `keys` under its key,
    field `model` again as `model` and field `mac` (normalised) as `mac`."""
    out = [
        Evidence(host, source, key, value, port)
        for name, key in keys.items()
        if (value := record.get(name)) is not None
    ]
    if model_value := record.get(model):
        out.append(Evidence(host, source, "model", model_value, port))
    if (mac_value := normalize_mac(record.get(mac) or "")) is not None:
        out.append(Evidence(host, source, "mac", mac_value, port))
    return out


def names_other_host(url: str, host: str) -> bool:
    """True when `url` names an IPv4 address other than `host`.

    A DNS name or an IPv6 address (devices list their own link-local one) may well be the
    replying host itself: those are not called someone else."""
    try:
        named = urlsplit(url).hostname
        return named is not None and ipaddress.IPv4Address(named) != ipaddress.IPv4Address(host)
    except ValueError:
        return False


def reply_handler(
    ctx: ScanContext,
    method: str,
    read: Callable[[Datagram], list[Evidence]],
    parse_error: type[Exception],
    is_request: Callable[[bytes], bool],
) -> Callable[[Datagram], None]:
    """An `on_datagram` that emits what `read` finds, counting answering hosts and errors.

    `read` raises `parse_error` on a datagram that is no reply; `is_request` recognises another
    client's request, which is ignored.
    """
    stats = ctx.stat(method)
    answered: set[str] = set()

    def on_datagram(datagram: Datagram) -> None:
        if is_request(datagram.data):
            return
        try:
            found = read(datagram)
        except parse_error:
            stats.errors += 1
            return
        if datagram.ip not in answered:
            answered.add(datagram.ip)
            stats.answered += 1
        for ev in found:
            ctx.emit(ev)

    return on_datagram


def save_capture(root: Path, method: str, datagram: Datagram) -> Path:
    """Write a received datagram as a test fixture: tests/captures/<method>/ format."""
    folder = root / method
    folder.mkdir(parents=True, exist_ok=True)
    text = b"\0" not in datagram.data
    try:
        body = datagram.data.decode("utf-8") if text else ""
    except UnicodeDecodeError:
        text = False
    if not text:
        data = datagram.data
        body = "\n".join(data[i : i + 32].hex(" ") for i in range(0, len(data), 32)) + "\n"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stem = f"{datagram.ip}_{datagram.port}"
    suffix = ".txt" if text else ".hex"
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    # Fixtures hold what devices said of themselves (MACs, serials): 0600 like scan outputs.
    write_private(
        path,
        (
            f"# {method} reply from {datagram.ip}:{datagram.port}, {len(datagram.data)} "
            f"bytes -- camscan --save-captures {stamp}\n{body}"
        ).encode(),
    )
    return path
