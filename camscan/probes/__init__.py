"""Per-host probes: HTTP(S), TLS, RTSP, vendor ports, ONVIF; each pure parse + transport."""
