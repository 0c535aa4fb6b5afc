"""MAC vendor identification: longest-prefix IEEE lookup and the curated maker/brand map."""

from __future__ import annotations

import functools
import tomllib
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from camscan import datacache
from camscan.models import Strength
from camscan.resources import data_path

OUI_DIR = data_path("fingerprints", "oui")
TABLE_PATH = OUI_DIR / "ieee.tsv"
GROUPS_PATH = OUI_DIR / "groups.toml"

# Longest prefix first: MA-S/IAB (36 bits) before MA-M (28) before MA-L (24).
PREFIX_DIGITS = (9, 7, 6)
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


class OuiDataError(Exception):
    """The OUI table or the curated map is malformed (one-line message)."""


@dataclass(frozen=True, slots=True)
class OuiEntry:
    """One IEEE assignment: hex prefix (6/7/9 digits), registry, registrant as IEEE spells it."""

    prefix: str
    registry: str  # MA-L, MA-M, MA-S, IAB
    registrant: str

    @property
    def bits(self) -> int:
        """Prefix length in bits."""
        return 4 * len(self.prefix)


@dataclass(frozen=True, slots=True)
class OuiClaim:
    """What a MAC's registrant says about maker and brand, from the curated map."""

    fingerprint_id: str
    prefix: str
    registrant: str
    maker: str | None
    brand: str | None
    strength: Strength
    flags: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class OuiGroup:
    """One curated row of groups.toml."""

    id: str
    registrants: tuple[str, ...]
    maker: str | None
    brand: str | None
    strength: Strength
    flags: tuple[str, ...]
    note: str
    source: str


def mac_to_int(mac: str) -> int | None:
    """The 48-bit value of a MAC in any common notation (aa:bb.., aa-bb.., aabb.ccdd.., bare)."""
    digits = mac.strip().replace(":", "").replace("-", "").replace(".", "").replace(" ", "")
    if len(digits) != 12 or not set(digits) <= _HEXDIGITS:
        return None
    return int(digits, 16)


def normalize_mac(mac: str) -> str | None:
    """`aa:bb:cc:dd:ee:ff` (lower case) for any common notation, None if not a MAC."""
    value = mac_to_int(mac)
    if value is None:
        return None
    h = f"{value:012x}"
    return ":".join(h[i : i + 2] for i in range(0, 12, 2))


def is_locally_administered(mac: str) -> bool:
    """True for a locally administered (or multicast) MAC: no IEEE registrant can own it."""
    value = mac_to_int(mac)
    return value is not None and bool((value >> 40) & 0x03)


class OuiTable:
    """The generated table's sorted lines, searched in place: loads in milliseconds.

    Rows are kept as the file's bytes and split into text one block (rows sharing their first
    two characters) at a time, when a lookup first needs that block. `index` is where each
    block lies; without it the whole table is checked (sorted, well-formed) and indexed.
    """

    def __init__(self, data: str | bytes, index: dict[str, list[int]] | None = None) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        first, header = 0, []
        while raw.startswith(b"#", first):
            end = raw.find(b"\n", first)
            end = len(raw) if end < 0 else end
            header.append(raw[first + 1 : end].decode("utf-8").strip())
            first = end + 1
        self.header: list[str] = header
        self._raw = raw
        self.index = _checked_index(raw, first) if index is None else index
        self._blocks: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return sum(len(self._block(b)) for b in self.index)

    def entries(self) -> list[OuiEntry]:
        """Every row as an OuiEntry (for checks and tools, not the lookup path)."""
        out = []
        lineno = len(self.header)
        for block in self.index:
            for row in self._block(block):
                lineno += 1
                parts = row.split("\t")
                if len(parts) != 3 or len(parts[0]) not in PREFIX_DIGITS:
                    raise OuiDataError(f"OUI table line {lineno}: malformed")
                out.append(OuiEntry(*parts))
        return out

    @functools.cached_property
    def registrants(self) -> frozenset[str]:
        """Every registrant name in the table."""
        return frozenset(e.registrant for e in self.entries())

    def lookup(self, mac: str) -> OuiEntry | None:
        """The longest IEEE prefix containing `mac`, or None (unassigned, local, not a MAC)."""
        parts = self._row(mac)
        return None if parts is None else OuiEntry(parts[0], parts[1], parts[2])

    def registrant(self, mac: str) -> str | None:
        """The registrant of `mac`'s longest IEEE prefix, or None (identification reads only it)."""
        parts = self._row(mac)
        return None if parts is None else parts[2]

    def _block(self, block: str) -> list[str]:
        rows = self._blocks.get(block)
        if rows is None:
            start, end = self.index.get(block, (0, 0))
            rows = self._blocks[block] = self._raw[start:end].decode("utf-8").split("\n")[:-1]
        return rows

    def _row(self, mac: str) -> list[str] | None:
        value = mac_to_int(mac)
        if value is None:
            return None
        digits12 = f"{value:012X}"
        rows = self._blocks.get(digits12[:2]) or self._block(digits12[:2])
        for digits in PREFIX_DIGITS:
            # The IEEE lists a few MA-L blocks twice (e.g. 080030); the first row wins.
            needle = digits12[:digits] + "\t"
            i = bisect_left(rows, needle)
            if i < len(rows) and rows[i].startswith(needle):
                parts = rows[i].split("\t", 2)
                if len(parts) == 3:
                    return parts
        return None


def _checked_index(raw: bytes, first: int) -> dict[str, list[int]]:
    """Where each block of rows lies in `raw`, once the rows are found sorted and well-formed."""
    body = raw[first:]
    text = body.decode("utf-8")
    if not body.endswith(b"\n"):
        body += b"\n"
    rows = body.split(b"\n")[:-1]
    if b"\r" in body or len(rows) != len(text.splitlines()):
        raise OuiDataError("OUI table rows are malformed (a line break other than LF)")
    # Rows sort as `prefix<TAB>…`; TAB sorts before every hex digit, so a prefix's row sorts
    # before the rows of longer prefixes that extend it and bisect finds it. UTF-8 bytes sort
    # as the text they encode.
    if rows != sorted(rows):
        raise OuiDataError("OUI table rows are not sorted")
    if rows and (rows[0] == b"" or rows[0].count(b"\t") != 2):
        raise OuiDataError("OUI table rows are malformed")
    index: dict[str, list[int]] = {}
    at, block, start = first, None, first
    for row in rows:
        head = row[:2].decode("utf-8", "replace")
        if head != block:
            if block is not None:
                index[block] = [start, at]
            block, start = head, at
        at += len(row) + 1
    if block is not None:
        index[block] = [start, at]
    return index


def _str(row: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise OuiDataError(f"{where}: '{key}' must be a non-empty string")
    return value


def parse_groups(data: dict[str, Any]) -> tuple[list[OuiGroup], dict[str, str]]:
    """Curated groups and exclusions (registrant -> note) from groups.toml's parsed data."""
    groups: list[OuiGroup] = []
    for n, row in enumerate(data.get("group", []), start=1):
        where = f"groups.toml group #{n}"
        names = row.get("registrants")
        if (
            not isinstance(names, list)
            or not names
            or not all(isinstance(x, str) and x for x in names)
        ):
            raise OuiDataError(f"{where}: 'registrants' must be a list of names")
        flags = row.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(x, str) for x in flags):
            raise OuiDataError(f"{where}: 'flags' must be a list of strings")
        try:
            strength = Strength(row.get("strength"))
        except ValueError:
            raise OuiDataError(f"{where}: unknown strength {row.get('strength')!r}") from None
        maker = _str(row, "maker", where, required=False)
        brand = _str(row, "brand", where, required=False)
        if maker is None and brand is None:
            raise OuiDataError(f"{where}: needs a maker or a brand")
        groups.append(
            OuiGroup(
                id=str(_str(row, "id", where)),
                registrants=tuple(names),
                maker=maker,
                brand=brand,
                strength=strength,
                flags=tuple(flags),
                note=str(_str(row, "note", where)),
                source=str(_str(row, "source", where)),
            )
        )
    excluded: dict[str, str] = {}
    for n, row in enumerate(data.get("exclude", []), start=1):
        where = f"groups.toml exclude #{n}"
        _str(row, "source", where)
        excluded[str(_str(row, "registrant", where))] = str(_str(row, "note", where))
    return groups, excluded


_CACHE_KIND = "oui-checked"


@functools.cache
def table() -> OuiTable:
    """The generated IEEE table, loaded on first use."""
    try:
        raw = TABLE_PATH.read_bytes()
    except OSError as exc:
        raise OuiDataError(f"cannot read {TABLE_PATH}: {exc.strerror}") from exc
    # Checking 57,000 rows costs ~10 ms: a table's bytes seen sorted and well-formed before
    # keep their block index in the user's cache, keyed by exactly those bytes.
    key = datacache.digest(b"oui-table/1", raw)
    index = datacache.read(_CACHE_KIND, key)
    if _is_index(index, len(raw)):
        return OuiTable(raw, index)
    checked = OuiTable(raw)
    datacache.write(_CACHE_KIND, key, checked.index)
    return checked


def _is_index(index: Any, size: int) -> TypeGuard[dict[str, list[int]]]:
    return isinstance(index, dict) and all(
        isinstance(k, str) and isinstance(v, list) and len(v) == 2 and 0 <= v[0] <= v[1] <= size
        for k, v in index.items()
    )


@dataclass(frozen=True)
class CuratedGroups:
    """groups.toml: which registrants are a maker's or brand's, and look-alikes that are not."""

    groups: tuple[OuiGroup, ...]
    by_registrant: dict[str, OuiGroup]
    excluded: dict[str, str]  # registrant -> why it is not the group it looks like

    def classify(self, mac: str) -> OuiClaim | None:
        """The maker/brand claim of `mac`'s exact registrant, or None (unknown/excluded)."""
        entry = lookup(mac)
        return None if entry is None else self.claim(entry)

    def claim(self, entry: OuiEntry) -> OuiClaim | None:
        """The maker/brand claim of an IEEE assignment's registrant, or None."""
        group = self.by_registrant.get(entry.registrant)
        if group is None:
            return None
        return OuiClaim(
            fingerprint_id=group.id,
            prefix=entry.prefix,
            registrant=entry.registrant,
            maker=group.maker,
            brand=group.brand,
            strength=group.strength,
            flags=group.flags,
            note=group.note,
        )


def read_groups(path: Path) -> CuratedGroups:
    """The curated map in `path` (a groups.toml); OuiDataError if unreadable or inconsistent."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise OuiDataError(f"cannot load {path}: {exc}") from exc
    return curated_groups(groups_data(path, raw))


def groups_data(path: Path, raw: bytes) -> dict[str, Any]:
    """The parsed TOML of a groups.toml's bytes; OuiDataError if it is not TOML."""
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OuiDataError(f"cannot load {path}: {exc}") from exc


def curated_groups(data: dict[str, Any]) -> CuratedGroups:
    """The curated map from a groups.toml's parsed data; OuiDataError if inconsistent."""
    groups, excluded = parse_groups(data)
    by_name: dict[str, OuiGroup] = {}
    for group in groups:
        for name in group.registrants:
            if name in by_name or name in excluded:
                raise OuiDataError(f"groups.toml: registrant {name!r} listed twice")
            by_name[name] = group
    return CuratedGroups(tuple(groups), by_name, excluded)


@functools.cache
def _curated() -> CuratedGroups:
    return read_groups(GROUPS_PATH)


def groups() -> tuple[OuiGroup, ...]:
    """Every curated group of the shipped map, in file order."""
    return _curated().groups


def exclusions() -> dict[str, str]:
    """Registrants that look like a group but are not it -> why (the shipped map)."""
    return dict(_curated().excluded)


def lookup(mac: str) -> OuiEntry | None:
    """The IEEE assignment (longest prefix) of `mac`, or None."""
    return table().lookup(mac)


def registrant(mac: str) -> str | None:
    """The IEEE registrant (longest prefix) of `mac`, or None."""
    return table().registrant(mac)


def classify(mac: str) -> OuiClaim | None:
    """The shipped map's maker/brand claim of `mac`'s exact registrant, or None."""
    return _curated().classify(mac)
