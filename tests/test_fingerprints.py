"""The fingerprint library's self-test (recog-style): the library is data that tests itself."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from camscan import fingerprints
from camscan.fingerprints import Library, LibraryError
from camscan.identify import identify
from camscan.models import Evidence

LIB = fingerprints.default_library()
ALL = list(LIB.fingerprints())
FILE_OF = {fp.id: f for f in LIB.files for fp in f.fingerprints}


def test_library_is_large_enough() -> None:
    assert fingerprints.example_count(LIB) >= 300
    assert len(ALL) >= 100


def test_self_test_is_clean() -> None:
    assert fingerprints.self_test(LIB) == []


@pytest.mark.parametrize("fp", ALL, ids=lambda fp: fp.id)
def test_examples_match_own_fingerprint_first(fp: fingerprints.Fingerprint) -> None:
    for ex in fp.examples:
        hit = LIB.match_value(FILE_OF[fp.id], ex.value)
        assert hit is not None, ex.value
        assert hit[0].id == fp.id, f"{ex.value!r} taken by {hit[0].id}"
        got = LIB.to_match(fp, hit[1], Evidence("t", "t", fp.key, ex.value))
        for name, want in ex.expect.items():
            assert getattr(got, name) == want, (ex.value, name)


@pytest.mark.parametrize("fp", ALL, ids=lambda fp: fp.id)
def test_counter_examples_never_identify_a_target(fp: fingerprints.Fingerprint) -> None:
    for cex in fp.counter_examples:
        assert not fp.search(cex), cex
        verdict = identify(
            [
                Evidence(
                    "t", "", fp.key.rstrip(".") if not fp.key.endswith(".") else fp.key + "x", cex
                )
            ]
        )
        assert not verdict.is_target_maker, (cex, verdict.maker)


def test_ids_unique_and_named_after_their_key() -> None:
    ids = [fp.id for fp in ALL]
    assert len(ids) == len(set(ids))
    for fp in ALL:
        assert fp.id.startswith(fp.key.rstrip(".") + "."), fp.id


def test_names_come_from_the_vocabulary() -> None:
    types = set(LIB.device_types.values())
    for fp in ALL:
        assert fp.maker is None or fp.maker in LIB.makers
        assert fp.device_type is None or fp.device_type in types
    for brand in LIB.brands.values():
        assert brand.maker is None or brand.maker in LIB.makers


def test_every_fingerprint_has_provenance_and_strength() -> None:
    for fp in ALL:
        assert len(fp.source) > 5 and fp.description


def test_target_rules_carry_counter_examples() -> None:
    """Strong Hikvision/Dahua rules (not vendor-protocol catch-alls) list look-alikes."""
    catch_all = {"sadp.", "dhip."}
    for fp in ALL:
        if (
            fp.names_target()
            and fp.strength.value == "strong"
            and not fp.key.startswith(tuple(catch_all))
        ):
            assert fp.counter_examples, fp.id


# Every false-positive source of the knowledge notes §7 appears as a counter-example.
SECTION7_TRAPS = [
    "GoAhead-Webs",
    "GoAhead-http",
    "WebServer",
    "webserver",
    "Web",
    "uc-httpd",
    "NetSurveillance",
    "Cross Web Server",
    "DVR",
    "camera",
    "IPCamera Login",
    "Mini Dome IP Camera",
    "Login to the Router Web Configurator",
    "Login to Cacti",
    "Login to Symon",
    "location/country/china",
    "VIGI",
    "Shanghai Dahua Scale Factory",
    "JOREX LOREX INDIA",
    "Zhejiang Haikang Science And Technology",
    "DS218+",
    "Rtsp Server/2.0",
    "hardware/IPC-model",
    "name/NVT",
    "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, PAUSE",
]


@pytest.mark.parametrize("trap", SECTION7_TRAPS)
def test_section7_traps_are_counter_examples(trap: str) -> None:
    counters = [c for fp in ALL for c in fp.counter_examples]
    assert any(trap.casefold() in c.casefold() for c in counters), trap


def test_section7_traps_alone_never_name_a_target() -> None:
    cases = [
        ("http.server", "GoAhead-Webs"),
        ("http.server", "uc-httpd 1.0.0"),
        ("http.server", "WebServer"),
        ("http.server", "Webs"),
        ("http.server", "Cross Web Server"),
        ("http.title", "NETSurveillance WEB"),
        ("http.title", "DVR Components Download"),
        ("http.www_authenticate", 'Basic realm="DVR"'),
        ("http.www_authenticate", 'Basic realm="Login to the Router Web Configurator"'),
        ("http.www_authenticate", 'Basic realm="Login to Cacti"'),
        ("rtsp.server", "Rtsp Server/3.0"),
        ("rtsp.public", "OPTIONS, DESCRIBE, SETUP, PLAY"),
        ("onvif.scope", "onvif://www.onvif.org/location/country/china"),
        ("onvif.scope", "onvif://www.onvif.org/name/VIGI-C340"),
        ("onvif.scope", "onvif://www.onvif.org/hardware/IPC-model"),
        ("model", "DS218+"),
        ("model", "IPC-B122-APF28K"),
        ("model", "CS-KIT-K9"),
        ("mac", "40:2c:76:1a:bc:de"),
        ("mac", "c0:61:9a:e1:23:45"),
        ("mac", "8c:1f:64:f4:b0:01"),
    ]
    for key, value in cases:
        verdict = identify([Evidence("t", "", key, value)])
        assert not verdict.is_target_maker, (key, value, verdict.maker)


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "fp"
    # The generated IEEE table is not part of the library (its curated groups.toml is).
    shutil.copytree(fingerprints.DEFAULT_DIR, root, ignore=shutil.ignore_patterns("ieee.tsv"))
    return root


def test_broken_regex_is_a_library_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "http.server.toml"
    path.write_text(path.read_text().replace("^App-webs/?", "^App-webs/?(", 1))
    with pytest.raises(LibraryError, match="hikvision-app-webs: pattern RE2 cannot compile"):
        fingerprints.load(root)


@pytest.mark.parametrize("construct", ["(?=[0-9])", "(?![a-z])", "(?<=x)", "(a)\\1"])
def test_pattern_re2_cannot_compile_names_the_fingerprint(tmp_path: Path, construct: str) -> None:
    """Look-around and back-references backtrack; the loader refuses them by fingerprint id."""
    root = _copy(tmp_path)
    path = root / "http.server.toml"
    path.write_text(path.read_text().replace("^App-webs/?", "^App-webs/?" + construct, 1))
    with pytest.raises(LibraryError, match=r"http\.server\.hikvision-app-webs: pattern RE2"):
        fingerprints.load(root)


def test_all_of_and_none_of_are_conditions_on_the_value() -> None:
    fp = next(f for f in ALL if f.id == "http.headers.dahua-skeleton")
    head = "CONNECTION: close\r\nCONTENT-LENGTH: 3\r\nCACHE-CONTROL: no\r\n"
    assert fp.search(head) is not None
    assert fp.search(head + "Server: x\r\n") is None  # a none_of pattern matches
    assert fp.search("CONNECTION: close\r\n") is None  # all_of patterns missing


def test_unknown_maker_is_a_library_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "http.title.toml"
    path.write_text(path.read_text().replace('maker = "Dahua"', 'maker = "Dahwa"', 1))
    with pytest.raises(LibraryError, match="not in the vocabulary"):
        fingerprints.load(root)


def test_schema_violation_is_a_library_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text().replace('strength = "strong"', 'strength = "huge"', 1))
    with pytest.raises(LibraryError, match="strength"):
        fingerprints.load(root)


def test_self_test_catches_a_stolen_example(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "http.server.toml"
    text = path.read_text()
    # a broad rule placed first steals the narrow rules' examples
    broad = (
        '[[fingerprint]]\nid = "http.server.anything"\ndescription = "too broad"\n'
        "pattern = '''.'''\nstrength = \"corroborating\"\nsource = \"test\"\n"
        'examples = ["zzz"]\n\n'
    )
    path.write_text(text.replace("[[fingerprint]]", broad + "[[fingerprint]]", 1))
    problems = fingerprints.self_test(fingerprints.load(root))
    assert any("taken first by http.server.anything" in p for p in problems)


def test_self_test_catches_a_counter_example_reaching_a_target(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    path = root / "http.server.toml"
    path.write_text(
        path.read_text().replace(
            'counter_examples = ["micro_httpd", "httpd"]',
            'counter_examples = ["micro_httpd", "App-webs/"]',
        )
    )
    problems = fingerprints.self_test(fingerprints.load(root))
    assert any("names Hikvision" in p for p in problems)


def test_library_loads_once() -> None:
    assert fingerprints.default_library() is fingerprints.default_library()
    assert isinstance(LIB, Library)


def test_patterns_do_not_backtrack_on_hostile_values() -> None:
    """Long look-alike values (device input is hostile) are matched in linear-ish time."""
    hostile = [
        "A" * 20000 + "!",
        "DS-" + "A-" * 10000 + "!",
        "Login to " + "9" * 20000,
        'realm="' + "x" * 20000,
        "IP5M-" + "T1-" * 7000 + "!",
        "\n" * 20000,
        "CONNECTION: x\n" * 2000,
    ]
    start = time.perf_counter()
    for fp in ALL:
        for value in hostile:
            fp.search(value)
    assert time.perf_counter() - start < 2.0


def test_version_tracks_the_content(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    before = fingerprints.load(root).version
    assert before == LIB.version and before.startswith("sha256:")
    path = root / "rtsp.sdp.toml"
    path.write_text(path.read_text() + "\n# edited\n")
    assert fingerprints.load(root).version != before


def test_editing_the_oui_groups_changes_the_library_and_its_version(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    hik_mac = Evidence("h", "arp", "mac", "44:19:b6:3a:10:01")
    assert identify([hik_mac], fingerprints.load(root)).maker == "Hikvision"
    groups = root / "oui" / "groups.toml"
    groups.write_text(groups.read_text().replace('maker = "Hikvision"', 'maker = "Dahua"'))
    edited = fingerprints.load(root)
    assert edited.version != LIB.version
    assert identify([hik_mac], edited).maker == "Dahua", "the library's own map decides"
    assert identify([hik_mac]).maker == "Hikvision", "the shipped library is untouched"


def test_the_unbranded_flag_is_data_not_an_id_in_the_code(tmp_path: Path) -> None:
    general = [Evidence("h", "dhip", "dhip.vendor", "General")]
    assert (identify(general).maker, identify(general).brand) == ("Dahua", None)
    root = _copy(tmp_path)
    path = root / "dhip.vendor.toml"
    path.write_text(path.read_text().replace("unbranded = true\n", "", 1))
    verdict = identify(general, fingerprints.load(root))
    assert (verdict.maker, verdict.brand) == ("Dahua", "Dahua")
