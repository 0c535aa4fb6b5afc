"""Device XML parsed with defusedxml, every failure reported as one error type."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException


class XmlError(ValueError):
    """Bytes that are not usable XML (syntax, declared encoding, size of the tree)."""


class ForbiddenXml(XmlError):
    """XML using a construct no device needs (a DTD, entities): refused, not parsed."""


def parse(data: bytes) -> ET.Element:
    """The root element of `data`; XmlError (or ForbiddenXml) for anything else."""
    try:
        return DET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ForbiddenXml(f"forbidden XML construct: {type(exc).__name__}") from None
    except MemoryError:
        raise
    except Exception as exc:
        # Besides ParseError, expat lets through what the declared encoding's codec raises:
        # LookupError for an unknown name ("x-nope", "rot13"), ValueError for a multi-byte
        # one, whatever a codec does with the bytes. All of it is the device's bad input.
        raise XmlError(f"not XML: {type(exc).__name__}: {str(exc)[:80]}") from None


def is_unbound_prefix(exc: XmlError) -> bool:
    """True when `exc` only complains of a namespace prefix without a declaration."""
    return "unbound prefix" in str(exc)


def local_name(tag: object) -> str:
    """An element's name without its namespace: devices disagree on prefixes and namespaces."""
    return str(tag).rsplit("}", 1)[-1]


def child(parent: ET.Element, *path: str) -> ET.Element | None:
    """The first child named `path[0]` (by local name), then its child `path[1]`, and so on."""
    node: ET.Element | None = parent
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if local_name(c.tag) == name), None)
    return node
