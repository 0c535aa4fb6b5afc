"""The server certificate out of a TLS 1.2 (or older) handshake as heard from the server."""

from __future__ import annotations

MAX_HANDSHAKE = 64 * 1024  # a camera's chain is a few KiB


class ParseError(ValueError):
    """The bytes are not the server side of a TLS handshake with a readable Certificate."""


def is_server_hello(data: bytes) -> bool:
    """True when `data` starts a TLS handshake record carrying a ServerHello."""
    return len(data) >= 6 and data[0] == 0x16 and data[1] == 3 and data[2] <= 3 and data[5] == 2


def handshake_bytes(data: bytes) -> tuple[bytes, bool]:
    """The handshake messages of the leading handshake records, and whether they ended.

    Ended: a record of another type follows (ChangeCipherSpec, alert, application data).
    """
    out = bytearray()
    pos = 0
    while pos + 5 <= len(data):
        rtype = data[pos]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if rtype != 0x16:
            return bytes(out), True
        out += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if len(out) > MAX_HANDSHAKE:
            return bytes(out[:MAX_HANDSHAKE]), True
    return bytes(out), False


def server_certificate(data: bytes) -> bytes | None:
    """The DER of the first certificate of the Certificate message, None if not (yet) there.

    ParseError when the records are not a TLS handshake at all.
    """
    if not is_server_hello(data):
        raise ParseError("no ServerHello record")
    messages, _ = handshake_bytes(data)
    pos = 0
    while pos + 4 <= len(messages):
        mtype = messages[pos]
        length = int.from_bytes(messages[pos + 1 : pos + 4], "big")
        body = messages[pos + 4 : pos + 4 + length]
        if len(body) < length:
            return None  # the message is cut (the capture lost a segment, or it is later)
        if mtype == 11:
            if len(body) < 6:
                raise ParseError("Certificate message too short")
            first = int.from_bytes(body[3:6], "big")
            der = body[6 : 6 + first]
            if len(der) < first or first == 0:
                raise ParseError("Certificate message with no complete certificate")
            return der
        if mtype in (14, 12, 13):  # ServerHelloDone/KeyExchange/CertificateRequest: none sent
            return None
        pos += 4 + length
    return None


__all__ = ["ParseError", "handshake_bytes", "is_server_hello", "server_certificate"]
