"""Certificate reading: generated certificates with recorded subjects, garbage DER, any bytes."""

from __future__ import annotations

import contextlib

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st

from camscan.probes import tls
from camscan_lab.personalities.hostile import garbage_certificate_flight
from camscan_lab.personalities.http import make_certificate

# rapid7/recog x509_subjects.xml: Hikvision DVR/NVR certificate subject
HIK_SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"


def der_of(table: dict[str, object]) -> bytes:
    cert_pem, _key = make_certificate(table)
    return x509.load_pem_x509_certificate(cert_pem).public_bytes(Encoding.DER)


def test_recorded_subject_roundtrips() -> None:
    der = der_of(
        {
            "cert_subject": HIK_SUBJECT,
            "cert_serial": "1f2e",
            "cert_not_before": "2018-06-11T08:41:00Z",
            "cert_not_after": "2028-06-08",
        }
    )
    info = tls.parse_certificate(der)
    assert info.subject == HIK_SUBJECT
    assert info.issuer == HIK_SUBJECT
    assert info.serial == "1f2e"
    assert info.not_before == "2018-06-11T08:41:00Z"
    assert info.not_after == "2028-06-08T00:00:00Z"


def test_expired_certificate_is_still_read() -> None:
    info = tls.parse_certificate(
        der_of(
            {
                "cert_subject": "CN=old",
                "cert_issuer": "CN=ca",
                "cert_not_before": "2001-01-01",
                "cert_not_after": "2002-01-01",
            }
        )
    )
    assert (info.subject, info.issuer, info.not_after) == (
        "CN=old",
        "CN=ca",
        "2002-01-01T00:00:00Z",
    )


def test_cert_evidence_keys() -> None:
    info = tls.CertInfo("CN=a", "CN=b", "ff", "2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    evs = tls.cert_evidence("198.18.0.15", 443, info)
    assert [e.key for e in evs] == [
        "tls.subject",
        "tls.issuer",
        "tls.serial",
        "tls.not_before",
        "tls.not_after",
    ]
    assert all(e.source == "tls" and e.port == 443 for e in evs)


def test_hostile_garbage_certificate_is_parse_error() -> None:
    flight = garbage_certificate_flight(b"")
    junk = flight[flight.index(b"\x30\x82\x01\x00") :][:260]
    try:
        tls.parse_certificate(junk)
    except tls.ParseError as exc:
        assert "bad certificate" in str(exc)
    else:
        raise AssertionError("garbage DER parsed")


def test_client_context_does_not_verify() -> None:
    ctx = tls.client_context()
    assert ctx.check_hostname is False
    assert ctx.verify_mode.name == "CERT_NONE"


@given(st.binary(max_size=1024))
def test_any_bytes_give_cert_or_parse_error(data: bytes) -> None:
    with contextlib.suppress(tls.ParseError):
        tls.parse_certificate(data)
