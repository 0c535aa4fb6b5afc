"""The per-host probes, the liveness check and the expanders of their raw responses."""

from __future__ import annotations

from camscan.context import Expander, HostProbe, LivenessCheck, Method
from camscan.probes import banners, http, onvif, rpc2, rtsp

# What runs against every in-scope host in the probe phase, by the name its figures carry.
# ONVIF asks only hosts that advertised a device service, so WS-Discovery switches it on.
PROBES: dict[str, HostProbe] = {
    "banners": HostProbe(Method.BANNERS, banners.probe_host),
    "onvif": HostProbe(Method.WSD, onvif.probe_host, after_discovery=True),
}

# Which targets beyond the swept segment are up: the probes' own ports answer.
LIVENESS: LivenessCheck = banners.tcp_alive

# Raw probe items (whole responses) -> the structured items their parser reads out of them.
EXPANDERS: dict[str, Expander] = {
    "http.response": http.expand,
    "rtsp.response": rtsp.expand,
    # not raw, but an RPC2_Login challenge pasted as a body is read like the /RPC2_Login path
    "http.body": rpc2.expand_body,
}
