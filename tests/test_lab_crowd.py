"""The crowd lab: clones of the office's real personalities, each naming only itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from camscan.discovery import dhip, sadp, wsd
from camscan_lab import crowd
from camscan_lab.crowd import Identity, rewrite
from camscan_lab.network import DEFAULT_SPEC
from camscan_lab.personalities.udp_responder import reply_delay_s
from camscan_lab.personalities.wsd import Answerer
from camscan_lab.spec import load_spec

OLD = Identity("hik-cam-lobby", "198.18.0.11", "58:50:ed:1f:e3:85")
NEW = Identity("hik-cam-lobby-007", "198.18.0.17", "58:50:ed:c5:00:07")


def test_rewrite_moves_every_mention_of_the_sender() -> None:
    text = (
        "http://198.18.0.11/onvif http://[fe80::5a50:edff:fe1f:e385]/onvif "
        "MAC/58:50:ed:1f:e3:85 58-50-ED-1F-E3-85 urn:uuid:f3d8d0d7-d28d-11b3-846b-5850ed1fe385 "
        "198.18.0.110 198.18.0.1 uuid:00000000-0000-0000-0000-000000000000"
    )
    out = rewrite(text, OLD, NEW)
    assert "198.18.0.17/onvif" in out and "[fe80::5a50:edff:fec5:7]" in out
    assert "MAC/58:50:ed:c5:00:07" in out and "58-50-ED-C5-00-07" in out
    assert "urn:uuid:f3d8d0d7-d28d-11b3-846b-5850edc50007" in out  # v1 UUID: node is the MAC
    # a longer address, another address and the echo placeholder stay as they were
    assert "198.18.0.110 198.18.0.1 uuid:00000000-0000-0000-0000-000000000000" in out


def test_rewrite_gives_random_uuids_a_fresh_one_per_clone() -> None:
    epr = "urn:uuid:2b87b875-ce5b-4d84-bacf-b142b1b0a7bf"
    first = rewrite(epr, OLD, NEW)
    other = rewrite(epr, OLD, Identity("x-008", "198.18.0.18", "58:50:ed:c5:00:08"))
    assert len({epr, first, other}) == 3
    assert first == rewrite(epr, OLD, NEW)  # deterministic: the same spec every time


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crowd.write_crowd_spec(tmp_path_factory.mktemp("crowd"), 62)


def test_the_crowd_spec_loads_and_every_clone_answers_for_itself(spec_dir: Path) -> None:
    spec = load_spec(spec_dir)
    assert len(spec.devices) == 62
    assert len({d.ip for d in spec.devices}) == len({d.mac for d in spec.devices}) == 62
    eprs = set()
    for device in spec.devices:
        (service,) = [s for s in device.services if s.kind == "wsd"]
        (match,) = wsd.parse_probe_matches(str(service.table["reply"]).encode()).matches
        assert [urlsplit(x).hostname for x in match.xaddrs if "198.1" in x] == [device.ip]
        assert wsd.epr_mac(match.epr) in (None, device.mac)
        eprs.add(match.epr)
        for other in device.services:
            if other.kind == "sadp" and "reply" in other.table:
                reply = sadp.parse_probe_match(str(other.table["reply"]).strip().encode())
                assert reply.get("IPv4Address") == device.ip
                assert reply.get("MAC") == device.mac.replace(":", "-")
            if other.kind == "dhip" and "reply" in other.table:
                info = dhip.parse_json(str(other.table["reply"]).strip().encode())
                assert info.get("IPv4Address.IPAddress") == device.ip, info
                assert info.get("mac") == device.mac
    assert len(eprs) == 62  # no two devices claim one endpoint
    # real makers' personalities, so identification is exercised too
    makers = Counter(d.expect.get("maker") for d in spec.devices)
    assert makers["Hikvision"] >= 20 and makers["Dahua"] >= 20 and len(makers) >= 4


def test_replies_are_spread_over_app_max_delay_and_some_come_at_once(spec_dir: Path) -> None:
    spec = load_spec(spec_dir)
    delays = [reply_delay_s(s.table) for d in spec.devices for s in d.services if s.kind == "wsd"]
    assert max(delays) == crowd.APP_MAX_DELAY_MS / 1000 == 0.5
    assert delays.count(0.0) == len(range(0, 62, crowd.AT_ONCE_EVERY))


def test_hostile_and_foreign_personalities_are_not_cloned() -> None:
    names = {d.name for d in crowd.personalities(load_spec(DEFAULT_SPEC))}
    assert names and not {n for n in names if n.startswith("hostile")}
    assert "hik-factory-default" not in names  # outside the scan's scope by design


def test_a_crowd_larger_than_the_subnet_is_refused() -> None:
    with pytest.raises(ValueError, match=r"1\.\.240"):
        crowd.crowd_tables(load_spec(DEFAULT_SPEC), 241)


def test_a_device_that_ignores_repeats_answers_each_probe_once_and_can_lose_answers() -> None:
    reply = next(
        str(s.table["reply"])
        for d in load_spec(DEFAULT_SPEC).devices
        for s in d.services
        if d.name == "hik-cam-lobby" and s.kind == "wsd"
    )
    probe = wsd.build_probe("dn:NetworkVideoTransmitter", "urn:uuid:1")
    again = wsd.build_probe("dn:NetworkVideoTransmitter", "urn:uuid:2")
    sender = ("198.18.0.2", 40000)
    plain = Answerer({"reply": reply})
    assert [len(plain(p, sender)) for p in (probe, probe, again)] == [1, 1, 1]
    strict = Answerer({"reply": reply, "ignore_repeats": True})
    assert [len(strict(p, sender)) for p in (probe, probe, again, again)] == [1, 0, 1, 0]
    lossy = Answerer({"reply": reply, "ignore_repeats": True, "lose_replies": 1})
    assert [len(lossy(p, sender)) for p in (probe, probe, again)] == [0, 0, 1]
    assert lossy(b"not a probe", sender) == []
    (body, dest), *_ = strict(wsd.build_probe("tds:Device", "urn:uuid:3"), sender)
    assert dest == sender and wsd.parse_probe_matches(body).relates_to == "urn:uuid:3"
