"""Target parsing, exclusions, the size guard and interface choice (no packets)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan.targets import (
    MAX_ADDRESSES,
    NO_TARGETS,
    InterfaceInfo,
    TargetError,
    choose_interface,
    interfaces_from_ip_json,
    localnet,
    parse_targets,
)


def ips(*values: str) -> list[IPv4Address]:
    return [IPv4Address(v) for v in values]


def test_cidr_leaves_out_network_and_broadcast() -> None:
    t = parse_targets(["198.18.0.0/24"])
    assert t.size == 254
    addrs = t.addresses()
    assert addrs[0] == IPv4Address("198.18.0.1") and addrs[-1] == IPv4Address("198.18.0.254")
    assert "198.18.0.0" not in t and "198.18.0.255" not in t
    assert IPv4Address("198.18.0.7") in t


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("198.18.0.4/31", ["198.18.0.4", "198.18.0.5"]),
        ("198.18.0.4/32", ["198.18.0.4"]),
        ("198.18.0.4/30", ["198.18.0.5", "198.18.0.6"]),
    ],
)
def test_small_prefixes(spec: str, expected: list[str]) -> None:
    assert parse_targets([spec]).addresses() == ips(*expected)


def test_host_bits_in_cidr_are_accepted_and_normalised() -> None:
    t = parse_targets(["198.18.0.77/24"])
    assert t.describe() == ["198.18.0.0/24"]
    assert t.size == 254


def test_ranges_long_and_short_form() -> None:
    long = parse_targets(["198.18.0.10-198.18.0.20"])
    short = parse_targets(["198.18.0.10-20"])
    assert long.addresses() == short.addresses()
    assert long.size == 11
    assert long.describe() == short.describe() == ["198.18.0.10-198.18.0.20"]


def test_range_across_octets() -> None:
    t = parse_targets(["198.18.0.250-198.18.1.5"])
    assert t.size == 12
    assert IPv4Address("198.18.1.0") in t  # a range is literal: no network/broadcast trimming


def test_single_address_and_comma_lists() -> None:
    t = parse_targets(["198.18.0.9", "198.18.0.1,198.18.0.3 198.18.0.2"])
    assert t.addresses() == ips("198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.9")


def test_overlaps_are_merged_not_double_counted() -> None:
    t = parse_targets(["198.18.0.0/24", "198.18.0.10-20", "198.18.0.5"])
    assert t.size == 254
    assert len(t.addresses()) == len(set(t.addresses())) == 254


def test_exclusions() -> None:
    t = parse_targets(
        ["198.18.0.0/24"], ["198.18.0.5", "198.18.0.100-198.18.0.199", "198.18.0.248/29"]
    )
    assert "198.18.0.5" not in t and "198.18.0.150" not in t and "198.18.0.250" not in t
    assert "198.18.0.4" in t and "198.18.0.200" in t and "198.18.0.247" in t
    assert t.size == 254 - 1 - 100 - 7  # .255 was never a target
    assert "exclude 198.18.0.5" in t.describe()


def test_exclusion_outside_targets_is_harmless() -> None:
    assert parse_targets(["198.18.0.1-5"], ["10.0.0.0/8"]).size == 5


def test_everything_excluded_is_an_error() -> None:
    with pytest.raises(TargetError, match="no targets left after exclusions"):
        parse_targets(["198.18.0.1-5"], ["198.18.0.0/24"])


@pytest.mark.parametrize("specs", [[], [""], [" , "]])
def test_no_targets(specs: list[str]) -> None:
    with pytest.raises(TargetError) as exc:
        parse_targets(specs)
    assert str(exc.value) == NO_TARGETS


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("cam1.example.org", "hostnames are not resolved"),
        ("localhost", "hostnames are not resolved"),
        ("fe80::1", "IPv6"),
        ("2001:db8::/64", "IPv6"),
        ("198.18.0.300", "not an IPv4 address"),
        ("198.18.0.0/33", "not an IPv4 CIDR"),
        ("198.18.0.20-10", "ends before it starts"),
        ("198.18.0.20-198.18.0.10", "ends before it starts"),
        ("198.18.0.1-300", "not an IPv4 range"),
        ("198.18.0", "not an IPv4 address"),
    ],
)
def test_bad_specs_give_one_line_errors(spec: str, fragment: str) -> None:
    with pytest.raises(TargetError) as exc:
        parse_targets([spec])
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_size_guard() -> None:
    assert parse_targets(["10.0.0.0/16"]).size == 65_534  # a /16 passes
    assert parse_targets(["10.0.0.0-10.0.255.255"]).size == MAX_ADDRESSES  # exactly the limit
    with pytest.raises(TargetError, match="--yes"):
        parse_targets(["10.0.0.0-10.1.0.0"])  # 65,537
    with pytest.raises(TargetError, match="more than 65,536"):
        parse_targets(["10.0.0.0/8"])
    big = parse_targets(["10.0.0.0/8"], allow_large=True)
    assert big.size == 2**24 - 2
    assert "10.200.3.4" in big  # membership without expansion


def test_guard_counts_after_exclusions() -> None:
    t = parse_targets(["10.0.0.0/15"], ["10.1.0.0/16"])
    assert t.size == 65_535


def test_contains_rejects_garbage() -> None:
    t = parse_targets(["198.18.0.0/24"])
    assert "not-an-ip" not in t
    assert 5 not in t


@given(
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 50)), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 50)), max_size=4),
)
def test_set_semantics_match_brute_force(
    keep: list[tuple[int, int]], drop: list[tuple[int, int]]
) -> None:
    base = int(IPv4Address("198.18.0.0"))

    def spec(a: int, n: int) -> str:
        return f"{IPv4Address(base + a)}-{IPv4Address(base + a + n)}"

    want = {base + a + i for a, n in keep for i in range(n + 1)}
    want -= {base + a + i for a, n in drop for i in range(n + 1)}
    try:
        t = parse_targets([spec(*k) for k in keep], [spec(*d) for d in drop])
    except TargetError:
        assert not want
        return
    assert [int(a) for a in t.addresses()] == sorted(want)
    assert t.size == len(want)
    for probe in range(base, base + 2060, 7):
        assert (IPv4Address(probe) in t) == (probe in want)


# -------------------------------------------------------------------------- interfaces

IP_JSON = [
    {
        "ifindex": 1,
        "ifname": "lo",
        "flags": ["LOOPBACK", "UP", "LOWER_UP"],
        "link_type": "loopback",
        "address": "00:00:00:00:00:00",
        "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}],
    },
    {
        "ifindex": 2,
        "ifname": "ifb0",
        "flags": ["BROADCAST", "NOARP"],
        "link_type": "ether",
        "address": "c2:56:8e:82:9d:60",
        "addr_info": [],
    },
    {
        "ifindex": 7,
        "ifname": "eth0",
        "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
        "link_type": "ether",
        "address": "02:00:5E:10:00:02",
        "addr_info": [
            {"family": "inet", "local": "198.18.0.2", "prefixlen": 15},
            {"family": "inet6", "local": "fe80::1", "prefixlen": 64},
        ],
    },
    {
        "ifindex": 9,
        "ifname": "eth1",
        "flags": ["BROADCAST", "UP"],
        "link_type": "ether",
        "address": "02:00:5e:10:00:09",
        "addr_info": [{"family": "inet", "local": "198.18.7.1", "prefixlen": 24}],
    },
    {
        "ifindex": 10,
        "ifname": "down0",
        "flags": ["BROADCAST"],
        "link_type": "ether",
        "address": "02:00:5e:10:00:0a",
        "addr_info": [{"family": "inet", "local": "10.9.9.9", "prefixlen": 24}],
    },
]


def test_interfaces_from_ip_json() -> None:
    found = interfaces_from_ip_json(IP_JSON)
    assert [(i.name, i.index, i.mac, str(i.ip), str(i.network)) for i in found] == [
        ("eth0", 7, "02:00:5e:10:00:02", "198.18.0.2", "198.18.0.0/15"),
        ("eth1", 9, "02:00:5e:10:00:09", "198.18.7.1", "198.18.7.0/24"),
    ]
    assert interfaces_from_ip_json({"not": "a list"}) == []
    assert (
        interfaces_from_ip_json(
            [{"link_type": "ether", "flags": ["UP"], "addr_info": [{"family": "inet"}]}]
        )
        == []
    )


def test_choose_interface_by_targets() -> None:
    cands = interfaces_from_ip_json(IP_JSON)
    assert choose_interface(cands, None, parse_targets(["198.18.0.0/24"])).name == "eth0"
    # Both networks contain it: the most specific one wins.
    assert choose_interface(cands, None, parse_targets(["198.18.7.5"])).name == "eth1"
    with pytest.raises(TargetError, match="give --interface"):
        choose_interface(cands, None, parse_targets(["10.1.2.3"]))
    with pytest.raises(TargetError, match="give --interface"):
        choose_interface(cands, None, parse_targets(["198.18.7.5", "10.1.2.3"]))


def test_choose_interface_by_name_and_localnet() -> None:
    cands = interfaces_from_ip_json(IP_JSON)
    assert choose_interface(cands, "eth1", parse_targets(["198.18.0.1"])).name == "eth1"
    with pytest.raises(TargetError, match="'wlan9' not found"):
        choose_interface(cands, "wlan9", None)
    with pytest.raises(TargetError, match="several interfaces"):
        choose_interface(cands, None, None)
    only = [c for c in cands if c.name == "eth0"]
    iface = choose_interface(only, None, None)
    assert localnet(iface) == "198.18.0.0/15"
    with pytest.raises(TargetError, match="no Ethernet interface"):
        choose_interface([], None, None)


def test_interface_info_is_plain_data() -> None:
    info = InterfaceInfo(
        "eth0", 2, "02:00:00:00:00:01", IPv4Address("198.18.0.2"), IPv4Network("198.18.0.0/24")
    )
    assert localnet(info) == "198.18.0.0/24"


@pytest.mark.parametrize(
    "specs", [["198.18.0.0/24"], ["198.18.0.7"], ["10.0.0.0/22", "10.9.0.1-9"], ["198.18.0.1-2"]]
)
def test_shuffled_is_a_permutation_of_the_targets(specs: list[str]) -> None:
    t = parse_targets(specs)
    order = list(t.shuffled())
    assert sorted(order) == [int(a) for a in t.addresses()]
    if t.size > 100:
        assert order != sorted(order)  # scattered, not ascending


def test_shuffled_streams_a_slash_8_without_expanding_it() -> None:
    t = parse_targets(["10.0.0.0/8"], allow_large=True)
    it = t.shuffled()
    head = [next(it) for _ in range(1000)]
    assert len(set(head)) == 1000 and all(t.contains_int(v) for v in head)


def test_ranges_beyond_the_ceiling_are_refused_even_with_yes() -> None:
    from camscan.targets import CEILING

    assert parse_targets(["10.0.0.0/8"], allow_large=True).size < CEILING
    for spec in (["0.0.0.0/0"], ["10.0.0.0/7"], ["10.0.0.0-11.0.0.0"]):
        with pytest.raises(TargetError, match="more than camscan scans") as exc:
            parse_targets(spec, allow_large=True)
        assert "\n" not in str(exc.value)


def test_clip_and_outside_split_the_targets_by_network() -> None:
    from ipaddress import IPv4Network

    t = parse_targets(["198.18.0.0/23", "10.1.0.0/30"], ["198.18.1.5"])
    net = IPv4Network("198.18.0.0/15")
    inside, outside = t.clip(net), t.outside(net)
    assert inside.size + outside.size == t.size
    assert [str(a) for a in outside.addresses()] == ["10.1.0.1", "10.1.0.2"]
    assert "198.18.1.5" not in inside and "198.18.1.6" in inside
    assert t.outside(None).size == t.size
