"""Lab devices with a recorded capture serve its bytes, not bytes built by camscan's own code."""

from __future__ import annotations

import pytest

from camscan.discovery import dhip, sadp
from camscan_lab.captures import capture_path
from camscan_lab.network import DEFAULT_SPEC
from camscan_lab.personalities import dhip as lab_dhip
from camscan_lab.personalities import sadp as lab_sadp
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
    assert {(d.name, s.kind) for d, s in RECORDED} >= {("dahua-cam-yard", "dhip"),
                                                       ("hik-cam-lobby", "sadp")}


@pytest.mark.parametrize(("device", "service"), [(d, s) for d, s in RECORDED if s.kind == "dhip"],
                         ids=lambda x: getattr(x, "name", ""))
def test_a_recorded_dhip_device_answers_with_the_capture_byte_for_byte(
        device: DeviceSpec, service: ServiceSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    capture = capture_bytes(service.table["capture"])
    # Not one byte may come from camscan's own packet builder.
    monkeypatch.setattr(lab_dhip, "build_packet", lambda *a: pytest.fail("built, not recorded"))
    sender = ("198.18.0.2", 37810)
    assert lab_dhip.answer_search(service.table, SEARCH, sender) == [(capture, sender)]


@pytest.mark.parametrize(("device", "service"), [(d, s) for d, s in RECORDED if s.kind == "sadp"],
                         ids=lambda x: getattr(x, "name", ""))
def test_a_recorded_sadp_device_answers_with_the_capture_byte_for_byte(
        device: DeviceSpec, service: ServiceSpec) -> None:
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
