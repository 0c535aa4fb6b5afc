"""The traffic log: raw packets in and out, for turning a field device into a test fixture."""

from __future__ import annotations

import logging

# Silent unless `camscan scan --debug-traffic` sets it to DEBUG; every transport writes to it.
traffic_log = logging.getLogger("camscan.traffic")
