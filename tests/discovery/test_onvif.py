"""ONVIF device service: captured responses, faults, hostile bytes, WS-UsernameToken."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from capture_files import load
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.keys import is_known_key
from camscan.probes import onvif

FAULT = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
    b"<env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
    b"<env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>"
    b'<env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason>'
    b"</env:Fault></env:Body></env:Envelope>"
)


def test_hikvision_device_information_capture() -> None:
    # GetDeviceInformationResponse, DS-2CD3T45P1-I (liyanhui1998/go-onvif examples/test.go)
    reply = onvif.parse_response(load("onvif", "hikvision-getdeviceinformation.xml"))
    assert reply.operation == "GetDeviceInformation"
    assert reply.get("Manufacturer") == "HIKVISION"
    assert reply.get("Model") == "DS-2CD3T45P1-I"
    assert reply.get("FirmwareVersion") == "V5.5.31 build 180903"
    assert reply.get("SerialNumber") == "DS-2CD3T45P1-I20210803AACH248538890"
    assert reply.get("HardwareId") == "88"
    found = onvif.reply_evidence(reply, "10.1.1.200", 80, "x")
    assert {ev.key for ev in found} == set(onvif.DEVICE_INFO_KEYS.values())
    assert all(is_known_key(ev.key) for ev in found)


def test_undeclared_prefixes_are_read_without_them() -> None:
    # A no-name camera's reply with no namespace declarations (agsh/onvif#165)
    reply = onvif.parse_response(load("onvif", "noname-localtime-only-undeclared-prefix.xml"))
    assert reply.get("UTCDateTime") == "1979-11-30T00:00:50 (LocalDateTime; no UTC given)"


def test_system_date_and_time_utc() -> None:
    body = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
        b'xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>'
        b"<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        b"<tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>3</tt:Hour>"
        b"<tt:Minute>4</tt:Minute><tt:Second>5</tt:Second></tt:Time><tt:Date>"
        b"<tt:Year>2024</tt:Year><tt:Month>1</tt:Month><tt:Day>2</tt:Day></tt:Date>"
        b"</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        b"</s:Body></s:Envelope>"
    )
    reply = onvif.parse_response(body)
    assert reply.get("UTCDateTime") == "2024-01-02T03:04:05Z"
    (ev,) = onvif.reply_evidence(reply, "h", 80, "")
    assert ev.key == "onvif.system_time"


def test_fault_is_evidence() -> None:
    reply = onvif.parse_response(FAULT)
    assert reply.fault == "env:Sender/ter:NotAuthorized: Sender not Authorized"
    (ev,) = onvif.reply_evidence(reply, "198.18.0.11", 80, "")
    assert (ev.key, ev.value) == ("onvif.fault", reply.fault)


def test_soap11_fault() -> None:
    body = (
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"
        b"<faultstring>Unauthorized</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body>"
        b"</SOAP-ENV:Envelope>"
    )
    assert onvif.parse_response(body).fault == "SOAP-ENV:Client: Unauthorized"


def test_request_without_credentials() -> None:
    data = onvif.build_request(onvif.GET_DEVICE_INFORMATION)
    assert b"<tds:GetDeviceInformation/>" in data and b"Security" not in data


def test_username_token_digest_follows_ws_security() -> None:
    created = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    data = onvif.build_request(
        onvif.GET_DEVICE_INFORMATION, "admin", "s3cret", nonce="0123456789abcdef", created=created
    )
    expected = base64.b64encode(
        hashlib.sha1(b"0123456789abcdef" + b"2024-05-06T07:08:09Z" + b"s3cret").digest()
    ).decode()
    assert f">{expected}</wsse:Password>".encode() in data
    assert b"<wsse:Username>admin</wsse:Username>" in data
    assert b"s3cret" not in data


def test_password_from_environment_or_file(tmp_path: Path) -> None:
    assert onvif.load_password(env={"CAMSCAN_ONVIF_PASSWORD": "pw"}) == "pw"
    assert onvif.load_password(env={}) is None
    secret = tmp_path / "pw"
    secret.write_text("from-file\nignored\n")
    assert onvif.load_password(secret, env={"CAMSCAN_ONVIF_PASSWORD": "pw"}) == "from-file"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<html>401</html>",
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>',
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><Other/>'
        b"</s:Body></s:Envelope>",
        b"<Envelope><Body><GetSystemDateAndTimeResponse><SystemDateAndTime><UTCDateTime><Date>"
        b"<Year>x</Year></Date></UTCDateTime></SystemDateAndTime></GetSystemDateAndTimeResponse>"
        b"</Body></Envelope>",
        b'<!DOCTYPE a [<!ENTITY b "c">]><Envelope><Body><Fault/></Body></Envelope>',
        b"<a:Envelope><a:Body>" + b"<b:x>" * 3000,
        b" " * (onvif.MAX_RESPONSE + 1),
    ],
)
def test_hostile_bytes_raise_parse_error(data: bytes) -> None:
    with pytest.raises(onvif.ParseError):
        onvif.parse_response(data)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda a: b"<s:Envelope><s:Body>" + a, st.binary(max_size=2000)),
    )
)
def test_any_bytes_give_a_reply_or_parse_error(data: bytes) -> None:
    started = time.monotonic()
    with contextlib.suppress(onvif.ParseError):
        onvif.parse_response(data)
    assert time.monotonic() - started < 1.0


def test_device_clock_reads_utc_only() -> None:
    utc = onvif.SoapReply(
        (("UTCDateTime", "2026-03-03T10:12:41Z"),), onvif.GET_SYSTEM_DATE_AND_TIME
    )
    local = onvif.SoapReply(
        (("UTCDateTime", "1979-11-30T00:00:50 (LocalDateTime; no UTC given)"),),
        onvif.GET_SYSTEM_DATE_AND_TIME,
    )
    assert onvif.device_clock(utc) == datetime(2026, 3, 3, 10, 12, 41, tzinfo=UTC)
    assert onvif.device_clock(local) is None and onvif.device_clock(None) is None
