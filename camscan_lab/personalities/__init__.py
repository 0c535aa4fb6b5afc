"""Service personalities of simulated lab devices, and the table of which kind each serves."""

from __future__ import annotations

from camscan_lab.personalities import dhip, hostile, http, mdns, rtsp, sadp, ssdp, tcp, wsd
from camscan_lab.personality import Serve

# service kind (a `[[service]]` table's `kind`) -> the personality that serves it
PERSONALITIES: dict[str, Serve] = {
    "http": http.serve,
    "https": http.serve_tls,
    "rtsp": rtsp.serve,
    "tcp": tcp.serve,  # greeting bytes / open port
    "hostile": hostile.serve,
    "sadp": sadp.serve,
    "dhip": dhip.serve,
    "dhip_legacy": dhip.serve_legacy,  # Dahua UDP 5050
    "wsd": wsd.serve,  # WS-Discovery ProbeMatch + ONVIF SOAP
    "wsd_thirdparty": wsd.serve_thirdparty,  # PyPI WSDiscovery
    "ssdp": ssdp.serve,
    "mdns": mdns.serve,
    "avahi": mdns.serve_avahi,  # real avahi-daemon
}
