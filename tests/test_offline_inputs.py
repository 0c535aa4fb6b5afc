"""Offline evidence that used to be left unread: an RPC2 login challenge pasted as a body, a
'Login to <32 hex>' realm, a model with an annotation, a brand that names its maker."""

from __future__ import annotations

import pytest

from camscan.identify import identify
from camscan.models import Evidence
from camscan.rawkeys import expand

# Greenbone NASL example reply of /RPC2_Login (the shape camscan's http.path rule reads)
CHALLENGE = (
    '{"error":{"code":268632079,"message":"Component error: login challenge!"},"id":2,'
    '"params":{"encryption":"Default","mac":"3CEF8C6101C0","random":"3856271940",'
    '"realm":"Login to 4M0747EPAA1D284"},"result":false,"session":1537593600}'
)


def ev(key: str, value: str, source: str = "") -> Evidence:
    return Evidence("h", source, key, value)


def test_an_rpc2_challenge_pasted_as_a_body_is_read_like_the_rpc2_path() -> None:
    v = identify(expand([ev("http.body", CHALLENGE)]))  # offline input: read at the boundary
    assert (v.maker, v.serial, v.confidence.value) == ("Dahua", "4M0747EPAA1D284", "confirmed")
    assert "dahua.rpc2_realm.dahua" in {m.fingerprint_id for m in v.matches}
    assert not any(e.key == "probe.error" for m in v.matches for e in [m.evidence])


@pytest.mark.parametrize(
    "body",
    [
        "<html><title>WEB SERVICE</title></html>",
        '{"params":{"realm":"Login to 4M0747EPAA1D284"}}',  # no challenge code: not a challenge
        '{"error":{"code":268632079} broken json',
    ],
)
def test_other_bodies_add_nothing(body: str) -> None:
    v = identify(expand([ev("http.body", body)]))
    assert v.maker is None
    assert all(m.evidence.key == "http.body" for m in v.matches)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (
            "http.www_authenticate",
            'Digest realm="Login to 11839e10161ff4ebab8e3260b8779f14", qop="auth", nonce="1"',
        ),
        ("onvif.www_authenticate", 'Digest realm="Login to 11839e10161ff4ebab8e3260b8779f14"'),
        (
            "rtsp.www_authenticate",
            'Digest realm="Login to 11839e10161ff4ebab8e3260b8779f14", nonce="1"',
        ),
    ],
)
def test_a_hashed_login_to_realm_names_dahua(key: str, value: str) -> None:
    v = identify([ev(key, value)])
    assert (v.maker, v.confidence.value) == ("Dahua", "likely")


def test_a_hashed_realm_in_an_rpc2_challenge_decides_alone() -> None:
    v = identify([ev("dahua.rpc2_realm", "Login to 11839e10161ff4ebab8e3260b8779f14")])
    assert (v.maker, v.confidence.value) == ("Dahua", "confirmed")


@pytest.mark.parametrize(
    "realm",
    [
        "Login to 11839E10161FF4EBAB8E3260B8779F14X",
        "Login to the Router Web Configurator",
        "Login to LOGINPAGE",
    ],
)
def test_login_to_realms_without_a_serial_or_digest_are_not_dahua(realm: str) -> None:
    # ('the Router Web Configurator' is DrayTek's, by its own rule)
    assert identify([ev("http.www_authenticate", f'Basic realm="{realm}"')]).maker != "Dahua"


@pytest.mark.parametrize(
    ("value", "maker", "model"),
    [
        ("DS-7608NI-K2 (NVR)", "Hikvision", "DS-7608NI-K2"),
        ("DHI-NVR4108HS-4KS2 (NVR)", "Dahua", "DHI-NVR4108HS-4KS2"),
        ("IPC-HDW5421S (IP Camera)", "Dahua", "IPC-HDW5421S"),
    ],
)
def test_an_annotated_model_is_read_without_its_annotation(
    value: str, maker: str, model: str
) -> None:
    v = identify([ev("model", value)])
    assert (v.maker, v.model, v.confidence.value) == (maker, model, "likely")


def test_hikvision_revision_suffixes_are_not_annotations() -> None:
    v = identify([ev("model", "DS-2CD1043G0-I(C)")])
    assert (v.maker, v.model) == ("Hikvision", "DS-2CD1043G0-I(C)")
    assert identify([ev("model", "DS218+ (NAS)")]).maker == "Synology"


@pytest.mark.parametrize(
    ("model", "maker", "brand", "relation"),
    [
        ("IP8M-2493EB-V2", "Dahua", "Amcrest", "oem"),
        ("IPC-A26HSP", "Dahua", "Imou", "own"),
        ("HWI-B121H", "Hikvision", "HiWatch", "own"),
        ("CS-C6CN-A0-3H2WFR", "Hikvision", "EZVIZ", "own"),
        ("IPC-T240H", "Hikvision", "HiLook", "own"),
    ],
)
def test_a_single_sourced_brand_line_names_the_maker_with_the_chain(
    model: str, maker: str, brand: str, relation: str
) -> None:
    v = identify([ev("model", model)])
    assert (v.maker, v.brand, v.confidence.value) == (maker, brand, "likely")
    assert any(
        n.startswith(f"{maker} named through its {relation} brand {brand}") for n in v.notes
    ), v.notes
    (m,) = v.matches
    assert (m.maker, m.brand) == (maker, brand)


@pytest.mark.parametrize(
    "model",
    [
        "ASH21",
        "AD410",  # Amcrest lines that do not speak Dahua's API: brand only
        "C26EP-V2",  # Imou without the IPC- prefix: brand only
    ],
)
def test_brand_only_lines_stay_brand_only(model: str) -> None:
    v = identify([ev("model", model)])
    assert v.maker is None and v.brand is not None


@pytest.mark.parametrize(
    "model",
    [
        # Cisco collaboration SKUs share EZVIZ's CS- prefix (public code)
        "CS-KIT-K9",
        "CS-KITPLUS-K9",
        "CS-BRD55P-K9",
        "CS-DESKPRO-K9",
        "CS-BAR-T-C-K9",
        "CS-CAM-PTZ4K",
        # Uniarch (Uniview) IPC-<B|D|T><3 digits>-…: no H, not HiLook; not Dahua Lite either
        "IPC-B122-APF28K",
        "IPC-D122-PF28",
        "IPC-T122-APF28",
        "IPC-B1E6",
        "IPC-B112-PF28(40)",
        # Synology and Vivotek look-alikes of Hikvision DS- and Dahua SD…
        "DS218+",
        "SD9366-EHL",
    ],
)
def test_look_alikes_name_neither_hikvision_nor_dahua(model: str) -> None:
    assert identify([ev("model", model)]).maker not in ("Hikvision", "Dahua")
