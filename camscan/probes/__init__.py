"""Per-host banner probes: HTTP(S), TLS, RTSP, vendor ports; each pure parse + transport."""
