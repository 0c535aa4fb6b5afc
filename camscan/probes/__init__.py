"""Per-host banner probes: HTTP(S), TLS, RTSP, vendor ports. Each module: pure parse, thin transport."""
