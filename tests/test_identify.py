"""identify(): the rules of issue 3, the default lab's ground truth, and `camscan identify`."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from camscan import oui
from camscan.cli import app
from camscan.identify import identify, identify_hosts
from camscan.models import Confidence, DeviceType, Evidence
from camscan.output.document import verdict_to_dict
from camscan.probes.paths import VENDOR_PATHS
from camscan.rawkeys import expand
from camscan_lab.captures import recorded

LAB = Path(__file__).resolve().parents[1] / "examples" / "lab" / "office"


def ev(key: str, value: str, source: str = "", host: str = "h") -> Evidence:
    return Evidence(host, source, key, value)


# ---------------------------------------------------------------- rules


def test_real_oui_module_is_used() -> None:
    claim = oui.classify("44:19:b6:00:00:01")
    assert claim is not None and claim.maker == "Hikvision"
    v = identify([ev("mac", "44:19:b6:00:00:01")])
    assert v.matches[0].fingerprint_id == claim.fingerprint_id


def test_vendor_discovery_reply_decides_alone() -> None:
    v = identify([ev("sadp.model", "DS-2CD2385G1-I", "sadp")])
    assert (v.maker, v.confidence, v.device_type) == ("Hikvision", Confidence.CONFIRMED, "camera")
    v = identify([ev("dhip.vendor", "Dahua", "dhip")])
    assert (v.maker, v.brand, v.confidence) == ("Dahua", "Dahua", Confidence.CONFIRMED)


def test_vendor_api_markers_decide_alone() -> None:
    v = identify([ev("dahua.rpc2_realm", "Login to 4M0747EPAA1D284", "http")])
    assert (v.maker, v.serial, v.confidence) == ("Dahua", "4M0747EPAA1D284", Confidence.CONFIRMED)
    body = (
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/xml\r\n\r\n"
        "<userCheck><statusValue>401</statusValue></userCheck>"
    )
    v = identify([ev("http.path.hik_usercheck", body, "http")])
    assert (v.maker, v.confidence) == ("Hikvision", Confidence.CONFIRMED)


def test_one_strong_is_likely_two_independent_confirm() -> None:
    one = identify([ev("http.server", "App-webs/", "http")])
    assert (one.maker, one.confidence) == ("Hikvision", Confidence.LIKELY)
    two = identify(
        [
            ev("http.server", "App-webs/", "http"),
            ev("rtsp.www_authenticate", 'Digest realm="IP Camera(21388)", nonce="1"', "rtsp"),
        ]
    )
    assert (two.maker, two.confidence) == ("Hikvision", Confidence.CONFIRMED)


def test_two_keys_of_one_reply_are_not_independent() -> None:
    v = identify(
        [
            ev("http.server", "DNVRS-Webs", "http"),
            ev("http.favicon.md5", "89b932fcc47cf4ca3faadb0cfdef89cf", "http"),
            ev("http.body", "<script>location.href='/doc/page/login.asp'</script>", "https"),
        ]
    )
    assert (v.maker, v.confidence) == ("Hikvision", Confidence.LIKELY)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("http.server", "Webs"),
        ("http.server", "webserver"),
        ("rtsp.server", "Rtsp Server/3.0"),
        ("onvif.scope", "onvif://www.onvif.org/location/country/china"),
        ("onvif.scope", "onvif://www.onvif.org/extension/unique_identifier/1"),
        ("mdns.service", "_CGI._tcp.local."),
        ("http.title", "WEB SERVICE"),
    ],
)
def test_one_corroborating_token_never_names_a_target(key: str, value: str) -> None:
    v = identify([ev(key, value)])
    assert v.maker is None and not v.is_target_maker


def test_corroborating_tokens_cap_at_possible() -> None:
    v = identify(
        [ev("rtsp.server", "Rtsp Server/3.0", "rtsp"), ev("http.title", "WEB SERVICE", "http")]
    )
    assert (v.maker, v.confidence) == ("Dahua", Confidence.POSSIBLE)


def test_white_label_gets_brand_and_maker_with_the_chain() -> None:
    v = identify(
        [
            ev("dhip.vendor", "Lorex", "dhip"),
            ev("dhip.model", "W461ASC", "dhip"),
            ev("mac", "00:1f:54:33:44:55", "arp"),
        ]
    )
    assert (v.maker, v.brand, v.model) == ("Dahua", "Lorex", "W461ASC")
    ids = {m.fingerprint_id for m in v.matches}
    assert {"dhip.vendor.oem", "oui.brand.lorex"} <= ids


def test_oem_brand_oui_alone_gives_brand_not_maker() -> None:
    v = identify([ev("mac", "00:1f:54:aa:bb:cc")])
    assert (v.maker, v.brand, v.device_type) == (None, "Lorex", DeviceType.UNKNOWN)
    assert v.confidence is Confidence.POSSIBLE


def test_maker_oui_without_camera_evidence_is_still_theirs() -> None:
    v = identify([ev("mac", "28:57:be:77:88:99")])
    assert (v.maker, v.brand, v.device_type) == ("Hikvision", "Hikvision", "unknown")


def test_hikvision_oui_with_axis_banner_is_a_named_conflict() -> None:
    v = identify([ev("mac", "44:19:b6:00:00:01"), ev("http.server", "AXIS", "http")])
    assert v.maker is None
    (conflict,) = v.conflicts
    assert conflict.field == "maker" and set(conflict.values) == {"Axis", "Hikvision"}
    assert {"oui.hikvision", "http.server.axis"} <= set(conflict.fingerprint_ids)


def test_conclusive_outweighs_but_keeps_the_conflict() -> None:
    v = identify([ev("sadp.model", "DS-2CD2385G1-I", "sadp"), ev("http.server", "AXIS", "http")])
    assert v.maker == "Hikvision" and v.confidence is Confidence.LIKELY
    assert v.conflicts and v.conflicts[0].field == "maker"


def test_dhip_general_is_unbranded_until_the_model_names_bcs() -> None:
    general = identify([ev("dhip.vendor", "General", "dhip")])
    assert (general.maker, general.brand) == ("Dahua", None)
    bcs = identify(
        [ev("dhip.vendor", "General", "dhip"), ev("dhip.model", "BCS-TIP3401IR-E-V", "dhip")]
    )
    assert (bcs.maker, bcs.brand, bcs.device_type) == ("Dahua", "BCS", "camera")


def test_hikvision_devicesn_gives_model_and_serial() -> None:
    v = identify([ev("sadp.serial", "DS-7816H-SNH1620140125AACH450813722WCVU", "sadp")])
    assert (v.maker, v.model, v.device_type) == ("Hikvision", "DS-7816H-SNH", "nvr/dvr")
    assert v.serial == "DS-7816H-SNH1620140125AACH450813722WCVU"


def test_brand_model_alone_names_no_maker() -> None:
    # Amcrest's doorbells are not shown to be Dahua's; its IP camera line is (issue 11)
    v = identify([ev("model", "AD410")])
    assert (v.maker, v.brand) == (None, "Amcrest")
    v = identify([ev("model", "IP5M-T1179E")])
    assert (v.maker, v.brand, v.confidence.value) == ("Dahua", "Amcrest", "likely")


def test_pc_nic_oui_does_not_outvote_device_evidence() -> None:
    v = identify([ev("mac", "f8:bc:12:07:08:09"), ev("http.server", "Interlogix-Webs", "http")])
    assert (v.maker, v.brand, v.device_type) == ("Hikvision", "TruVision", "nvr/dvr")
    assert not v.conflicts


def test_nothing_known_is_undetermined() -> None:
    v = identify([ev("http.server", "nginx/1.24.0")])
    assert (v.maker, v.brand, v.confidence, v.matches) == (None, None, Confidence.UNDETERMINED, ())


def test_deterministic_in_any_order() -> None:
    items = [
        ev("mac", "9c:8e:cd:0a:1b:2c", "arp"),
        ev("http.title", "WEB SERVICE", "http"),
        ev("http.www_authenticate", 'Digest realm="Login to AMC000N49SSV0M2U46"', "http"),
        ev("rtsp.server", "Rtsp Server/3.0", "rtsp"),
        ev("model", "IP5M-T1179E"),
        ev("http.server", "AXIS", "http"),
        ev("mac", "44:19:b6:00:00:01", "arp"),
    ]
    first = identify(items)
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(items)
        assert identify(items) == first


def test_verdict_to_dict_has_stable_keys() -> None:
    d = verdict_to_dict(identify([ev("http.server", "App-webs/", "http")]))
    assert list(d) == [
        "maker",
        "brand",
        "device_type",
        "model",
        "firmware",
        "serial",
        "confidence",
        "conflicts",
        "decided_by",
        "notes",
    ]
    assert list(d["decided_by"][0]) == [
        "fingerprint_id",
        "strength",
        "key",
        "value",
        "source",
        "port",
        "sets",
    ]
    json.dumps(d)


def test_raw_evidence_takes_the_parser_path() -> None:
    raw = (
        "HTTP/1.1 200 OK\r\nCONNECTION: close\r\nCONTENT-LENGTH: 40\r\n"
        "CACHE-CONTROL: max-age=0\r\nCONTENT-TYPE: text/html\r\n\r\n"
        "<html><title>CPPLUS DVR –Web View</title></html>"
    )
    v = identify(expand([ev("http.response", raw, "http")]))
    assert (v.maker, v.brand) == ("Dahua", "CP Plus")
    assert v.matches and all(m.evidence.key != "http.response" for m in v.matches)


def test_a_raw_item_alone_is_not_read_again_by_identification() -> None:
    # Probes emit the parsed items beside the raw one; a verdict cites only items it was given.
    raw = "HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n"
    assert identify([ev("http.response", raw, "http")]).maker is None
    assert identify(expand([ev("http.response", raw, "http")])).maker == "Hikvision"


def test_unparseable_raw_evidence_is_kept_not_fatal() -> None:
    items = expand([ev("sadp.reply", "\x00garbage", "sadp")])
    assert [e.key for e in items] == ["sadp.reply", "probe.error"]
    assert identify(items).maker is None


# ---------------------------------------------------------------- the default lab


def _lab_services() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(LAB.glob("*.toml")):
        if path.name == "devices.toml":
            continue
        for svc in tomllib.loads(path.read_text()).get("service", []):
            out.setdefault(svc["device"], []).append(svc)
    return out


def _http_raw(resp: dict[str, Any]) -> str:
    head = "\r\n".join([resp["status"], *resp.get("headers", [])])
    return head + "\r\n\r\n" + resp.get("body", "")


PATH_NAMES = {p.path: p.name for p in VENDOR_PATHS}


def _evidence_of(device: dict[str, Any], services: list[dict[str, Any]]) -> list[Evidence]:
    """What a scan of the lab device would record, built offline from its service tables."""
    host = device["name"]
    items = [Evidence(host, "arp", "mac", device["mac"])]
    for svc in services:
        kind, port = svc["kind"], svc.get("port")
        if svc.get("hostile") or kind == "hostile":
            continue
        if kind in ("http", "https"):
            for resp in svc.get("response", []):
                path = resp.get("path", "/")
                if path == "/":
                    items.append(Evidence(host, kind, "http.response", _http_raw(resp), port))
                elif path in PATH_NAMES:
                    items.append(
                        Evidence(host, kind, f"http.path.{PATH_NAMES[path]}", _http_raw(resp), port)
                    )
            for field, key in (("cert_subject", "tls.subject"), ("cert_issuer", "tls.issuer")):
                if svc.get(field):
                    items.append(Evidence(host, "tls", key, svc[field], port))
        elif kind == "rtsp":
            items.extend(
                Evidence(host, "rtsp", "rtsp.response", _http_raw(r), port)
                for r in svc.get("response", [])
            )
        elif kind in ("sadp", "dhip") and svc.get("capture"):  # a recorded reply, whole
            items.append(
                Evidence(
                    host, kind, f"{kind}.reply", recorded(svc["capture"]).decode("latin-1"), port
                )
            )
        elif kind in ("sadp", "dhip") and svc.get("reply"):
            items.append(Evidence(host, kind, f"{kind}.reply", svc["reply"], port))
        elif kind == "wsd" and svc.get("reply"):
            items.append(Evidence(host, "wsd", "wsd.probe_match", svc["reply"].strip(), port))
        elif kind in ("mdns", "avahi"):
            for inst in svc.get("instance", []):
                items += [
                    Evidence(host, "mdns", "mdns.service", inst["type"], port),
                    Evidence(host, "mdns", "mdns.instance", inst["name"], port),
                    Evidence(host, "mdns", "mdns.hostname", inst["hostname"], port),
                ]
        elif kind == "tcp" and svc.get("greeting_hex"):
            items.append(Evidence(host, "tcp", f"tcp.banner.{port}", svc["greeting_hex"], port))
        elif kind == "ssdp":
            if svc.get("description"):
                items.append(Evidence(host, "ssdp", "upnp.description", svc["description"], port))
            if svc.get("server"):
                items.append(Evidence(host, "ssdp", "upnp.server", svc["server"], port))
    return items


DEVICES = tomllib.loads((LAB / "devices.toml").read_text())["device"]
SERVICES = _lab_services()


@pytest.mark.parametrize("device", DEVICES, ids=lambda d: d["name"])
def test_default_lab_device_offline(device: dict[str, Any]) -> None:
    verdict = identify(expand(_evidence_of(device, SERVICES.get(device["name"], []))))
    expect = device["expect"]
    if "maker" in expect:
        assert verdict.maker == expect["maker"], verdict
    elif verdict.is_target_maker:
        pytest.fail(f"{device['name']} called {verdict.maker}: {verdict}")
    if "brand" in expect:
        assert verdict.brand == expect["brand"], verdict
    if expect.get("maker") not in ("Hikvision", "Dahua"):
        assert not verdict.is_target_maker


# ---------------------------------------------------------------- camscan identify


def test_cli_json_lines(tmp_path: Path) -> None:
    lines = [
        {"host": "cam1", "key": "http.server", "value": "App-webs/"},
        {
            "host": "cam1",
            "key": "rtsp.www_authenticate",
            "source": "rtsp",
            "port": 554,
            "value": 'Digest realm="IP Camera(21388)", nonce="1"',
        },
        {"host": "nas", "key": "model", "value": "DS218+"},
    ]
    path = tmp_path / "ev.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = CliRunner().invoke(app, ["identify", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [o["host"] for o in out] == ["cam1", "nas"]
    assert out[0]["maker"] == "Hikvision" and out[0]["confidence"] == "confirmed"
    assert list(out[0])[:3] == ["host", "maker", "brand"]
    assert out[1]["maker"] != "Hikvision"


def test_cli_bad_lines_are_named_and_skipped() -> None:
    stdin = (
        '{"host":"a","key":"http.server","value":"App-webs/"}\n'
        "not json\n"
        '{"host":"a","key":"no.such.key","value":"x"}\n'
        '{"host":"a","key":"mac"}\n'
    )
    result = CliRunner().invoke(app, ["identify"], input=stdin)
    assert result.exit_code == 1
    assert "line 2: not JSON" in result.stderr
    assert "line 3: unknown evidence key 'no.such.key'" in result.stderr
    assert "line 4: 'value' must be a non-empty string" in result.stderr
    assert json.loads(result.stdout)["maker"] == "Hikvision"


def test_cli_quick_forms() -> None:
    result = CliRunner().invoke(app, ["identify", "--mac", "44:19:b6:00:00:01"])
    assert result.exit_code == 0 and json.loads(result.stdout)["maker"] == "Hikvision"
    result = CliRunner().invoke(
        app, ["identify", "-e", "dhip.vendor=Intelbras", "--evidence", "dhip.model=VIP-S3120"]
    )
    out = json.loads(result.stdout)
    assert (out["maker"], out["brand"], out["device_type"]) == ("Dahua", "Intelbras", "camera")


def test_cli_unknown_key_on_command_line_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["identify", "-e", "bogus=1"])
    assert result.exit_code == 2 and "unknown evidence key 'bogus'" in result.stderr


def test_cli_table_goes_to_stderr() -> None:
    result = CliRunner().invoke(
        app, ["identify", "--mac", "00:1f:54:aa:bb:cc", "--format", "table"]
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert "Lorex" in result.stderr


def test_cli_fingerprints_test_and_list() -> None:
    result = CliRunner().invoke(app, ["fingerprints", "test"])
    assert result.exit_code == 0 and "0 problems" in result.stderr
    result = CliRunner().invoke(app, ["fingerprints", "list"])
    assert result.exit_code == 0 and "Hikvision" in result.stdout


def test_identify_hosts_groups_by_host() -> None:
    verdicts = identify_hosts(
        [ev("http.server", "App-webs/", host="b"), ev("mac", "00:1f:54:aa:bb:cc", host="a")]
    )
    assert list(verdicts) == ["a", "b"]


def test_onvif_hardware_scope_is_read_as_a_model() -> None:
    v = identify(
        [
            ev("onvif.scope", "onvif://www.onvif.org/hardware/IPC-HDW1431T1-S4", "wsd"),
            ev("onvif.scope", "onvif://www.onvif.org/name/Dahua", "wsd"),
        ]
    )
    assert (v.maker, v.device_type, v.model) == ("Dahua", "camera", "IPC-HDW1431T1-S4")
    v = identify([ev("onvif.scope", "onvif://www.onvif.org/hardware/DS-7616NI-I2%2F16P")])
    assert (v.maker, v.model, v.device_type) == ("Hikvision", "DS-7616NI-I2/16P", "nvr/dvr")


def test_generic_onvif_module_is_a_camera_of_no_maker() -> None:
    scopes = ["type/video_encoder", "hardware/IPC-model", "location/country/china", "name/NVT"]
    v = identify([ev("onvif.scope", f"onvif://www.onvif.org/{s}", "wsd") for s in scopes])
    assert (v.maker, v.device_type) == (None, "camera")


def test_look_alike_registrant_is_noted_not_claimed() -> None:
    v = identify([ev("mac", "40:2c:76:1a:bc:de")])
    assert v.maker is None and any("Shanghai Dahua Scale Factory" in n for n in v.notes)


def test_cli_update_oui_writes_the_table(tmp_path: Path) -> None:
    src = tmp_path / "ieee"
    src.mkdir()
    header = "Registry,Assignment,Organization Name,Organization Address\n"
    rows = {
        "oui.csv": 'MA-L,4419B6,"Hangzhou Hikvision Digital Technology Co.,Ltd.",CN\n',
        "mam.csv": "MA-M,402C761,Shanghai Dahua Scale Factory,CN\n",
        "oui36.csv": "MA-S,8C1F64F4B,JOREX LOREX INDIA PRIVATE LIMITED,IN\n",
        "iab.csv": "",
    }
    for name, body in rows.items():
        (src / name).write_text(header + body)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["fingerprints", "update-oui", "--from", str(src), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = (out / "ieee.tsv").read_text()
    assert "4419B6\tMA-L\tHangzhou Hikvision Digital Technology Co.,Ltd." in table
    bad = CliRunner().invoke(
        app, ["fingerprints", "update-oui", "--from", str(tmp_path / "missing"), "--out", str(out)]
    )
    assert bad.exit_code == 2 and "camscan: error:" in bad.stderr


def test_brand_defaults_to_maker_with_a_note_unless_unbranded() -> None:
    v = identify([ev("http.server", "App-webs/", "http")])
    assert v.brand == "Hikvision" and any("assumed" in n for n in v.notes)
    v = identify([ev("dhip.vendor", "Private", "dhip"), ev("dhip.device_class", "IPC", "dhip")])
    assert (v.maker, v.brand, v.device_type) == ("Dahua", None, "camera")


KEYS_UNDER_TEST = [
    "mac",
    "model",
    "http.server",
    "http.www_authenticate",
    "http.title",
    "http.body",
    "http.headers",
    "http.path.hik_usercheck",
    "rtsp.server",
    "rtsp.www_authenticate",
    "rtsp.sdp",
    "onvif.scope",
    "onvif.manufacturer",
    "mdns.instance",
    "sadp.model",
    "sadp.serial",
    "dhip.vendor",
    "dhip.model",
    "dahua.rpc2_realm",
    "tls.subject",
    "tcp.banner.8000",
    "http.response",
    "rtsp.response",
    "sadp.reply",
    "dhip.reply",
    "wsd.probe_match",
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(KEYS_UNDER_TEST),
            st.text(max_size=300),
            st.sampled_from(["", "http", "rtsp", "wsd"]),
        ),
        max_size=6,
    ),
    st.randoms(),
)
def test_any_evidence_gives_a_verdict_in_any_order(
    items: list[tuple[str, str, str]], rnd: random.Random
) -> None:
    evidence = expand(ev(k, v, s) for k, v, s in items)
    first = identify(evidence)
    rnd.shuffle(evidence)
    assert identify(evidence) == first
    assert first.device_type in {t.value for t in DeviceType}
    if first.confidence is Confidence.UNDETERMINED:
        assert first.maker is None and first.brand is None


def test_oem_brand_wins_over_the_platform_makers_own_name() -> None:
    v = identify(
        [
            ev("mac", "50:c7:bf:2b:2c:2d", "arp"),
            ev("onvif.scope", "onvif://www.onvif.org/name/VIGI-C340", "wsd"),
        ]
    )
    assert (v.maker, v.brand) == ("TP-Link", "VIGI")
    # an Intelbras-branded access point built by TP-Link (nmap: Intelbras WAP, TP-LINK made)
    v = identify(
        [
            ev("mac", "58:10:8c:66:77:88", "arp"),
            ev("http.www_authenticate", 'Basic realm="TP-LINK Wireless N Router WR841N"', "http"),
        ]
    )
    assert (v.maker, v.brand) == ("TP-Link", "Intelbras")


def test_mac_inside_a_reply_is_not_independent_of_it() -> None:
    name = ev("onvif.scope", "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I", "wsd")
    same_reply = identify([name, ev("wsd.epr_mac", "58:50:ed:1f:e3:85", "wsd")])
    assert (same_reply.maker, same_reply.confidence) == ("Hikvision", Confidence.LIKELY)
    by_arp = identify([name, ev("mac", "58:50:ed:1f:e3:85", "arp")])
    assert (by_arp.maker, by_arp.confidence) == ("Hikvision", Confidence.CONFIRMED)


def test_raw_keys_are_the_expanders_keys() -> None:
    from camscan import keys, rawkeys

    assert set(rawkeys.EXPANDERS) == keys.RAW_KEYS


def test_identify_reads_raw_input_and_leaves_plain_input_alone(tmp_path: Path) -> None:
    raw = {
        "host": "cam",
        "key": "http.response",
        "value": "HTTP/1.1 200 OK\r\nServer: App-webs/\r\n\r\n",
    }
    path = tmp_path / "raw.jsonl"
    path.write_text(json.dumps(raw) + "\n")
    result = CliRunner().invoke(app, ["identify", str(path)])
    verdict = json.loads(result.output)
    assert verdict["maker"] == "Hikvision"
    assert {m["key"] for m in verdict["decided_by"]} == {"http.server"}
