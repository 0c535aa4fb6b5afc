"""Lab specs as data: loading, merging service files, one-line errors; filler plans; names."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan_lab import network
from camscan_lab.filler import (
    FILLER_OUIS,
    FILLER_SUBNET,
    MAX_FILLERS,
    macvlan_commands,
    plan_fillers,
)
from camscan_lab.network import DEFAULT_SPEC, is_lab_netns
from camscan_lab.personalities import PERSONALITIES
from camscan_lab.personality import Closer, LabHost, Serve
from camscan_lab.runner import Runner
from camscan_lab.spec import LAB_NETWORK, SpecError, load_spec

LAB = """
[lab]
scan_subnet = "198.18.0.0/24"
prefix_len = 15
scanner_ip = "198.18.0.2"
scanner_mac = "02:00:5e:10:00:02"
"""

CAM = """
[[device]]
name = "cam"
ip = "198.18.0.11"
mac = "44:19:B6:3A:10:01"
role = "camera"
expect = { maker = "Hikvision", brand = "Hikvision", type = "camera" }
"""

NVR = """
[[device]]
name = "nvr"
ip = "198.18.0.15"
mac = "4c:bd:8f:10:20:30"
role = "recorder"
"""

HTTP = """
[[service]]
device = "cam"
kind = "http"
port = 80
source = "http capture"
  [[service.response]]
  path = "/"
  status = "HTTP/1.1 200 OK"
  [[service.response]]
  path = "/doc/page/login.asp"
  status = "HTTP/1.1 200 OK"
"""

ONVIF = """
[[service]]
device = "cam"
kind = "http"
port = 80
source = "onvif capture"
  [[service.response]]
  method = "POST"
  path = "/onvif/device_service"
  status = "HTTP/1.1 200 OK"
  source = "its own provenance"
"""


def write(root: Path, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / f"{name}.toml").write_text(text)
    return root


def error_of(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    return message


# ---- the default office -------------------------------------------------------------------


def test_default_office_spec_loads_with_unique_lab_addresses() -> None:
    spec = load_spec(DEFAULT_SPEC)
    assert len(spec.devices) >= 40
    assert spec.scanner_ip == "198.18.0.2" and spec.settings.prefix_len == 15
    assert len({d.ip for d in spec.devices} | {spec.scanner_ip}) == len(spec.devices) + 1
    assert len({d.mac for d in spec.devices}) == len(spec.devices)
    assert all(ipaddress.IPv4Address(d.ip) in LAB_NETWORK for d in spec.devices)
    assert all(s.device == d.name for d in spec.devices for s in d.services)
    assert spec.device("hik-cam-lobby").expect["maker"] == "Hikvision"


# ---- directory specs and merging ----------------------------------------------------------


def test_services_from_several_files_merge_by_device_kind_and_port(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, devices=LAB + CAM + NVR, http=HTTP, onvif=ONVIF))
    cam = spec.device("cam")
    assert cam.mac == "44:19:b6:3a:10:01"  # normalised
    (svc,) = cam.services
    assert (svc.kind, svc.port) == ("http", 80)
    assert [r["path"] for r in svc.table["response"]] == [
        "/",
        "/doc/page/login.asp",
        "/onvif/device_service",
    ]  # devices.toml, http, onvif order
    assert [r["source"] for r in svc.table["response"]] == [
        "http capture",
        "http capture",
        "its own provenance",
    ]
    assert [Path(f).name for f in svc.files] == ["http.toml", "onvif.toml"]
    assert spec.device("nvr").services == ()


def test_any_array_of_tables_merges_but_scalars_must_agree(tmp_path: Path) -> None:
    mdns = (
        '[[service]]\ndevice = "cam"\nkind = "mdns"\nport = 5353\nsource = "{src}"\n'
        'txt = ["a=1"]\n  [[service.instance]]\n  name = "{name}"\n'
    )
    spec = load_spec(
        write(
            tmp_path,
            devices=LAB + CAM,
            a=mdns.format(src="one", name="x"),
            b=mdns.format(src="two", name="y"),
        )
    )
    (svc,) = spec.device("cam").services
    assert svc.table["instance"] == [{"source": "one", "name": "x"}, {"source": "two", "name": "y"}]
    assert svc.table["response"] == [] and svc.table["txt"] == ["a=1"]
    (tmp_path / "b.toml").write_text(mdns.format(src="two", name="y").replace("a=1", "a=2"))
    assert "'txt' conflicts" in error_of(tmp_path)


def test_same_kind_on_another_port_is_another_service(tmp_path: Path) -> None:
    other = ONVIF.replace("port = 80", "port = 8080")
    spec = load_spec(write(tmp_path, devices=LAB + CAM, http=HTTP, onvif=other))
    assert sorted(s.port for s in spec.device("cam").services) == [80, 8080]


def test_kinds_nobody_has_written_yet_load_fine(tmp_path: Path) -> None:
    future = '[[service]]\ndevice = "cam"\nkind = "teleport"\nport = 4242\n'
    spec = load_spec(write(tmp_path, devices=LAB + CAM, future=future))
    assert [s.kind for s in spec.device("cam").services] == ["teleport"]


def test_one_file_spec(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text(LAB + CAM + NVR + HTTP)
    spec = load_spec(path)
    assert [d.name for d in spec.devices] == ["cam", "nvr"] and spec.path == path


def test_conflicting_service_settings_name_both_files(tmp_path: Path) -> None:
    tls = ONVIF.replace('source = "onvif capture"', "tls = true")
    base = HTTP.replace('source = "http capture"', "tls = false")
    message = error_of(write(tmp_path, devices=LAB + CAM, http=base, onvif=tls))
    assert "onvif.toml" in message and "http.toml" in message and "'cam'" in message
    assert "'tls'" in message


# ---- one-line errors naming file and device -----------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"devices": LAB + CAM.replace("198.18.0.11", "10.0.0.11")},
            ["devices.toml", "'cam'", "outside the lab range"],
        ),
        ({"devices": LAB + CAM.replace("198.18.0.11", "not-an-ip")}, ["'cam'", "not an IPv4"]),
        (
            {"devices": LAB + CAM.replace("44:19:B6:3A:10:01", "45:19:b6:3a:10:01")},
            ["'cam'", "multicast"],
        ),
        ({"devices": LAB + CAM.replace("44:19:B6:3A:10:01", "44:19:b6")}, ["'cam'", "not a MAC"]),
        (
            {"devices": LAB + CAM + NVR.replace("198.18.0.15", "198.18.0.11")},
            ["'nvr'", "198.18.0.11", "'cam'"],
        ),
        (
            {"devices": LAB + CAM + NVR.replace("4c:bd:8f:10:20:30", "44:19:b6:3a:10:01")},
            ["'nvr'", "mac"],
        ),
        ({"devices": LAB + CAM.replace("198.18.0.11", "198.18.0.2")}, ["'cam'", "scanner"]),
        (
            {"devices": LAB + CAM + CAM.replace("198.18.0.11", "198.18.0.12")},
            ["'cam'", "defined twice"],
        ),
        ({"devices": LAB + CAM.replace('name = "cam"', 'name = "bad/name"')}, ["'bad/name'"]),
        (
            {"devices": LAB + CAM, "http": HTTP.replace('device = "cam"', 'device = "ghost"')},
            ["http.toml", "unknown device 'ghost'"],
        ),
        (
            {"devices": LAB + CAM, "http": HTTP.replace("port = 80", "port = 0")},
            ["http.toml", "'cam'", "port"],
        ),
        (
            {"devices": LAB + CAM, "http": HTTP.replace('kind = "http"', "kind = 3")},
            ["http.toml", "'cam'", "kind"],
        ),
        (
            {
                "devices": LAB + CAM,
                "x": '[[service]]\ndevice = "cam"\nkind = "tcp"\nport = 1\nresponse = "oops"\n',
            },
            ["x.toml", "'cam'", "response"],
        ),
        ({"devices": CAM}, ["devices.toml", "[lab]"]),
        ({"devices": LAB + CAM, "more": LAB}, ["more.toml", "second [lab]"]),
        ({"devices": LAB.replace('"198.18.0.2"', '"198.18.0.2.9"') + CAM}, ["[lab]", "scanner"]),
        ({"devices": LAB.replace("prefix_len = 15", "prefix_len = 8") + CAM}, ["wider"]),
        ({"devices": LAB + CAM, "bad": "[[service]\n"}, ["bad.toml", "invalid TOML"]),
        ({"http": HTTP}, ["no devices.toml"]),
        ({"devices": LAB}, ["no [[device]]"]),
    ],
)
def test_bad_specs_fail_with_one_line_naming_file_and_device(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    message = error_of(write(tmp_path, **files))
    for part in expected:
        assert part in message, message


def test_missing_path(tmp_path: Path) -> None:
    assert "no such spec" in error_of(tmp_path / "nope")


_values = st.one_of(
    st.text(max_size=20),
    st.integers(-5, 70000),
    st.booleans(),
    st.lists(st.integers(0, 3), max_size=2),
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    return str(value).replace("'", '"')


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["name", "ip", "mac", "role", "prefix_len", "expect", "port", "kind", "device"]
        ),
        _values,
        max_size=6,
    ),
    garbage=st.binary(max_size=40),
)
def test_any_device_or_service_values_give_a_spec_or_a_spec_error(
    fields: dict[str, object], garbage: bytes
) -> None:
    body = "".join(f"{k} = {_toml(v)}\n" for k, v in fields.items())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "devices.toml").write_text(LAB + CAM + "[[device]]\n" + body)
        (root / "svc.toml").write_text("[[service]]\n" + body)
        (root / "raw.toml").write_bytes(garbage)
        try:
            load_spec(root)
        except SpecError as exc:
            assert "\n" not in str(exc)


# ---- filler plans -------------------------------------------------------------------------


def test_fillers_fill_a_24_then_the_22() -> None:
    hosts = plan_fillers(1000)
    assert [h.ip for h in hosts[:254]] == [f"198.18.4.{i}" for i in range(1, 255)]
    assert hosts[254].ip == "198.18.5.1"
    assert all(ipaddress.IPv4Address(h.ip) in FILLER_SUBNET for h in hosts)
    assert len({h.mac for h in hosts}) == 1000 and len({h.ifname for h in hosts}) == 1000
    assert {h.mac[:8] for h in hosts} == set(FILLER_OUIS)
    assert all(int(h.mac[:2], 16) & 3 == 0 for h in hosts)  # globally administered unicast


def test_fillers_skip_addresses_the_spec_uses() -> None:
    hosts = plan_fillers(3, taken_ips={"198.18.4.2"})
    assert [h.ip for h in hosts] == ["198.18.4.1", "198.18.4.3", "198.18.4.4"]
    with pytest.raises(ValueError):
        plan_fillers(MAX_FILLERS + 1)
    with pytest.raises(ValueError):
        plan_fillers(1, taken_macs={plan_fillers(1)[0].mac})


def test_each_macvlan_filler_gets_its_own_mac_address_and_reply_route() -> None:
    hosts = plan_fillers(2)
    lines = macvlan_commands(hosts)
    assert (
        f"link add link eth0 name m1 address {hosts[1].mac} type macvlan mode bridge "
        "bcqueuelen 10000"
    ) in lines
    assert f"addr add {hosts[1].ip}/15 dev m1 noprefixroute" in lines
    assert f"addr add {hosts[0].ip}/15 dev m0" in lines
    assert f"rule add from {hosts[1].ip} table 1001 pref 1001" in lines


def test_input_lookups_skip_the_fillers_reply_rules() -> None:
    # An ARP request for an address no filler holds reaches every filler; each input lookup
    # walked every per-filler rule before: quadratic in the fillers, per request.
    hosts = plan_fillers(3)
    lines = macvlan_commands(hosts)
    skip = "rule add not iif lo table main pref 999"
    assert skip in lines
    prefs = [int(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("rule add from")]
    assert prefs and min(prefs) > 999


# ---- namespace names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("camscan-hub", True),
        ("camscan-scanner", True),
        ("camscan-d-hik-cam-lobby", True),
        ("camscan-fill", True),
        ("camscan-fill-17", True),
        ("camscan-test-1234", False),
        ("camscan-t99-hub", False),
        ("other-hub", False),
        ("camscan-", False),
    ],
)
def test_down_only_touches_this_prefixs_namespaces(name: str, ours: bool) -> None:
    assert is_lab_netns("camscan-", name) is ours


# ---- neighbour-table limits ---------------------------------------------------------------


@pytest.fixture
def gc_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, ...]:
    files = tuple(tmp_path / f"gc_thresh{i}" for i in (1, 2, 3))
    for f, value in zip(files, (128, 512, 1024), strict=True):
        f.write_text(f"{value}\n")
    monkeypatch.setattr(network, "GC_THRESH", files)
    return files


def _gc_values(files: tuple[Path, ...]) -> list[int]:
    return [int(f.read_text()) for f in files]


def test_many_hosts_raise_the_neighbour_limits_and_down_restores_them(
    gc_files: tuple[Path, ...],
) -> None:
    record = network._raise_gc_thresh(1055)
    assert record["state"] == "raised" and record["saved"] == [128, 512, 1024]
    raised = _gc_values(gc_files)
    assert raised == record["set"] and raised[0] >= 2 * 1055 and raised[0] <= raised[1] <= raised[2]
    assert "raised" in network._describe_gc(record)
    network._restore_gc_thresh(record)
    assert _gc_values(gc_files) == [128, 512, 1024]


def test_few_hosts_leave_the_limits_alone(gc_files: tuple[Path, ...]) -> None:
    record = network._raise_gc_thresh(55)
    assert record["state"] == "enough" and _gc_values(gc_files) == [128, 512, 1024]
    network._restore_gc_thresh(record)
    assert _gc_values(gc_files) == [128, 512, 1024]


def test_limits_changed_by_someone_else_are_not_restored(gc_files: tuple[Path, ...]) -> None:
    record = network._raise_gc_thresh(2000)
    gc_files[2].write_text("99999\n")
    network._restore_gc_thresh(record)
    assert _gc_values(gc_files)[2] == 99999


def test_unwritable_limits_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(network, "GC_THRESH", tuple(tmp_path / f"absent{i}" for i in (1, 2, 3)))
    record = network._raise_gc_thresh(1055)
    assert record["state"] == "not-writable"
    assert "not writable" in network._describe_gc(record) and "ARP" in network._describe_gc(record)
    network._restore_gc_thresh(record)  # nothing to do, no error


# ---- the runner's personality loading, without a network ----------------------------------


def _host() -> LabHost:
    def no_socket(family: int, type: int, proto: int) -> socket.socket:
        raise AssertionError("a skipped personality made a socket")

    def no_spawn(argv: Sequence[str]) -> int:
        raise AssertionError("a skipped personality spawned a process")

    return LabHost(
        name="cam",
        ip="198.18.0.11",
        mac="44:19:b6:3a:10:01",
        ifname="eth0",
        netns="x-d-cam",
        prefix_len=15,
        device={},
        make_socket=no_socket,
        spawn=no_spawn,
    )


async def _fails_to_start(host: LabHost, table: Mapping[str, Any]) -> Closer:
    raise TypeError("no port")


@pytest.mark.parametrize(
    ("register", "why"),
    [
        (False, "no personality registered for kind 'csa-kind'"),
        (True, "failed to start: TypeError: no port"),
    ],
)
def test_runner_skips_a_personality_that_is_missing_or_fails(
    register: bool, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if register:
        serve: Serve = _fails_to_start
        monkeypatch.setitem(PERSONALITIES, "csa-kind", serve)
    spec = load_spec(
        write(
            tmp_path,
            devices=LAB + CAM,
            svc='[[service]]\ndevice = "cam"\nkind = "csa-kind"\nport = 1\n',
        )
    )
    runner = Runner(network.Lab(spec, "csa-unit-"), tmp_path)
    asyncio.run(runner.start(_host(), spec.device("cam").services[0]))
    assert runner.closers == [] and runner.report["started"] == []
    (skipped,) = runner.report["skipped"]
    assert skipped["service"] == "cam csa-kind/1" and why in skipped["error"]


@pytest.mark.parametrize("kind", ["dhip", "sadp"])
def test_a_service_naming_a_missing_capture_is_skipped_at_start(kind: str, tmp_path: Path) -> None:
    svc = f'[[service]]\ndevice = "cam"\nkind = "{kind}"\nport = 1\ncapture = "{kind}/no.hex"\n'
    spec = load_spec(write(tmp_path, devices=LAB + CAM, svc=svc))
    runner = Runner(network.Lab(spec, "csa-unit-"), tmp_path)
    asyncio.run(runner.start(_host(), spec.device("cam").services[0]))  # _host: no sockets
    (skipped,) = runner.report["skipped"]
    assert "failed to start: FileNotFoundError" in skipped["error"]


def test_lab_status_tells_what_the_personalities_told() -> None:
    from camscan_lab.cli import describe

    status = network.LabStatus(
        prefix="x-",
        state_dir="/run/camscan-lab/x-",
        up=True,
        phase="up",
        spec="office",
        namespaces=(),
        expected_namespaces=0,
        devices=1,
        fillers=0,
        filler_mode=None,
        runner_pid=None,
        runner_alive=False,
        runner_peak_rss_kb=None,
        services_started=1,
        services_skipped=(),
        notices=("cam: avahi-daemon is not installed: stand-in",),
        gc_thresh="",
        up_seconds=None,
        network_seconds=None,
    )
    assert "  note:       cam: avahi-daemon is not installed: stand-in" in describe(status)
