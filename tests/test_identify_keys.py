"""SNMP and DHCP evidence keys (passive and offline): what each names, and what it must not."""

from __future__ import annotations

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
