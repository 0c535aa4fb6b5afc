"""Publish one ONVIF-like device with the PyPI `WSDiscovery` package until terminated.

Run inside a lab device's namespace (the lab's `wsd_thirdparty` kind spawns it); it is the
third-party WS-Discovery implementation the scanner must find.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Sequence

NAMESPACES = {
    "dn": "http://www.onvif.org/ver10/network/wsdl",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Publish, then wait for SIGTERM/SIGINT."""
    from wsdiscovery import QName, Scope
    from wsdiscovery.publishing import ThreadedWSPublishing

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--xaddr", required=True)
    parser.add_argument("--scope", action="append", default=[])
    parser.add_argument("--type", action="append", default=[])
    args = parser.parse_args(argv)
    types = []
    for qname in args.type:
        prefix, _, local = qname.partition(":")
        types.append(QName(NAMESPACES[prefix], local, prefix))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    publisher = ThreadedWSPublishing()
    publisher.start()
    try:
        publisher.publishService(types, [Scope(s) for s in args.scope], [args.xaddr])
        stop.wait()
    finally:
        publisher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
