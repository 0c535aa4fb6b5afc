"""End to end: `camscan scan` run inside the lab's scanner namespace, judged by the spec's truth."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from camscan.models import TARGET_MAKERS
from camscan.output.document import uncited
from camscan.output.schema import validate_document, validate_ndjson_line
from camscan_lab.network import Lab

pytestmark = pytest.mark.lab


def scan_argv(lab: Lab, *extra: str) -> list[str]:
    return [
        "ip",
        "netns",
        "exec",
        lab.scanner_netns,
        sys.executable,
        "-m",
        "camscan",
        "scan",
        lab.spec.scan_subnet,
        "--interface",
        lab.scanner_interface,
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def scan_doc(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("scan") / "scan.json"
    t = time.monotonic()
    proc = subprocess.run(
        scan_argv(lab, "-o", str(out)), capture_output=True, text=True, timeout=120
    )
    elapsed = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "", "with -o nothing goes to stdout"
    doc: dict[str, Any] = json.loads(out.read_text())
    doc["_elapsed"] = elapsed
    return doc


def by_ip(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["ip"]: d for d in doc["devices"]}


def test_document_is_schema_valid_and_complete(scan_doc: dict[str, Any]) -> None:
    doc = dict(scan_doc)
    doc.pop("_elapsed")
    validate_document(doc)
    assert doc["complete"] is True
    assert doc["scope"]["targets"] == ["198.18.0.0/24"]
    assert doc["scope"]["address_count"] == 254


def test_every_device_found_with_its_mac(lab: Lab, scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    missing = [d.name for d in lab.spec.devices if d.ip not in found]
    assert missing == []
    wrong_mac = [
        (d.name, found[d.ip]["mac"]) for d in lab.spec.devices if found[d.ip]["mac"] != d.mac
    ]
    assert wrong_mac == []
    spec_ips = {d.ip for d in lab.spec.devices}
    assert set(found) - spec_ips == set(), "no phantom hosts"


def test_maker_and_brand_match_the_truth(lab: Lab, scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    wrong = []
    for dev in lab.spec.devices:
        v = found[dev.ip]["verdict"]
        want = (dev.expect.get("maker"), dev.expect.get("brand"))
        if (v["maker"], v["brand"]) != want:
            wrong.append((dev.name, want, (v["maker"], v["brand"])))
    assert wrong == []


def test_no_device_is_given_a_wrong_type(lab: Lab, scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    wrong = []
    right = 0
    for dev in lab.spec.devices:
        got = found[dev.ip]["verdict"]["device_type"]
        if got == "unknown":
            continue  # not knowing is honest; naming the wrong type is not
        if got != dev.expect["type"]:
            wrong.append((dev.name, dev.expect["type"], got))
        else:
            right += 1
    assert wrong == []
    target_devices = [d for d in lab.spec.devices if d.expect.get("maker") in TARGET_MAKERS]
    assert right >= len(target_devices) - 3


def test_no_negative_is_called_hikvision_or_dahua(lab: Lab, scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    false_positives = [
        d.name
        for d in lab.spec.devices
        if d.expect.get("maker") not in TARGET_MAKERS
        and found[d.ip]["verdict"]["maker"] in TARGET_MAKERS
    ]
    assert false_positives == []


def test_outside_scope_devices_are_flagged(lab: Lab, scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    for dev in lab.spec.devices:
        assert found[dev.ip]["outside_scope"] is bool(dev.table.get("outside_scope"))
    assert scan_doc["summary"]["outside_scope"] == 2


def test_hostile_devices_are_reported_and_the_scan_stays_in_budget(
    lab: Lab, scan_doc: dict[str, Any]
) -> None:
    found = by_ip(scan_doc)
    for dev in lab.spec.devices:
        if dev.role == "hostile":
            assert found[dev.ip]["errors"], f"{dev.name} should say what went wrong"
    # Discovery window (2.5 s) + banners, with the start-up of a Python process.
    assert scan_doc["_elapsed"] < 20


def test_every_item_a_verdict_cites_is_in_the_device_evidence(scan_doc: dict[str, Any]) -> None:
    cited = sum(len(d["verdict"]["decided_by"]) for d in scan_doc["devices"])
    missing = {
        d["ip"]: [f"{m['key']}={m['value'][:40]!r}" for m in uncited(d)]
        for d in scan_doc["devices"]
        if uncited(d)
    }
    assert cited > 100 and missing == {}


def test_offline_identify_agrees_with_the_live_verdicts(scan_doc: dict[str, Any]) -> None:
    lines = [
        json.dumps(
            {
                "host": d["ip"],
                "key": ev["key"],
                "value": ev["value"],
                "source": ev["source"],
                "port": ev["port"],
            }
        )
        for d in scan_doc["devices"]
        for ev in d["evidence"]
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "camscan", "identify"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    offline = {v["host"]: v for v in map(json.loads, proc.stdout.splitlines())}
    for d in scan_doc["devices"]:
        live = d["verdict"]
        off = offline[d["ip"]]
        assert (off["maker"], off["brand"], off["confidence"]) == (
            live["maker"],
            live["brand"],
            live["confidence"],
        ), d["ip"]


def _interrupt(argv: list[str], after_s: float, out: Path) -> int:
    with out.open("w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.PIPE, text=True)
        time.sleep(after_s)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = proc.communicate(timeout=60)
        acted = time.monotonic() - sent
    assert "Traceback" not in err
    # The promise is about 1 s; the bound is loose so a loaded machine does not fail it, while
    # a loop stalled by one device's evidence (minutes, before linear-time matching) would.
    assert acted < 10, f"the interrupt took {acted:.1f} s to end the scan"
    return proc.returncode


def test_sigint_mid_scan_leaves_a_valid_incomplete_json_document(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "stdout.json"
    # Interrupt during the discovery window, after the ARP sweep has answers.
    code = _interrupt(scan_argv(lab, "--window", "10"), 4.5, out)
    assert code == 1
    doc = json.loads(out.read_text())
    validate_document(doc)
    assert doc["complete"] is False
    assert len(doc["devices"]) >= 40, "what the sweep found before the interrupt is kept"


def test_sigint_mid_scan_leaves_a_valid_ndjson_stream(lab: Lab, tmp_path: Path) -> None:
    out = tmp_path / "stream.ndjson"
    code = _interrupt(scan_argv(lab, "--format", "ndjson", "--window", "10"), 4.5, out)
    assert code == 1
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for line in lines:
        validate_ndjson_line(line)
    assert lines[0]["type"] == "header"
    assert lines[-1]["type"] == "summary" and lines[-1]["complete"] is False
    assert sum(1 for line in lines if line["type"] == "device") >= 40


def test_fail_on_found_exits_3(lab: Lab) -> None:
    proc = subprocess.run(
        scan_argv(lab, "--probes", "sadp", "--window", "1", "--fail-on-found"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["hikvision"] >= 1


def test_without_cap_net_raw_the_scan_refuses_in_one_line(lab: Lab) -> None:
    argv = scan_argv(lab)
    inner = " ".join(argv[4:])  # after `ip netns exec NS`
    proc = subprocess.run(
        [*argv[:4], "capsh", "--drop=cap_net_raw", "--", "-c", inner],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip() == (
        "camscan: error: ARP sweep needs root or CAP_NET_RAW (raw AF_PACKET socket)"
    )


def _evidence(device: dict[str, Any], key: str) -> list[str]:
    return [ev["value"] for ev in device["evidence"] if ev["key"] == key]


def test_records_naming_other_addresses_stay_notes_on_their_sender(
    scan_doc: dict[str, Any],
) -> None:
    found = by_ip(scan_doc)
    assert "198.18.0.250" not in found and "198.18.0.2" not in found  # free, the scanner's
    liar = found["198.18.0.98"]
    notes = _evidence(liar, "discovery.names_other")
    for named in ("198.18.0.250", "198.18.0.2", "198.18.0.11"):
        assert any(note.endswith(f"names {named}") for note in notes), (named, notes)
    assert "WS-Discovery XAddr http://198.18.0.11/onvif/device_service" in notes
    lobby = found["198.18.0.11"]  # the neighbour named: nothing of the liar's lands on it
    assert not [v for v in _evidence(lobby, "mdns.instance") if "00000000" in v]
    assert not _evidence(lobby, "discovery.names_other")


def test_unknown_xml_encodings_cost_their_sender_only(scan_doc: dict[str, Any]) -> None:
    found = by_ip(scan_doc)
    hostile = found["198.18.0.99"]
    assert not _evidence(hostile, "wsd.probe_match")  # unreadable: counted, not credited
    assert any("bad description XML" in e for e in _evidence(hostile, "probe.error"))
    assert scan_doc["stats"]["wsd"]["errors"] >= 1
    # SSDP went on: another device's description was fetched (and is read at identification).
    assert _evidence(found["198.18.0.60"], "upnp.description")


def test_a_redos_device_is_reported_like_any_other_host(scan_doc: dict[str, Any]) -> None:
    redos = by_ip(scan_doc)["198.18.0.97"]
    assert redos["verdict"]["maker"] is None
    answers = [
        ev["value"]
        for ev in redos["evidence"]
        if ev["key"] == "http.response" or ev["key"].startswith("http.path.")
    ]
    assert len(answers) >= 2
    assert all(a.startswith("HTTP/1.1 401 Unauthorized\r\nServer: redos\r\n") for a in answers)


def test_onvif_credentials_reach_only_attributed_cameras_signed_in_our_time(
    lab: Lab, tmp_path: Path
) -> None:
    import os

    from camscan_lab.personalities.hostile import token_log

    liar = lab.device("hostile-onvif")
    log = Path(token_log(liar.netns))
    log.unlink(missing_ok=True)
    out = tmp_path / "scan.json"
    env = {**os.environ, "CAMSCAN_ONVIF_PASSWORD": "lab-only-password"}
    proc = subprocess.run(
        scan_argv(lab, "-o", str(out), "--onvif-user", "admin"),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    found = by_ip(doc)
    sent_to = {ip for ip, d in found.items() if _evidence(d, "onvif.credentials_sent")}
    assert sent_to, "the attributed ONVIF cameras that refused us get the credentials"
    for ip in sent_to:
        v = found[ip]["verdict"]
        assert v["confidence"] in ("confirmed", "likely"), (ip, v)
        assert v["device_type"] in ("camera", "nvr/dvr"), (ip, v)
        assert any(
            note.startswith(f"credentials sent to {ip} ") for note in doc["stats"]["onvif"]["notes"]
        )
    # The device a day ahead is reported, gets no token, and no token is made in its time.
    offset = _evidence(found[liar.ip], "onvif.clock_offset")
    assert len(offset) == 1 and offset[0].startswith("+86") and "ahead" in offset[0]
    assert liar.ip not in sent_to
    assert not log.exists() or log.read_bytes() == b""
    assert "lab-only-password" not in out.read_text()
