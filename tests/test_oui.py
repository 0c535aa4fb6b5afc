"""IEEE table generation, longest-prefix lookup and the curated exact-name map."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from camscan import oui
from camscan.models import Strength
from camscan.oui import OuiClaim, OuiDataError, OuiEntry, OuiTable, parse_groups
from camscan.ouigen import OuiGenError, generate, parse_registry_csv

ROOT = Path(__file__).resolve().parent.parent
DEVICES = ROOT / "examples" / "lab" / "office" / "devices.toml"

HIKVISION = "Hangzhou Hikvision Digital Technology Co.,Ltd."
DAHUA_1 = "Zhejiang Dahua Technology Co., Ltd."
DAHUA_2 = "ZHEJIANG DAHUA TECHNOLOGYCO.,LTD"


# -------------------------------------------------------------------------- the generated table


def test_table_header_names_source_date_and_do_not_edit() -> None:
    header = oui.table().header
    assert any("generated - do not edit" in h for h in header)
    assert any(h.startswith("source: ") and "oui.csv" in h for h in header)
    assert "source date: 2026-05-21" in header


def test_table_rows_match_header_counts() -> None:
    entries = oui.table().entries()
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.registry] = counts.get(e.registry, 0) + 1
        assert len(e.prefix) == {"MA-L": 6, "MA-M": 7, "MA-S": 9, "IAB": 9}[e.registry]
    assert counts == {"MA-L": 39455, "MA-M": 6411, "MA-S": 7018, "IAB": 4575}
    assert "rows: MA-L 39455, MA-M 6411, MA-S 7018, IAB 4575" in oui.table().header


def test_registrant_counts_from_the_snapshot() -> None:
    # fingerprints.md §1, counted from the 2026-05-21 IEEE snapshot.
    by_name: dict[str, int] = {}
    for e in oui.table().entries():
        by_name[e.registrant] = by_name.get(e.registrant, 0) + 1
    assert by_name[HIKVISION] == 83
    assert by_name[DAHUA_1] == 27 and by_name[DAHUA_2] == 4
    assert by_name["Hangzhou Ezviz Software Co.,Ltd."] == 14
    assert by_name["Intelbras"] == 18


@pytest.mark.parametrize(
    ("mac", "prefix", "registry", "registrant"),
    [
        ("44:19:b6:3a:10:01", "4419B6", "MA-L", HIKVISION),
        ("3C-EF-8C-61-01-C0", "3CEF8C", "MA-L", DAHUA_1),
        ("407a.a412.3456", "407AA4", "MA-L", DAHUA_2),
        # A MA-M inside the IEEE RA's own MA-L block 402C76: the longer prefix wins.
        ("40:2c:76:1a:bc:de", "402C761", "MA-M", "Shanghai Dahua Scale Factory"),
        ("40:2c:76:0a:bc:de", "402C760", "MA-M", "Lista AG"),
        # A MA-S inside MA-L 8C1F64 (IEEE Registration Authority).
        ("8c:1f:64:f4:b1:23", "8C1F64F4B", "MA-S", "JOREX LOREX INDIA PRIVATE LIMITED"),
        ("34:46:63:2f:ff:ff", "3446632", "MA-M", "Amcrest Technologies"),
        ("b0:b3:53:60:00:01", "B0B3536", "MA-M", "Hangzhou Hikrobot Technology Co., Ltd."),
        ("00:50:c2:b0:41:00", "0050C2B04", "IAB", "Ubiquiti Inc"),
        ("00:50:c2:b0:51:00", "0050C2B05", "IAB", None),
        ("000000000001", "000000", "MA-L", "XEROX CORPORATION"),
    ],
)
def test_longest_prefix_lookup(
    mac: str, prefix: str, registry: str, registrant: str | None
) -> None:
    entry = oui.lookup(mac)
    assert entry is not None
    assert (entry.prefix, entry.registry) == (prefix, registry)
    if registrant is not None:
        assert entry.registrant == registrant
    assert entry.bits == 4 * len(prefix)


def test_ma_l_block_of_the_registration_authority_itself() -> None:
    # 8C1F64FFF has no MA-S row (FFC is the last one): the address falls back to the MA-L row.
    assert oui.lookup("8c:1f:64:ff:ff:ff") == OuiEntry(
        "8C1F64", "MA-L", "IEEE Registration Authority"
    )
    assert oui.lookup("8c:1f:64:ff:c0:00") == OuiEntry(
        "8C1F64FFC", "MA-S", "Invendis Technologies India Pvt Ltd"
    )


@pytest.mark.parametrize(
    "mac",
    [
        "",
        "zz:zz:zz:zz:zz:zz",
        "44:19:b6",
        "44:19:b6:3a:10:01:02",
        "02:00:5e:10:00:91",
        "ff:ff:ff:ff:ff:ff",
    ],
)
def test_lookup_misses(mac: str) -> None:
    assert oui.lookup(mac) is None


def test_mac_helpers() -> None:
    assert oui.normalize_mac("4419.B63A.1001") == "44:19:b6:3a:10:01"
    assert oui.normalize_mac("nope") is None
    assert oui.is_locally_administered("02:00:5e:10:00:91")
    assert not oui.is_locally_administered("44:19:b6:3a:10:01")


def test_table_rejects_unsorted_or_malformed_text() -> None:
    with pytest.raises(OuiDataError, match="not sorted"):
        OuiTable("# h\nBBBBBB\tMA-L\tB\nAAAAAA\tMA-L\tA\n")
    with pytest.raises(OuiDataError, match="malformed"):
        OuiTable("# h\nAAAAAA MA-L A\n")
    small = OuiTable("# h\nAAAAAA\tMA-L\tA\nAAAAAA1\tMA-M\tB\n")
    assert small.lookup("aa:aa:aa:10:00:00") == OuiEntry("AAAAAA1", "MA-M", "B")
    assert small.lookup("aa:aa:aa:20:00:00") == OuiEntry("AAAAAA", "MA-L", "A")
    assert len(small) == 2


def test_import_is_lazy_and_load_is_fast() -> None:
    code = (
        "import time, camscan.oui as o\n"
        "assert o.table.cache_info().currsize == 0\n"
        "t = time.perf_counter(); o.lookup('44:19:b6:00:00:01')\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # The bar is < 100 ms on an idle machine (~15 ms measured); a loaded CI box gets slack.
    assert float(out.stdout) < 0.3


# -------------------------------------------------------------------------- generator

HEADER = "Registry,Assignment,Organization Name,Organization Address\n"


def write_registry(d: Path) -> None:
    (d / "oui.csv").write_text(
        HEADER + 'MA-L,4419B6,"Hangzhou Hikvision Digital '
        'Technology Co.,Ltd.","Hangzhou CN"\nMA-L,402C76,IEEE '
        "Registration Authority  ,x\n",
        encoding="utf-8",
    )
    (d / "mam.csv").write_text(
        HEADER + "MA-M,402C761,Shanghai Dahua Scale Factory,x\n", encoding="utf-8"
    )
    (d / "oui36.csv").write_text(
        HEADER + "MA-S,8C1F64F4B,JOREX LOREX INDIA PRIVATE LIMITED,x\n", encoding="utf-8"
    )
    (d / "iab.csv").write_text(HEADER, encoding="utf-8")


def test_generate_from_directory(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    write_registry(src)
    report = generate(str(src), out, source_date="2026-05-21")
    assert report.rows == {"MA-L": 2, "MA-M": 1, "MA-S": 1, "IAB": 0}
    text = report.path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "# camscan IEEE MAC address registry table - generated - do not edit"
    )
    assert "# source date: 2026-05-21\n" in text
    assert f"# source: {src.resolve()} (oui.csv, mam.csv, oui36.csv, iab.csv)\n" in text
    table = OuiTable(text)
    assert table.lookup("44:19:b6:00:00:01") == OuiEntry("4419B6", "MA-L", HIKVISION)
    # Stray whitespace in IEEE names is collapsed.
    assert table.lookup("40:2c:76:00:00:01") == OuiEntry(
        "402C76", "MA-L", "IEEE Registration Authority"
    )
    assert table.lookup("40:2c:76:10:00:01") == OuiEntry(
        "402C761", "MA-M", "Shanghai Dahua Scale Factory"
    )


def test_generate_without_date_uses_file_dates(tmp_path: Path) -> None:
    write_registry(tmp_path)
    report = generate(str(tmp_path), tmp_path / "out")
    assert len(report.source_date) == 10 and report.source_date[4] == "-"


def test_generate_errors(tmp_path: Path) -> None:
    with pytest.raises(OuiGenError, match="cannot read"):
        generate(str(tmp_path / "missing"), tmp_path / "out")
    with pytest.raises(OuiGenError, match="not an IEEE registry CSV"):
        parse_registry_csv("a,b,c\n", "oui.csv")
    with pytest.raises(OuiGenError, match="unexpected row"):
        parse_registry_csv(HEADER + "MA-M,4419B6,X,y\n", "oui.csv")
    with pytest.raises(OuiGenError, match="unexpected row"):
        parse_registry_csv(HEADER + "MA-L,4419BZ,X,y\n", "oui.csv")
    with pytest.raises(OuiGenError, match="3 columns"):
        parse_registry_csv(HEADER + "MA-L,4419B6\n", "oui.csv")


# -------------------------------------------------------------------------- curated map


def test_every_curated_registrant_exists_exactly_in_the_table() -> None:
    names = oui.table().registrants
    for group in oui.groups():
        for registrant in group.registrants:
            assert registrant in names, f"{group.id}: {registrant!r} not in the IEEE table"
    for registrant in oui.exclusions():
        assert registrant in names, f"exclude: {registrant!r} not in the IEEE table"


def test_every_curated_row_has_a_source_and_unique_id() -> None:
    data = tomllib.loads(oui.GROUPS_PATH.read_text(encoding="utf-8"))
    for row in data["group"] + data["exclude"]:
        assert row.get("source"), row
        assert row.get("note"), row
    ids = [g.id for g in oui.groups()]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("oui.") for i in ids)


def claim(mac: str) -> OuiClaim:
    c = oui.classify(mac)
    assert c is not None, mac
    return c


def test_hikvision_group() -> None:
    c = claim("44:19:b6:3a:10:01")
    assert (c.fingerprint_id, c.maker, c.brand, c.strength) == (
        "oui.hikvision",
        "Hikvision",
        None,
        Strength.STRONG,
    )
    assert (c.prefix, c.registrant) == ("4419B6", HIKVISION)
    assert (claim("24:b1:05:0a:0b:0c").maker, claim("24:b1:05:0a:0b:0c").brand) == (
        "Hikvision",
        "Prama Hikvision",
    )
    assert (claim("0c:a6:4c:12:34:56").maker, claim("0c:a6:4c:12:34:56").brand) == (
        "Hikvision",
        "EZVIZ",
    )
    robot = claim("34:bd:20:31:41:59")
    assert (robot.maker, robot.brand, robot.flags) == ("Hikvision", "Hikrobot", ("machine-vision",))
    assert claim("b0:b3:53:60:00:01").fingerprint_id == "oui.hikvision.hikrobot"  # MA-M


def test_both_dahua_spellings_are_dahua() -> None:
    one, two = claim("3c:ef:8c:61:01:c0"), claim("40:7a:a4:00:00:01")
    assert (one.registrant, two.registrant) == (DAHUA_1, DAHUA_2)
    assert one.maker == two.maker == "Dahua"
    assert one.fingerprint_id == two.fingerprint_id == "oui.dahua"
    assert claim("a8:ca:87:00:00:01").maker == "Dahua"  # Zhilian


def test_imou_link_is_flagged_unverified() -> None:
    for mac in ("1c:4d:89:00:00:01", "90:6a:94:00:00:01"):
        c = claim(mac)
        assert (c.maker, c.brand) == ("Dahua", "Imou")
        assert "unverified-link" in c.flags
        assert c.strength is Strength.CORROBORATING


@pytest.mark.parametrize(
    ("mac", "brand"),
    [
        ("9c:8e:cd:0a:1b:2c", "Amcrest"),
        ("34:46:63:20:00:01", "Amcrest"),
        ("00:1f:54:33:44:55", "Lorex"),
        ("58:10:8c:66:77:88", "Intelbras"),
        ("5c:35:48:99:aa:bb", "CP Plus"),
        ("14:2f:fd:00:00:01", "LTS"),
        ("50:dc:d0:04:05:06", "ALIBI"),
        ("14:3f:c3:01:02:03", "Luma"),
        ("38:c4:e8:cc:dd:ee", "BCS"),
        ("b4:36:e3:00:00:01", "KBVision"),
        ("bc:51:fe:00:00:01", "Swann"),
    ],
)
def test_oem_brand_ouis_name_the_brand_not_a_maker(mac: str, brand: str) -> None:
    c = claim(mac)
    assert c.brand == brand
    assert c.maker is None


@pytest.mark.parametrize(
    "mac",
    [
        "40:2c:76:1a:bc:de",  # Shanghai Dahua Scale Factory
        "8c:1f:64:f4:b1:23",  # JOREX LOREX INDIA
        "c0:61:9a:e1:23:45",  # Zhejiang Haikang Science And Technology
        "14:07:08:00:00:01",  # CP PLUS GMBH & CO. KG
        "e4:28:a4:00:00:01",  # Prama India (not Prama Hikvision)
    ],
)
def test_name_collisions_are_never_claimed(mac: str) -> None:
    entry = oui.lookup(mac)
    assert entry is not None and entry.registrant in oui.exclusions()
    assert oui.classify(mac) is None


def test_no_substring_matching_anywhere() -> None:
    # Every registrant containing a group keyword that is not listed exactly gets no claim.
    listed = {n for g in oui.groups() for n in g.registrants}
    keywords = ("hikvision", "dahua", "lorex", "ezviz", "amcrest", "intelbras", "swann")
    for e in oui.table().entries():
        if any(k in e.registrant.lower() for k in keywords) and e.registrant not in listed:
            mac = e.prefix.ljust(12, "0")
            assert oui.classify(mac) is None, e


def lab_devices() -> list[dict[str, object]]:
    return list(tomllib.loads(DEVICES.read_text(encoding="utf-8"))["device"])


# The default lab's MACs and what their OUI alone must say (None: no claim).
LAB_OUI = {
    "router": ("MikroTik", None),
    "hik-cam-lobby": ("Hikvision", None),
    "ezviz-cam-kitchen": ("Hikvision", "EZVIZ"),
    "prama-cam": ("Hikvision", "Prama Hikvision"),
    "hikrobot-vision": ("Hikvision", "Hikrobot"),
    "dahua-cam-entrance": ("Dahua", None),
    "amcrest-cam": (None, "Amcrest"),
    "lorex-cam": (None, "Lorex"),
    "intelbras-cam": (None, "Intelbras"),
    "cpplus-dvr": (None, "CP Plus"),
    "bcs-cam": (None, "BCS"),
    "luma-nvr": (None, "Luma"),
    "alibi-nvr": (None, "ALIBI"),
    "truvision-nvr": ("Dell", None),
    "axis-cam": ("Axis", None),
    "hanwha-cam": ("Hanwha", None),
    "uniview-cam": ("Uniview", None),
    "ubiquiti-ap": ("Ubiquiti", None),
    "hp-printer": ("HP", None),
    "brother-printer": ("Brother", None),
    "pc-finance": ("Dell", None),
    "pc-reception": ("Intel", None),
    "laptop-it": ("ASUS", None),
    "synology-nas": ("Synology", None),
    "vigi-cam": ("TP-Link", None),
    "draytek-router": ("DrayTek", None),
    "milesight-cam": ("Milesight", None),
    "tiandy-cam": ("Tiandy", None),
    "netgear-switch": ("NETGEAR", None),
    "dahua-scale": None,
    "haikang-device": None,
    "hostile-silent": None,
}


def test_default_lab_macs() -> None:
    devices = {str(d["name"]): d for d in lab_devices()}
    for name, want in LAB_OUI.items():
        c = oui.classify(str(devices[name]["mac"]))
        got = None if c is None else (c.maker, c.brand)
        assert got == want, name


def test_default_lab_no_wrong_hikvision_or_dahua() -> None:
    for d in lab_devices():
        expect = d.get("expect", {})
        assert isinstance(expect, dict)
        c = oui.classify(str(d["mac"]))
        if c is not None and c.maker in ("Hikvision", "Dahua"):
            assert expect.get("maker") == c.maker, d["name"]
        if c is not None and c.brand is not None and expect.get("brand"):
            assert expect["brand"] == c.brand, d["name"]


def test_groups_schema_errors() -> None:
    ok = {
        "id": "oui.x",
        "registrants": ["X"],
        "maker": "X",
        "strength": "strong",
        "note": "n",
        "source": "s",
    }
    assert parse_groups({"group": [ok]})[0][0].maker == "X"
    for bad, msg in [
        ({**ok, "strength": "huge"}, "unknown strength"),
        ({**ok, "registrants": []}, "registrants"),
        ({**ok, "source": ""}, "'source'"),
        ({k: v for k, v in ok.items() if k != "maker"}, "maker or a brand"),
        ({**ok, "flags": "x"}, "flags"),
    ]:
        with pytest.raises(OuiDataError, match=msg):
            parse_groups({"group": [bad]})
    with pytest.raises(OuiDataError, match="'source'"):
        parse_groups({"exclude": [{"registrant": "X", "note": "n"}]})


# -------------------------------------------------------------------------- load


def _table_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "ieee.tsv"
    path.write_text("# test table\n" + "".join(f"{r}\n" for r in sorted(rows)), encoding="utf-8")
    return path


ROWS = [
    "001122\tMA-L\tFirst",
    "0011FF\tMA-L\tLast of its block",
    "0011FF5\tMA-M\tLonger prefix",
    "0011FF5AB\tMA-S\tLongest prefix",
    "010000\tMA-L\tNext block",
    "4419B6\tMA-L\tHangzhou Hikvision Digital Technology Co.,Ltd.",
    "FFFFFF\tMA-L\tLast row – non-ASCII",
]
MACS = [
    "00:11:22:00:00:00",
    "00:11:ff:00:00:00",
    "00:11:ff:50:00:00",
    "00:11:ff:5a:b0:00",
    "00:11:ff:5a:c0:00",
    "01:00:00:12:34:56",
    "44:19:b6:3a:10:01",
    "ff:ff:ff:ff:ff:ff",
    "00:11:23:00:00:00",
    "fe:00:00:00:00:00",
]


def test_a_table_seen_before_loads_its_index_unchecked_and_looks_up_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(oui, "TABLE_PATH", _table_file(tmp_path, ROWS))
    checks: list[int] = []
    real = oui._checked_index

    def spy(raw: bytes, first: int) -> dict[str, list[int]]:
        checks.append(first)
        return real(raw, first)

    monkeypatch.setattr(oui, "_checked_index", spy)
    fresh = oui.table.__wrapped__()
    assert len(checks) == 1
    cached = oui.table.__wrapped__()
    assert len(checks) == 1  # the bytes were seen sorted and well-formed before
    assert [cached.lookup(m) for m in MACS] == [fresh.lookup(m) for m in MACS]
    assert fresh.lookup(MACS[3]) == OuiEntry("0011FF5AB", "MA-S", "Longest prefix")
    assert fresh.lookup(MACS[4]) == OuiEntry("0011FF5", "MA-M", "Longer prefix")
    assert fresh.registrant(MACS[7]) == "Last row – non-ASCII"
    assert fresh.lookup(MACS[8]) is None and fresh.lookup(MACS[9]) is None
    assert cached.entries() == fresh.entries() == [OuiEntry(*r.split("\t")) for r in ROWS]
    assert len(cached) == len(ROWS) and cached.header == ["test table"]


def test_a_damaged_index_or_an_edited_table_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = _table_file(tmp_path, ROWS)
    monkeypatch.setattr(oui, "TABLE_PATH", path)
    oui.table.__wrapped__()
    (entry,) = (tmp_path / "cache" / "camscan" / "oui-checked").iterdir()
    entry.write_bytes(entry.read_bytes()[:-3] + b"\0\0\0")
    checks: list[int] = []
    real = oui._checked_index

    def spy(raw: bytes, first: int) -> dict[str, list[int]]:
        checks.append(1)
        return real(raw, first)

    monkeypatch.setattr(oui, "_checked_index", spy)
    assert oui.table.__wrapped__().lookup(MACS[0]) == OuiEntry("001122", "MA-L", "First")
    assert checks == [1]
    # Edited by hand out of order: the new bytes are checked, and refused.
    path.write_text(path.read_text().replace("001122", "FFFFFF0", 1), encoding="utf-8")
    with pytest.raises(OuiDataError, match="not sorted"):
        oui.table.__wrapped__()


def test_a_table_with_other_line_breaks_is_refused() -> None:
    with pytest.raises(OuiDataError, match="malformed"):
        OuiTable("# h\r\nAAAAAA\tMA-L\tA\r\nAAAAAB\tMA-L\tB\r\n")
    with pytest.raises(OuiDataError, match="malformed"):
        OuiTable("# h\nAAAAAA\tMA-L\tA\u2028B\nAAAAAB\tMA-L\tB\n")
