"""TLS certificates read without verification (self-signed is normal on cameras): pure parse."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from camscan.models import Evidence

if TYPE_CHECKING:
    import ssl


class ParseError(ValueError):
    """Bytes that are not a readable X.509 certificate."""


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The identifying fields of one certificate."""

    subject: str  # RFC 4514
    issuer: str
    serial: str  # hex, lower-case
    not_before: str  # ISO 8601 UTC
    not_after: str


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_certificate(der: bytes) -> CertInfo:
    """The subject, issuer, serial and validity of a DER certificate."""
    # cryptography's X.509 package takes ~60 ms to import: a scan pays it only if it reads a
    # certificate (the scan's warm-up thread loads it while discovery runs).
    from cryptography import x509

    try:
        cert = x509.load_der_x509_certificate(der)
        return CertInfo(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial=format(cert.serial_number, "x"),
            not_before=_iso(cert.not_valid_before_utc),
            not_after=_iso(cert.not_valid_after_utc),
        )
    except Exception as exc:  # cryptography raises ValueError and friends on malformed DER
        raise ParseError(f"bad certificate: {exc}") from None


def preload() -> None:
    """Import the certificate reader now (from a worker thread, before any certificate)."""
    from cryptography import x509  # noqa: F401


def cert_evidence(host: str, port: int, info: CertInfo) -> list[Evidence]:
    """The tls.* evidence of one certificate."""
    return [
        Evidence(host, "tls", f"tls.{name}", getattr(info, name), port)
        for name in ("subject", "issuer", "serial", "not_before", "not_after")
    ]


@functools.cache
def client_context() -> ssl.SSLContext:
    """A client context (shared) accepting any certificate and the old versions cameras use."""
    import ssl  # the banner probe's alone: a passive reader of certificates never needs it

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    # Old camera firmware offers only legacy ciphers; security level 0 lets us still read them.
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx
