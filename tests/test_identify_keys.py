"""SNMP and DHCP evidence keys (passive and offline): what each names, and what it must not."""

from __future__ import annotations

from camscan.discovery import ssdp
from camscan.identify import identify
from camscan.models import Evidence


def ev(key: str, value: str, source: str = "") -> Evidence:
    return Evidence("h", source, key, value)


def test_dahua_nvr_snmp_system_group() -> None:
    # librenms tests/snmpsim/dahua-nvr.snmprec: the model is the sysDescr
    v = identify(
        [
            ev("snmp.sysdescr", "DH-NVR4108HS-8P-4KS2", "snmp"),
            ev("snmp.sysobjectid", "1.3.6.1.4.1.1004849.3.2.10", "snmp"),
        ]
    )
    assert (v.maker, v.model, v.confidence.value) == ("Dahua", "DH-NVR4108HS-8P-4KS2", "likely")
    ids = {m.fingerprint_id for m in v.matches}
    assert {"model.dahua-prefixed", "snmp.sysobjectid.dahua-enterprise"} <= ids


def test_snmp_and_an_independent_protocol_confirm() -> None:
    v = identify(
        [
            ev("snmp.sysdescr", "Hikvision company products", "snmp"),
            ev("mac", "44:19:b6:00:00:01", "arp"),
        ]
    )
    assert (v.maker, v.confidence.value) == ("Hikvision", "confirmed")


def test_hikvision_recorder_oid_alone_is_not_enough() -> None:
    v = identify([ev("snmp.sysobjectid", "1.3.6.1.4.1.50001", "snmp")])
    assert v.maker is None
    assert any("hikvision-recorder-50001" in n for n in v.notes)
    both = identify(
        [
            ev("snmp.sysobjectid", "1.3.6.1.4.1.50001", "snmp"),
            ev("snmp.sysdescr", "Hikvision company products", "snmp"),
        ]
    )
    assert (both.maker, both.device_type) == ("Hikvision", "nvr/dvr")


def test_net_snmp_and_generic_linux_name_nobody() -> None:
    v = identify(
        [
            ev("snmp.sysobjectid", "1.3.6.1.4.1.8072.3.2.10", "snmp"),
            ev(
                "snmp.sysdescr",
                "Linux hostname 3.10.77 #8451 SMP Wed Jan 4 00:31:32 CST 2017 x86_64",
                "snmp",
            ),
            ev("dhcp.vendor_class", "udhcp 1.22.1", "dhcp"),
        ]
    )
    assert (v.maker, v.confidence.value) == (None, "undetermined")


def test_oid_spellings_pasted_from_net_snmp() -> None:
    for oid in (
        "SNMPv2-SMI::enterprises.1004849.3.2.10",
        ".1.3.6.1.4.1.1004849.3.2.10",
        "iso.3.6.1.4.1.1004849.3.2.10",
    ):
        assert identify([ev("snmp.sysobjectid", oid)]).maker == "Dahua", oid
    # a longer number that merely starts with Dahua's is someone else's
    assert identify([ev("snmp.sysobjectid", "1.3.6.1.4.1.10048490.1")]).maker is None


def test_dhcp_vendor_class_names_axis_and_hp() -> None:
    axis = identify([ev("dhcp.vendor_class", "AXIS,Network Camera,P1435-LE,9.80.1", "dhcp")])
    assert (axis.maker, axis.model, axis.firmware) == ("Axis", "P1435-LE", "9.80.1")
    hp = identify([ev("dhcp.vendor_class", "Hewlett-Packard OfficeJet", "dhcp")])
    assert hp.maker == "HP"


def test_private_mib_model_names_the_maker_and_the_model_rules_the_brand() -> None:
    # A Hikvision OEM line answered under Hikvision's registered enterprise (39165): the OID
    # names Hikvision, the model rule names the brand.
    v = identify([ev("snmp.hikvision.model", "HWI-B121H", "snmp")])
    assert (v.maker, v.brand, v.model, v.confidence.value) == (
        "Hikvision",
        "HiWatch",
        "HWI-B121H",
        "likely",
    )
    # An Intelbras model under DAHUA-SNMP-MIB: brand Intelbras, platform Dahua.
    oem = identify([ev("snmp.dahua.model", "VIP 1230 B", "snmp")])
    assert (oem.maker, oem.brand) == ("Dahua", "Intelbras")
    # Neighbouring scalars of the same MIB are not models.
    for value in ("15 PERCENT", "512 MB", "0"):
        assert identify([ev("snmp.hikvision.model", value, "snmp")]).maker is None, value


def test_snmp_private_mib_and_an_independent_protocol_confirm() -> None:
    v = identify(
        [
            ev("snmp.dahua.model", "DH-NVR4108HS-8P-4KS2", "snmp"),
            ev("mac", "3c:ef:8c:08:4e:1e", "arp"),
        ]
    )
    assert (v.maker, v.confidence.value) == ("Dahua", "confirmed")


def test_telnet_prompts() -> None:
    v = identify([ev("telnet.banner", "\r\ndvrdvs login: ", "telnet")])
    assert (v.maker, v.confidence.value) == ("Hikvision", "likely")
    for generic in ("(none) login: ", "\r\nlogin: ", "IP CAMERA login:", "CAMERA login: "):
        assert identify([ev("telnet.banner", generic, "telnet")]).maker is None, generic


def test_private_upnp_sdk_corroborates_dahua_but_names_nobody_alone() -> None:
    alone = identify(
        [
            ev("upnp.server", "Linux, UPnP/1.0, Private Upnp SDK", "ssdp"),
            ev("upnp.usn", "uuid:device_3_0-AMC000000000000000::upnp:rootdevice", "ssdp"),
        ]
    )
    assert alone.maker is None
    assert any("dahua-private-upnp-sdk" in n for n in alone.notes)
    with_oui = identify(
        [
            ev("upnp.server", "Linux, UPnP/1.0, Private Upnp SDK", "ssdp"),
            ev("mac", "3c:ef:8c:08:4e:1e", "arp"),
        ]
    )
    assert with_oui.maker == "Dahua"
    generic = identify(
        [ev("upnp.server", "Linux/3.8.8, UPnP/1.0, Portable SDK for UPnP devices/1.6.18")]
    )
    assert generic.maker is None


def test_private_upnp_sdk_reply_bytes_through_the_ssdp_parser() -> None:
    # The OEM reply shape of SOURCES.md#s5-6, as bytes: the parser yields the keys the rules read.
    reply = (
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nX-User-Agent: redsonic\r\n"
        b"LOCATION: http://198.18.0.19:80/upnp_device_desc.xml\r\n"
        b"SERVER: Linux, UPnP/1.0, Private Upnp SDK\r\nST: upnp:rootdevice\r\n"
        b"USN: uuid:device_3_0-AMC000000000000000::upnp:rootdevice\r\n\r\n"
    )
    items = ssdp.message_evidence("198.18.0.19", ssdp.parse_ssdp(reply))
    v = identify(items)
    assert v.maker is None  # corroborating only
    (note,) = v.notes
    assert "upnp.server.dahua-private-upnp-sdk" in note
    assert "upnp.usn.dahua-platform-device-uuid" in note
