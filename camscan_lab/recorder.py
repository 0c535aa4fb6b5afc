"""Record an interface's frames, both directions, to a pcap file until SIGTERM/SIGINT.

Run inside a lab namespace: `python -m camscan_lab.recorder IFACE OUT.pcap [SECONDS]`. It only
reads (an AF_PACKET socket), so recording a lab scan changes nothing the scan sees. It prints
"recording" on stdout once the socket is open, so a caller knows the capture has started.
"""

from __future__ import annotations

import signal
import sys
import threading

from camscan.passive.live import capture, open_capture
from camscan.passive.pcapwrite import PcapWriter


def main(argv: list[str]) -> int:
    interface, out = argv[0], argv[1]
    seconds = float(argv[2]) if len(argv) > 2 else 3600.0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sock = open_capture(interface, promiscuous=False)
    with open(out, "wb") as fh:
        writer = PcapWriter(fh)
        print("recording", flush=True)
        capture(sock, seconds, writer.write, stop=stop.is_set, outgoing=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
