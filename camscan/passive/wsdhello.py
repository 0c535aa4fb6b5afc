"""WS-Discovery Hello and Bye announcements (the ProbeMatch fields, sent unasked)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from camscan import xmlsafe
from camscan.discovery import wsd


class ParseError(ValueError):
    """The bytes are not a WS-Discovery Hello or Bye."""


def parse_announcement(data: bytes) -> wsd.ProbeMatch | None:
    """The endpoint a Hello or Bye announces; None for other WS-Discovery messages (Probe)."""
    if len(data) > wsd.MAX_REPLY:
        raise ParseError(f"{len(data)} bytes exceeds {wsd.MAX_REPLY}")
    try:
        root = DET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, DefusedXmlException, ValueError) as exc:
        raise ParseError(f"not XML: {str(exc)[:80]}") from None
    body = xmlsafe.child(root, "Body")
    if xmlsafe.local_name(root.tag) != "Envelope" or body is None:
        raise ParseError("no SOAP Envelope/Body")
    node = xmlsafe.child(body, "Hello")
    if node is None:
        node = xmlsafe.child(body, "Bye")
    return None if node is None else wsd._match(node)


__all__ = ["ParseError", "parse_announcement"]
