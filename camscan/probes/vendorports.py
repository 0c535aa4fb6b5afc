"""Vendor SDK ports: what a connect shows (Hikvision 8000 greeting, Dahua 37777 open)."""

from __future__ import annotations

from camscan.models import Evidence, excerpt

MAX_GREETING = 256

# Hikvision's SDK port answers a bare connect with 16 bytes, e.g. 00000010 0000001e 0000001e
# 00000000 (nmap-service-probes NULL-probe match "Hikvision IPCam control port").
HIKVISION_SDK_PORT = 8000
DAHUA_SDK_PORT = 37777  # private SDK port (DHIP deviceInfo.Port)


def greeting_value(data: bytes) -> str:
    """How greeting bytes are recorded: printable ASCII as text, anything else as hex."""
    data = data[:MAX_GREETING]
    if data and all(32 <= b < 127 or b in (9, 10, 13) for b in data):
        return data.decode("ascii")
    return data.hex()


def port_evidence(host: str, port: int, greeting: bytes) -> list[Evidence]:
    """`tcp.open.<port>`, plus `tcp.banner.<port>` when the service spoke first."""
    items = [Evidence(host, "tcp", f"tcp.open.{port}", "open", port)]
    if greeting:
        items.append(
            Evidence(
                host,
                "tcp",
                f"tcp.banner.{port}",
                greeting_value(greeting),
                port,
                excerpt(greeting[:MAX_GREETING].hex()),
            )
        )
    return items
