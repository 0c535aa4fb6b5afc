"""Real public captures, read in place from the Debian package that ships them.

The repository holds no fetched capture: `scripts/install-system-deps --test` installs Debian's
`golang-github-gopacket-gopacket-dev` (Go source only, no compiler), whose test data includes
captures of real traffic, and these tests read them where the package puts them:

- `pcap/test_ethernet.pcap`: an HTTP exchange with a GoAhead-Webs embedded web server (a
  302 to /login.asp), captured in 2017 for gopacket's libpcap tests;
- `pcap/test_dns.pcap`: unicast DNS queries and answers (a protocol camscan does not read);
- `pcap/test_loopback.pcap`: HTTP over IPv6 on a BSD loopback interface (link type NULL);
- `pcapgo/tests/{le,be}/test*.pcapng`: the pcapng test suite (pcapng-test-generator), both
  byte orders, whose packets are the DHCP exchange of Wireshark's sample `dhcp.pcap` (client
  00:0b:82:01:fc:42) and, in test300, a TLS 1.2 handshake with baidu.com's certificate chain.

Source: https://github.com/gopacket/gopacket (pcap/, pcapgo/tests/), BSD licence; Debian
package golang-github-gopacket-gopacket-dev 1.0.0-1 (bookworm).

`scripts/fetch-test-captures` (run by .ci/run) unpacks the upstream tarball of Debian's
`tcpdump` source package (4.99.3 in bookworm; https://www.tcpdump.org, BSD licence), whose
tests/ holds 667 captures: real LLDP and CDP from Cisco Catalyst 3560 switches
(LLDP_and_CDP.pcap, 3560_CDP.pcap), DHCP (dhcp-rfc3004/4388/5859, a relayed request in
dhcp-mud.pcap), IPv6 with extension headers, and files made to crash dissectors
(*-oobr, *-heapoverflow, *-infinite-loop, *_asan).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from camscan.models import Device
from camscan.passive.session import CaptureRun

ROOT = Path("/usr/share/gocode/src/github.com/gopacket/gopacket")
FETCHED = Path(os.environ.get("CAMSCAN_TEST_CAPTURES", "/var/cache/camscan/test-captures"))
TARGET_MAKERS = {"Hikvision", "Dahua"}


@pytest.fixture(scope="module")
def gopacket() -> Path:
    if not (ROOT / "pcap" / "test_ethernet.pcap").is_file():
        if os.environ.get("CI"):
            pytest.fail(
                "golang-github-gopacket-gopacket-dev not installed: "
                "scripts/install-system-deps --test installs it"
            )
        pytest.skip("Debian's golang-github-gopacket-gopacket-dev is not installed")
    return ROOT


@pytest.fixture(scope="module")
def tcpdump_tests() -> Path:
    found = sorted(FETCHED.glob("tcpdump-*/tests"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail(
                f"no tcpdump test captures under {FETCHED}: run scripts/fetch-test-captures"
            )
        pytest.skip(
            f"tcpdump's test captures are not fetched ({FETCHED}): scripts/fetch-test-captures"
        )
    return found[-1]


def read(*paths: Path) -> tuple[CaptureRun, dict[str, Device]]:
    run = CaptureRun([str(p) for p in paths])
    result = run.run()
    assert not run.errors, run.errors
    return run, {d.ip: d for d in result.devices}


def keys(dev: Device) -> set[str]:
    return {ev.key for ev in dev.evidence}


def no_camera_maker(devices: dict[str, Device]) -> None:
    for dev in devices.values():
        assert dev.verdict.maker not in TARGET_MAKERS, (dev.ip, dev.verdict)


def test_goahead_http_reply_is_read_and_names_no_maker(gopacket: Path) -> None:
    run, devices = read(gopacket / "pcap" / "test_ethernet.pcap")
    assert run.hearing.packets == {"http": 1, "tcp": 1}
    (dev,) = devices.values()
    assert (dev.ip, dev.mac) == ("10.1.1.1", "c4:39:3a:02:a9:2a")
    values = {ev.key: ev.value for ev in dev.evidence}
    assert values["http.server"] == "GoAhead-Webs"
    assert values["http.location"] == "http://10.1.1.1/login.asp"
    assert values["http.status"].startswith("HTTP/1.0 302")
    assert {"tcp.open.80", "http.response"} <= keys(dev)
    # GoAhead also serves many cheap cameras' web UIs: it alone must name no maker.
    assert dev.verdict.maker is None and dev.verdict.confidence.value == "undetermined"


def test_unicast_dns_is_not_read_and_makes_no_device(gopacket: Path) -> None:
    run, devices = read(gopacket / "pcap" / "test_dns.pcap")
    assert run.reports[0].packets == 10
    assert devices == {} and not run.hearing.packets


@pytest.mark.parametrize("order", ["le", "be"])
def test_dhcp_client_of_wiresharks_sample(gopacket: Path, order: str) -> None:
    run, devices = read(gopacket / "pcapgo" / "tests" / order / "test001.pcapng")
    # Discover and Request from the client; the server's Offer and ACK describe no client.
    assert run.hearing.packets == {"dhcp": 2}
    (dev,) = devices.values()
    assert (dev.ip, dev.mac) == ("192.168.0.10", "00:0b:82:01:fc:42")
    assert {ev.value for ev in dev.evidence if ev.key == "dhcp.param_list"} == {"1,3,6,42"}
    no_camera_maker(devices)


def test_every_pcapng_test_file_reads_alike_in_both_byte_orders(gopacket: Path) -> None:
    tests = gopacket / "pcapgo" / "tests"
    names = sorted(p.name for p in (tests / "be").glob("test*.pcapng"))
    assert len(names) >= 25
    for name in names:
        le_run, le = read(tests / "le" / name)
        be_run, be = read(tests / "be" / name)
        assert le_run.reports[0].packets == be_run.reports[0].packets, name
        assert {ip: sorted(map(str, d.evidence)) for ip, d in le.items()} == {
            ip: sorted(map(str, d.evidence)) for ip, d in be.items()
        }, name
        no_camera_maker(le)


def test_tls_certificate_of_a_real_server(gopacket: Path) -> None:
    run, devices = read(gopacket / "pcapgo" / "tests" / "le" / "test300.pcapng")
    assert run.hearing.packets["tls"] == 1
    (dev,) = devices.values()
    values = {ev.key: ev.value for ev in dev.evidence}
    assert dev.ip == "112.80.248.76"
    assert values["tls.subject"].startswith("CN=baidu.com,O=Beijing Baidu Netcom")
    assert values["tls.issuer"] == "CN=GlobalSign RSA OV SSL CA 2018,O=GlobalSign nv-sa,C=BE"
    assert (values["tls.not_before"], values["tls.not_after"]) == (
        "2022-07-05T05:16:02Z",
        "2023-08-06T05:16:01Z",
    )
    assert "tcp.open.443" in keys(dev)
    no_camera_maker(devices)


def test_http_over_ipv6_on_a_bsd_loopback(gopacket: Path) -> None:
    """Link type NULL, IPv6, TCP: a Go web server's page on [::1]:8080, read like any reply."""
    _, devices = read(gopacket / "pcap" / "test_loopback.pcap")
    (dev,) = devices.values()
    assert dev.ip == "::1" and dev.mac is None  # a loopback capture carries no MAC
    values = {ev.key: ev.value for ev in dev.evidence}
    assert values["http.title"] == "gopacket - The Go Programming Language"
    assert values["http.status"] == "HTTP/1.1 200 OK"
    assert "tcp.open.8080" in values
    no_camera_maker(devices)


def test_every_tcpdump_test_capture_is_read_and_none_names_a_camera_maker(
    tcpdump_tests: Path,
) -> None:
    """Hundreds of real and hostile captures: no exception, no false Hikvision or Dahua."""
    files = sorted([*tcpdump_tests.glob("*.pcap"), *tcpdump_tests.glob("*.pcapng")])
    assert len(files) >= 600
    heard = 0
    for path in files:
        run = CaptureRun([str(path)])
        result = run.run()  # damage is a problem or an error line, never an exception
        heard += len(result.devices)
        for dev in result.devices:
            assert dev.verdict.maker not in TARGET_MAKERS, (path.name, dev.ip, dev.verdict)
    assert heard > 100  # the corpus is real traffic: ARP, DHCP, LLDP, CDP, HTTP were heard


def test_lldp_and_cdp_of_two_cisco_switches(tcpdump_tests: Path) -> None:
    run, devices = read(tcpdump_tests / "LLDP_and_CDP.pcap")
    assert run.hearing.packets == {"cdp": 4, "lldp": 8}
    assert set(devices) == {"00:18:ba:98:68:8f", "00:19:2f:a7:b2:8d"}  # no management address
    s1 = {ev.key: ev.value for ev in devices["00:18:ba:98:68:8f"].evidence}
    assert s1["lldp.system_name"] == "S1.cisco.com"
    assert s1["cdp.device_id"] == "S1"
    assert s1["cdp.platform"] == "cisco WS-C3560-24TS"
    assert s1["lldp.system_description"].startswith("Cisco IOS Software, C3560 Software")
    no_camera_maker(devices)


def test_cdp_with_a_management_address(tcpdump_tests: Path) -> None:
    _, devices = read(tcpdump_tests / "3560_CDP.pcap")
    (dev,) = devices.values()
    assert (dev.ip, dev.mac) == ("192.168.0.1", "00:19:06:ea:b8:85")
    values = {ev.key: ev.value for ev in dev.evidence}
    assert (values["cdp.device_id"], values["cdp.platform"]) == ("Switch", "cisco WS-C3560G-24PS")


def test_relayed_dhcp_request_names_the_client(tcpdump_tests: Path) -> None:
    """A Raspberry Pi's request relayed by a Cisco router: the Pi's address, not the relay's."""
    _, devices = read(tcpdump_tests / "dhcp-mud.pcap")
    (dev,) = devices.values()
    assert (dev.ip, dev.mac) == ("62.12.173.123", "b8:27:eb:b8:53:c8")
    values = {ev.key: ev.value for ev in dev.evidence}
    assert values["dhcp.hostname"] == "raspberrypi"
    assert values["dhcp.vendor_class"] == "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709"
    assert not [ev for ev in dev.evidence if ev.source == "frame"]  # the relay's MAC is not its


def test_dhcp_client_with_vendor_options(tcpdump_tests: Path) -> None:
    _, devices = read(tcpdump_tests / "dhcp-rfc3004.pcap")
    (dev,) = devices.values()
    assert (dev.ip, dev.mac) == ("192.168.1.4", "00:0c:29:1f:74:06")
    assert {ev.value for ev in dev.evidence if ev.key == "dhcp.param_list"} == {"1,28,2,3,15,6,12"}
