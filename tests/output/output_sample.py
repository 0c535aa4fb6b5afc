"""A realistic ScanResult built from the models: the input of every output test.

Devices: a Hikvision camera (SADP + HTTP), a Lorex-branded Dahua camera (DHIP Vendor=Lorex),
a device with conflicting maker evidence, an undetermined host, an Axis camera, and a
Hikvision NVR found by discovery outside the targets. Values follow the public captures named
in /work/shared/knowledge/fingerprints.md (Haicam SADP reply, Rapid7 Lorex DHIP helper,
recog Lorex realm).
"""

from __future__ import annotations

from dataclasses import replace

from camscan.models import (
    Confidence,
    Conflict,
    Device,
    DeviceType,
    Evidence,
    Match,
    MethodStats,
    ScanResult,
    ScanScope,
    Strength,
    Verdict,
)

STARTED = "2026-11-23T02:00:00+00:00"
FINISHED = "2026-11-23T02:00:41+00:00"

SADP_REPLY = (
    '<?xml version="1.0" encoding="UTF-8" ?><ProbeMatch><Uuid>8D3B4F1C-0000-0000-0000-000000000000'
    "</Uuid><Types>inquiry</Types><DeviceType>141945</DeviceType><DeviceDescription>"
    "DS-2CD2385G1-I</DeviceDescription><DeviceSN>DS-2CD2385G1-I20190701AAWRD12345678</DeviceSN>"
    "<CommandPort>8000</CommandPort><HttpPort>80</HttpPort><MAC>44-19-b6-3a-10-01</MAC>"
    "<IPv4Address>198.18.0.11</IPv4Address><SoftwareVersion>V5.6.2build 190701</SoftwareVersion>"
    "<Activated>true</Activated><DetailOEMCode>1</DetailOEMCode></ProbeMatch>"
)


def _ev(
    host: str, source: str, key: str, value: str, port: int | None = None, raw: str | None = None
) -> Evidence:
    return Evidence(host=host, source=source, key=key, value=value, port=port, raw=raw)


def hikvision_camera() -> Device:
    ip = "198.18.0.11"
    sadp_model = _ev(ip, "sadp", "sadp.model", "DS-2CD2385G1-I", 37020)
    sadp_serial = _ev(ip, "sadp", "sadp.serial", "DS-2CD2385G1-I20190701AAWRD12345678", 37020)
    server = _ev(
        ip,
        "http",
        "http.www_authenticate",
        'Digest realm="DS-2CD2385G1-I", '
        'domain="::", qop="auth", nonce="4e6a4d7a", opaque="", algorithm="MD5"',
        80,
    )
    evidence = [
        _ev(ip, "arp", "arp.reply", "44:19:b6:3a:10:01"),
        _ev(ip, "sadp", "sadp.reply", "ProbeMatch", 37020, raw=SADP_REPLY),
        sadp_model,
        sadp_serial,
        _ev(ip, "sadp", "sadp.firmware", "V5.6.2build 190701", 37020),
        _ev(ip, "sadp", "sadp.mac", "44-19-b6-3a-10-01", 37020),
        server,
        _ev(ip, "http", "http.status", "HTTP/1.1 401 Unauthorized", 80),
        _ev(ip, "rtsp", "rtsp.server", "Hikvision Streaming Media", 554),
    ]
    verdict = Verdict(
        maker="Hikvision",
        brand="Hikvision",
        device_type=DeviceType.CAMERA,
        model="DS-2CD2385G1-I",
        firmware="V5.6.2build 190701",
        serial="DS-2CD2385G1-I20190701AAWRD12345678",
        confidence=Confidence.CONFIRMED,
        matches=(
            Match(
                "sadp.probe_match",
                Strength.CONCLUSIVE,
                sadp_model,
                maker="Hikvision",
                brand="Hikvision",
                device_type="camera",
                model="DS-2CD2385G1-I",
            ),
            Match(
                "sadp.serial",
                Strength.CONCLUSIVE,
                sadp_serial,
                serial="DS-2CD2385G1-I20190701AAWRD12345678",
            ),
            Match(
                "http.wwwauth.hikvision_isapi_digest", Strength.STRONG, server, maker="Hikvision"
            ),
        ),
    )
    return Device(
        ip=ip,
        mac="44:19:b6:3a:10:01",
        vendor="Hangzhou Hikvision Digital Technology Co.,Ltd.",
        first_seen=0.412,
        evidence=evidence,
        verdict=verdict,
    )


def lorex_camera() -> Device:
    ip = "198.18.0.31"
    vendor = _ev(ip, "dhip", "dhip.vendor", "Lorex", 37810)
    realm = _ev(
        ip,
        "http",
        "http.www_authenticate",
        'Digest realm="Login to ND011811000000", qop="auth", nonce="1402583117"',
        80,
    )
    evidence = [
        _ev(ip, "arp", "arp.reply", "00:1f:54:0a:31:07"),
        vendor,
        _ev(ip, "dhip", "dhip.model", "W461ASC", 37810),
        _ev(ip, "dhip", "dhip.port", "35000", 37810),
        _ev(ip, "dhip", "dhip.serial", "ND011811000000", 37810),
        realm,
    ]
    verdict = Verdict(
        maker="Dahua",
        brand="Lorex",
        device_type=DeviceType.CAMERA,
        model="W461ASC",
        firmware=None,
        serial="ND011811000000",
        confidence=Confidence.CONFIRMED,
        matches=(
            Match("dhip.vendor.lorex", Strength.CONCLUSIVE, vendor, maker="Dahua", brand="Lorex"),
            Match(
                "http.wwwauth.dahua_login_to",
                Strength.STRONG,
                realm,
                maker="Dahua",
                serial="ND011811000000",
            ),
        ),
    )
    return Device(
        ip=ip,
        mac="00:1f:54:0a:31:07",
        vendor="Lorex Technology Inc.",
        first_seen=0.655,
        evidence=evidence,
        verdict=verdict,
    )


def conflicting_device() -> Device:
    ip = "198.18.0.45"
    oui = _ev(ip, "arp", "mac", "c0:56:e3:45:00:45")
    realm = _ev(
        ip,
        "http",
        "http.www_authenticate",
        'Digest realm="Login to 4M0747EPAA1D284", qop="auth", nonce="77120"',
        80,
    )
    evidence = [
        _ev(ip, "arp", "arp.reply", "c0:56:e3:45:00:45"),
        oui,
        realm,
        _ev(ip, "http", "http.title", "WEB SERVICE", 80),
    ]
    verdict = Verdict(
        maker="Dahua",
        brand="Dahua",
        device_type=DeviceType.UNKNOWN,
        model=None,
        firmware=None,
        serial="4M0747EPAA1D284",
        confidence=Confidence.POSSIBLE,
        conflicts=(
            Conflict(
                "maker", ("Dahua", "Hikvision"), ("http.wwwauth.dahua_login_to", "oui.hikvision")
            ),
        ),
        matches=(
            Match(
                "http.wwwauth.dahua_login_to",
                Strength.STRONG,
                realm,
                maker="Dahua",
                serial="4M0747EPAA1D284",
            ),
            Match("oui.hikvision", Strength.CORROBORATING, oui, maker="Hikvision"),
        ),
        notes=("MAC prefix registered to Hikvision, web login of Dahua firmware",),
    )
    return Device(
        ip=ip,
        mac="c0:56:e3:45:00:45",
        vendor="Hangzhou Hikvision Digital Technology Co.,Ltd.",
        first_seen=0.702,
        evidence=evidence,
        verdict=verdict,
    )


def axis_camera() -> Device:
    ip = "198.18.0.40"
    server = _ev(ip, "ssdp", "upnp.manufacturer", "AXIS", 49152)
    verdict = Verdict(
        maker="Axis",
        brand="Axis",
        device_type=DeviceType.CAMERA,
        model="M3106-L Mk II",
        firmware=None,
        serial=None,
        confidence=Confidence.LIKELY,
        matches=(
            Match(
                "upnp.manufacturer.axis",
                Strength.STRONG,
                server,
                maker="Axis",
                brand="Axis",
                device_type="camera",
            ),
        ),
    )
    return Device(
        ip=ip,
        mac="00:40:8c:aa:bb:40",
        vendor="Axis Communications AB",
        first_seen=0.9,
        evidence=[
            _ev(ip, "arp", "arp.reply", "00:40:8c:aa:bb:40"),
            server,
            _ev(ip, "ssdp", "upnp.model_name", "M3106-L Mk II", 49152),
        ],
        verdict=verdict,
    )


def undetermined_host() -> Device:
    ip = "198.18.0.60"
    return Device(
        ip=ip,
        mac="02:00:5e:10:00:60",
        vendor=None,
        first_seen=0.35,
        evidence=[
            _ev(ip, "arp", "arp.reply", "02:00:5e:10:00:60"),
            _ev(ip, "banners", "tcp.open.80", "open", 80),
            _ev(ip, "http", "probe.error", "timeout after 2.0 s", 80),
        ],
        errors=["http: timeout after 2.0 s"],
    )


def outside_scope_nvr() -> Device:
    ip = "198.18.1.15"
    model = _ev(ip, "sadp", "sadp.model", "DS-7616NI-I2/16P", 37020)
    verdict = Verdict(
        maker="Hikvision",
        brand="Hikvision",
        device_type=DeviceType.RECORDER,
        model="DS-7616NI-I2/16P",
        firmware="V4.22.005build 200302",
        serial=None,
        confidence=Confidence.CONFIRMED,
        matches=(
            Match(
                "sadp.probe_match",
                Strength.CONCLUSIVE,
                model,
                maker="Hikvision",
                brand="Hikvision",
                device_type="nvr/dvr",
                model="DS-7616NI-I2/16P",
            ),
        ),
    )
    return Device(
        ip=ip,
        mac="4c:bd:8f:10:20:30",
        vendor="Hangzhou Hikvision Digital Technology Co.,Ltd.",
        outside_scope=True,
        first_seen=1.204,
        evidence=[model, _ev(ip, "sadp", "sadp.firmware", "V4.22.005build 200302", 37020)],
        verdict=verdict,
    )


def sample_result(*, complete: bool = True) -> ScanResult:
    """The standard scan: six devices on the office /24, one of them outside it."""
    stats = {
        "arp": MethodStats("arp", sent=254, answered=5, duration_s=3.1),
        "sadp": MethodStats("sadp", sent=2, answered=2, duration_s=2.5),
        "dhip": MethodStats("dhip", sent=2, answered=1, duration_s=2.5),
        "mdns": MethodStats("mdns", sent=1, answered=0, duration_s=2.5),
        "ssdp": MethodStats("ssdp", sent=2, answered=1, duration_s=2.5),
        "wsd": MethodStats(
            "wsd",
            sent=2,
            answered=0,
            dropped=1,
            duration_s=2.5,
            notes=["1 reply dropped: malformed XML"],
        ),
        "banners": MethodStats("banners", sent=45, answered=17, errors=1, duration_s=9.8),
    }
    scope = ScanScope(
        targets=["198.18.0.0/24"],
        exclusions=["198.18.0.2"],
        interface="csF-veth0",
        probes=["arp", "mdns", "ssdp", "wsd", "sadp", "dhip", "banners"],
        ports=[80, 443, 554, 8000, 8080, 8443, 8899, 37777, 34567],
        rate=500,
        retries=1,
        address_count=253,
        listen_window_s=2.5,
    )
    devices = [
        outside_scope_nvr(),
        undetermined_host(),
        lorex_camera(),
        hikvision_camera(),
        conflicting_device(),
        axis_camera(),
    ]
    return ScanResult(
        scope=scope,
        started=STARTED,
        finished=FINISHED if complete else None,
        complete=complete,
        stats=stats,
        devices=devices,
        site="Town Hall",
        operator="J. Smith (ICT)",
        errors=[] if complete else ["interrupted: the scan was stopped before it finished"],
    )


def with_device(result: ScanResult, device: Device) -> ScanResult:
    """A copy of `result` with one more device."""
    return replace(result, devices=[*result.devices, device])
