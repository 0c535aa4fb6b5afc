"""Lab devices with a recorded capture serve its bytes, not bytes built by camscan's own code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from camscan.discovery import dhip, sadp, ssdp
from camscan_lab.captures import capture_path
from camscan_lab.network import DEFAULT_SPEC
from camscan_lab.personalities import dhip as lab_dhip
from camscan_lab.personalities import sadp as lab_sadp
from camscan_lab.personalities import ssdp as lab_ssdp
from camscan_lab.spec import DeviceSpec, ServiceSpec, load_spec

SPEC = load_spec(DEFAULT_SPEC)
RECORDED = [(d, s) for d in SPEC.devices for s in d.services if "capture" in s.table]
SEARCH = dhip.build_packet(b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}\n')


def capture_bytes(name: str) -> bytes:
    """The file's bytes after its '# summary -- source' line, hex decoded: read here, not by
    the lab's own reader."""
    text = capture_path(name).read_bytes()
    assert text.startswith(b"# ")
    body = text.split(b"\n", 1)[1]
    return bytes.fromhex(body.decode()) if name.endswith(".hex") else body


def test_the_office_lab_serves_recorded_replies() -> None:
    assert {(d.name, s.kind) for d, s in RECORDED} >= {
        ("dahua-cam-yard", "dhip"),
        ("hik-cam-lobby", "sadp"),
    }


@pytest.mark.parametrize(
    ("device", "service"),
    [(d, s) for d, s in RECORDED if s.kind == "dhip"],
    ids=lambda x: getattr(x, "name", ""),
)
def test_a_recorded_dhip_device_answers_with_the_capture_byte_for_byte(
    device: DeviceSpec, service: ServiceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = capture_bytes(service.table["capture"])
    # Not one byte may come from camscan's own packet builder.
    monkeypatch.setattr(lab_dhip, "dhip_packet", lambda *a: pytest.fail("built, not recorded"))
    sender = ("198.18.0.2", 37810)
    assert lab_dhip.answer_search(service.table, SEARCH, sender) == [(capture, sender)]


@pytest.mark.parametrize(
    ("device", "service"),
    [(d, s) for d, s in RECORDED if s.kind == "sadp"],
    ids=lambda x: getattr(x, "name", ""),
)
def test_a_recorded_sadp_device_answers_with_the_capture_byte_for_byte(
    device: DeviceSpec, service: ServiceSpec
) -> None:
    capture = capture_bytes(service.table["capture"])
    recorded_uuid = sadp.parse_probe_match(capture).get("Uuid")
    assert recorded_uuid
    # Asked with the recorded inquiry's UUID, the device echoes it: the reply is the capture.
    inquiry = f"<Probe><Uuid>{recorded_uuid}</Uuid><Types>inquiry</Types></Probe>".encode()
    ((reply, _),) = lab_sadp.answer_inquiry(service.table, inquiry, ("198.18.0.2", 37020))
    assert reply == capture
    # Asked with another UUID, only the <Uuid> element differs.
    other = lab_sadp.answer_inquiry(service.table, sadp.build_inquiry("ABC-1"), ("x", 1))
    assert other[0][0] == capture.replace(recorded_uuid.encode(), b"ABC-1", 1)


def test_no_personality_takes_protocol_facts_from_camscans_own_modules() -> None:
    # Constants, builders and parsers the lab shared with the scanner would agree with it
    # even where both are wrong: the personalities state the protocols themselves.
    personalities = Path(lab_dhip.__file__).parent
    shared = []
    for path in sorted(personalities.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("camscan."):
                shared.append(f"{path.name}: {node.module}")
            elif isinstance(node, ast.Import):
                shared += [
                    f"{path.name}: {a.name}" for a in node.names if a.name.startswith("camscan.")
                ]
    assert shared == []


@pytest.mark.parametrize("name", ["ipc-hdw1431t1-s4.hex", "ipc-hdw5421s.hex", "lorex-w461asc.hex"])
def test_the_labs_dhip_header_is_the_recorded_devices_header(name: str) -> None:
    recorded = capture_bytes(f"dhip/{name}")
    assert lab_dhip.dhip_packet(recorded[32:]) == recorded


def test_the_lab_reads_camscans_msearch_as_strictly_as_a_device() -> None:
    assert lab_ssdp.read_msearch(ssdp.build_msearch())
    good = ssdp.build_msearch().decode()
    for broken in (
        good.replace('"ssdp:discover"', "ssdp:discover"),  # MAN unquoted
        good.replace("\r\n", "\n"),  # bare LF lines
        good.replace("M-SEARCH", "M-SEARCH2"),
        good.replace("MX: ", "MX-: "),
    ):
        assert lab_ssdp.read_msearch(broken.encode()) is None, broken
