"""Load, validate, compile and self-test the fingerprint library in `fingerprints/`."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeGuard

from camscan import datacache, linre
from camscan.keys import is_known_key
from camscan.models import TARGET_MAKERS, DeviceType, Evidence, Match, Strength, new_match
from camscan.oui import CuratedGroups, OuiDataError, curated_groups, groups_data
from camscan.resources import data_path

DEFAULT_DIR = data_path("fingerprints")
FIELDS = ("maker", "brand", "device_type", "model", "firmware", "serial")
GROUP_FIELDS = frozenset({"brand", "device_type", "model", "firmware", "serial"})
STRENGTH_RANK = {Strength.CONCLUSIVE: 3, Strength.STRONG: 2, Strength.CORROBORATING: 1}


class LibraryError(ValueError):
    """The fingerprint library on disk is malformed (schema, regex or vocabulary)."""


_EXAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["value"],
    "additionalProperties": False,
    "properties": {
        "value": {"type": "string", "minLength": 1},
        "note": {"type": "string"},
        **{f: {"type": "string"} for f in FIELDS},
    },
}
_FINGERPRINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "description", "pattern", "strength", "source", "examples"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9_.-]+$"},
        "description": {"type": "string", "minLength": 3},
        "pattern": {"type": "string", "minLength": 1},
        # RE2 has no look-around: conditions on the rest of the value are patterns of their own
        "all_of": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "none_of": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "strength": {"enum": [s.value for s in Strength]},
        "source": {"type": "string", "minLength": 3},
        "note": {"type": "string"},
        **{f: {"type": "string", "minLength": 1} for f in ("maker", "brand", "device_type")},
        # the device is deliberately sold without a brand: the maker is not assumed as brand
        "unbranded": {"type": "boolean"},
        "examples": {
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [{"type": "string", "minLength": 1}, _EXAMPLE_SCHEMA]},
        },
        "counter_examples": {"type": "array", "items": {"type": "string", "minLength": 1}},
    },
}
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["key", "fingerprint"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string"},
        "description": {"type": "string"},
        "also_keys": {"type": "array", "items": {"type": "string"}},
        "matches": {"enum": ["value", "registrant"]},
        "fingerprint": {"type": "array", "minItems": 1, "items": _FINGERPRINT_SCHEMA},
    },
}
BRANDS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["brand"],
    "additionalProperties": False,
    "properties": {
        "brand": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "relation", "source"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "maker": {"type": "string"},
                    "relation": {"enum": ["maker", "own", "oem", "mixed"]},
                    "aliases": {"type": "array", "items": {"type": "string"}},
                    "evidence": {"type": "string"},
                    "recognise": {"type": "string"},
                    "source": {"type": "string"},
                },
            },
        }
    },
}


@dataclass(frozen=True, slots=True)
class Example:
    """A value a fingerprint must match, and the fields it must yield."""

    value: str
    expect: dict[str, str]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """One compiled library entry."""

    id: str
    key: str
    description: str
    regex: linre.Regex  # matched with RE2: linear time whatever the device sends
    strength: Strength
    source: str
    maker: str | None
    brand: str | None
    device_type: str | None
    examples: tuple[Example, ...]
    counter_examples: tuple[str, ...]
    all_of: tuple[linre.Regex, ...] = ()  # each must also match somewhere in the value
    none_of: tuple[linre.Regex, ...] = ()  # none may match anywhere in the value
    unbranded: bool = False  # a deliberately unbranded device: no brand is assumed for it

    def conditions_hold(self, value: str) -> bool:
        """True when `value` meets the fingerprint's all_of / none_of conditions."""
        return all(r.search(value) is not None for r in self.all_of) and not any(
            r.search(value) is not None for r in self.none_of
        )

    def search(self, value: str) -> linre.Match | None:
        """The fingerprint's match in `value` (its conditions included), or None."""
        if not self.conditions_hold(value):
            return None
        return self.regex.search(value)

    def names_target(self) -> bool:
        """True when a match of this fingerprint says Hikvision or Dahua made the device."""
        return self.maker in TARGET_MAKERS


@dataclass(frozen=True, slots=True)
class FingerprintFile:
    """The fingerprints of one file, tried in order (first match wins within a file)."""

    path: Path
    key: str
    keys: tuple[str, ...]  # `key` plus `also_keys`
    matches: str  # "value", or "registrant" for MAC keys (the IEEE registrant name is matched)
    fingerprints: tuple[Fingerprint, ...]
    # every fingerprint's pattern in one RE2 set: one pass over the value finds the candidates
    patterns: linre.RegexSet | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Brand:
    """A brand and the maker behind it (None when mixed or unknown)."""

    name: str
    maker: str | None
    relation: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Library:
    """The whole compiled library plus its vocabulary; matches evidence by key."""

    files: tuple[FingerprintFile, ...]
    makers: frozenset[str]
    brands: dict[str, Brand]
    device_types: dict[str, str]  # alias (lower-case) -> DeviceType value
    oui: CuratedGroups  # oui/groups.toml: the MAC registrants that name a maker or brand
    version: str = ""  # content hash of the library files, for the scan document
    _brand_alias: dict[str, str] = field(default_factory=dict)
    _by_key: dict[str, tuple[FingerprintFile, ...]] = field(default_factory=dict)
    _by_id: dict[str, Fingerprint] = field(default_factory=dict)
    _unbranded: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for b in self.brands.values():
            for alias in (b.name, *b.aliases):
                self._brand_alias[alias.casefold()] = b.name
        self._by_id.update((fp.id, fp) for fp in self.fingerprints())
        self._unbranded.update(fp.id for fp in self.fingerprints() if fp.unbranded)

    def sold_unbranded(self, fingerprint_id: str) -> bool:
        """True when the fingerprint says its platform is sold without a brand."""
        return fingerprint_id in self._unbranded

    def fingerprint(self, fingerprint_id: str) -> Fingerprint | None:
        """The fingerprint with this id (OUI groups and registrant rules have none here)."""
        return self._by_id.get(fingerprint_id)

    def fingerprints(self) -> Iterator[Fingerprint]:
        """Every fingerprint in library order."""
        for f in self.files:
            yield from f.fingerprints

    def files_for(self, key: str) -> tuple[FingerprintFile, ...]:
        """Files whose fingerprints read `key` (exact keys, then `prefix.` families)."""
        hit = self._by_key.get(key)
        if hit is None:
            hit = tuple(
                f
                for f in self.files
                if any(k == key or (k.endswith(".") and key.startswith(k)) for k in f.keys)
            )
            self._by_key[key] = hit
        return hit

    def normalise_brand(self, raw: str) -> str:
        """Canonical brand name for a raw vendor string (unknown strings kept as given)."""
        text = raw.strip()
        return self._brand_alias.get(text.casefold(), text)

    def normalise_type(self, raw: str) -> str:
        """DeviceType value for a raw device class (unknown -> 'unknown')."""
        return self.device_types.get(raw.strip().casefold(), DeviceType.UNKNOWN.value)

    def match_value(
        self, fp_file: FingerprintFile, value: str
    ) -> tuple[Fingerprint, linre.Match] | None:
        """The first fingerprint of `fp_file` matching `value`, with its regex match."""
        fps = fp_file.fingerprints
        hits = range(len(fps)) if fp_file.patterns is None else fp_file.patterns.matching(value)
        for i in hits:
            fp = fps[i]
            if (fp.all_of or fp.none_of) and not fp.conditions_hold(value):
                continue
            # The set already proved the pattern matches: only captures need a second search.
            m = fp.regex.search(value) if fp.regex.groupindex else linre.NO_GROUPS
            if m is not None:
                return fp, m
        return None

    def to_match(self, fp: Fingerprint, m: linre.Match, ev: Evidence) -> Match:
        """The Match record for `fp` having matched `ev` (named groups fill fields)."""
        if not fp.regex.groupindex:  # most rules capture nothing: the fingerprint says it all
            return new_match(fp.id, fp.strength, ev, fp.maker, fp.brand, fp.device_type)
        # Every named group is one of GROUP_FIELDS (checked at load); an empty one sets nothing.
        groups = m.groupdict()
        brand, maker = fp.brand, fp.maker
        if raw_brand := groups.get("brand"):
            brand = self.normalise_brand(raw_brand)
            info = self.brands.get(brand)
            # A captured maker's own name ("AXIS") names that maker; never a target maker,
            # whose claims must be declared in the fingerprint itself.
            if (
                maker is None
                and info is not None
                and info.relation == "maker"
                and info.maker not in TARGET_MAKERS
            ):
                maker = info.maker
        device_type = fp.device_type
        if raw_type := groups.get("device_type"):
            device_type = self.normalise_type(raw_type)
        return new_match(  # Match's fields in order
            fp.id,
            fp.strength,
            ev,
            maker,
            brand,
            device_type,
            groups.get("model") or None,
            groups.get("firmware") or None,
            groups.get("serial") or None,
        )

    def match(self, ev: Evidence, *, registrant: str | None = None) -> list[Match]:
        """Every file's first matching fingerprint for one evidence item."""
        out: list[Match] = []
        for fp_file in self._by_key.get(ev.key) or self.files_for(ev.key):
            value = registrant if fp_file.matches == "registrant" else ev.value
            if value is None:
                continue
            hit = self.match_value(fp_file, value)
            if hit is not None:
                out.append(self.to_match(hit[0], hit[1], ev))
        return out


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LibraryError(f"{path}: {exc}") from exc


def _parse_toml(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LibraryError(f"{path}: {exc}") from exc


_CACHE_KIND = "fingerprints-checked"
_CACHE_KEPT = datacache.KEPT  # library contents whose checked data stay cached
# What a load of content already checked skips: the TOML parse, the schema check and RE2's
# compiling of every pattern and set. The key holds what those checks depend on (the bytes,
# the schemas, the RE2 build); bump this when a check that a cached load skips changes.
_SKIPPED_CHECKS = b"toml+jsonschema+re2/1"


def _library_files(root: Path) -> list[Path]:
    """Every data file of the library (not the generated OUI table), in a stable order."""
    return sorted(
        [*root.glob("*.toml"), *(root / "vocabulary").glob("*.toml"), root / "oui" / "groups.toml"]
    )


def _cache_key(root: Path, files: list[Path], raws: list[bytes]) -> str:
    return datacache.digest(
        _SKIPPED_CHECKS,
        _schemas_text(),
        linre.engine().encode(),
        *(
            part
            for path, raw in zip(files, raws, strict=True)
            for part in (path.relative_to(root).as_posix().encode(), raw)
        ),
    )


@cache
def _schemas_text() -> bytes:
    return json.dumps([FILE_SCHEMA, BRANDS_SCHEMA], sort_keys=True).encode()


def _content_version(root: Path, files: list[Path], raws: list[bytes]) -> str:
    digest = hashlib.sha256()
    for path, raw in zip(files, raws, strict=True):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + raw)
    return "sha256:" + digest.hexdigest()[:16]


# jsonschema.validate() re-checks the schema on every call; one validator per schema makes
# loading the library several times faster.
_VALIDATORS: dict[int, Any] = {}


def _validate(data: dict[str, Any], schema: dict[str, Any], path: Path) -> None:
    import jsonschema  # ~0.1 s to import: only when a library is actually loaded

    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = jsonschema.validators.validator_for(schema)(schema)
    try:
        validator.validate(data)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise LibraryError(f"{path}: {where}: {exc.message}") from exc


def _compile(pattern: str, fp_id: str, path: Path) -> linre.Regex:
    try:
        return linre.compile(pattern)
    except linre.PatternError as exc:
        raise LibraryError(
            f"{path}: {fp_id}: pattern RE2 cannot compile ({exc}): {pattern!r}"
        ) from None


Compiler = Callable[[str, str, Path], linre.Regex]


def _compile_fp(raw: dict[str, Any], key: str, path: Path, compile: Compiler) -> Fingerprint:
    regex = compile(raw["pattern"], raw["id"], path)
    all_of = tuple(compile(p, raw["id"], path) for p in raw.get("all_of", ()))
    none_of = tuple(compile(p, raw["id"], path) for p in raw.get("none_of", ()))
    unknown = set(regex.groupindex) - GROUP_FIELDS
    if unknown:
        raise LibraryError(f"{path}: {raw['id']}: unknown named groups {sorted(unknown)}")
    examples = tuple(
        Example(e, {})
        if isinstance(e, str)
        else Example(e["value"], {k: v for k, v in e.items() if k in FIELDS})
        for e in raw["examples"]
    )
    return Fingerprint(
        id=raw["id"],
        key=key,
        description=raw["description"],
        regex=regex,
        strength=Strength(raw["strength"]),
        source=raw["source"],
        maker=raw.get("maker"),
        brand=raw.get("brand"),
        device_type=raw.get("device_type"),
        examples=examples,
        counter_examples=tuple(raw.get("counter_examples", ())),
        all_of=all_of,
        none_of=none_of,
        unbranded=raw.get("unbranded", False),
    )


def _vocabulary(docs: dict[str, Any]) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
    makers = docs["vocabulary/makers.toml"]
    types = docs["vocabulary/device_types.toml"]
    brands = docs["vocabulary/brands.toml"]
    aliases: dict[str, str] = {}
    for entry in types["device_type"]:
        value = DeviceType(entry["value"]).value
        for alias in (value, *entry.get("aliases", ())):
            aliases[alias.casefold()] = value
    return (frozenset(m["name"] for m in makers["maker"]), aliases, frozenset(brands["brands"]))


def _parse_and_check(root: Path, files: list[Path], raws: list[bytes]) -> dict[str, Any]:
    """Every file's parsed TOML by relative path, the fingerprint files checked by schema."""
    docs: dict[str, Any] = {}
    for path, raw in zip(files, raws, strict=True):
        name = path.relative_to(root).as_posix()
        if name == "oui/groups.toml":
            try:
                docs[name] = groups_data(path, raw)
            except OuiDataError as exc:
                raise LibraryError(str(exc)) from None
            continue
        docs[name] = _parse_toml(path, raw)
    _validate(docs["brands.toml"], BRANDS_SCHEMA, root / "brands.toml")
    for name in _fingerprint_files(docs):
        _validate(docs[name], FILE_SCHEMA, root / name)
    return docs


def _fingerprint_files(docs: dict[str, Any]) -> list[str]:
    return [n for n in docs if "/" not in n and n != "brands.toml"]


def load(root: Path = DEFAULT_DIR) -> Library:
    """Read, validate and compile the library under `root`; raise LibraryError if malformed."""
    files = _library_files(root)
    for required in ("vocabulary/makers.toml", "vocabulary/device_types.toml", "brands.toml"):
        if root / required not in files:
            files.append(root / required)  # absent: reading it says so in the usual words
    files.sort()
    raws = [_read_bytes(p) for p in files]
    # Content seen valid before (the cache is keyed by exactly these bytes, whoever's files
    # they are) skips the TOML parse (~25 ms), the schema check (~0.25 s with jsonschema's
    # import) and RE2's compiling of ~250 patterns (~35 ms): each pattern then compiles on
    # its first use. Any other content is checked in full here, before anything matches.
    key = _cache_key(root, files, raws)
    kept = datacache.read(_CACHE_KIND, key)
    if _is_kept_library(kept, files, root):
        docs, group_names = kept["docs"], kept["groups"]

        def compile(pattern: str, fp_id: str, path: Path) -> linre.Regex:
            return linre.Regex.deferred(pattern, group_names[pattern])

        lib = _build(root, docs, compile, _content_version(root, files, raws), checked=True)
    else:
        docs = _parse_and_check(root, files, raws)
        lib = _build(root, docs, _compile, _content_version(root, files, raws), checked=False)
        group_names = {
            r.pattern: dict(r.groupindex)
            for fp in lib.fingerprints()
            for r in (fp.regex, *fp.all_of, *fp.none_of)
        }
        datacache.write(_CACHE_KIND, key, {"docs": docs, "groups": group_names})
    return lib


def _is_kept_library(kept: Any, files: list[Path], root: Path) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(kept, dict)
        and isinstance(kept.get("docs"), dict)
        and isinstance(kept.get("groups"), dict)
        and sorted(kept["docs"]) == sorted(p.relative_to(root).as_posix() for p in files)
    )


def _build(
    root: Path, docs: dict[str, Any], compile: Compiler, version: str, *, checked: bool
) -> Library:
    """The library from parsed documents; RE2 sets are built and tried unless `checked`."""
    makers, type_aliases, brand_vocab = _vocabulary(docs)
    brands: dict[str, Brand] = {}
    for b in docs["brands.toml"]["brand"]:
        if b["name"] not in brand_vocab:
            raise LibraryError(f"brands.toml: brand {b['name']!r} not in the vocabulary")
        if b.get("maker") is not None and b["maker"] not in makers:
            raise LibraryError(f"brands.toml: maker {b['maker']!r} not in the vocabulary")
        brands[b["name"]] = Brand(
            b["name"], b.get("maker"), b["relation"], tuple(b.get("aliases", ()))
        )
    device_types = set(type_aliases.values())
    files: list[FingerprintFile] = []
    for name in _fingerprint_files(docs):
        path, data = root / name, docs[name]
        key = data["key"]
        if path.stem != key.rstrip("."):
            raise LibraryError(f"{path}: file name must be the key it reads ({key!r})")
        keys = (key, *data.get("also_keys", ()))
        for k in keys:
            if not is_known_key(k) and k not in ("http.path.", "tcp.banner."):
                raise LibraryError(f"{path}: unknown evidence key {k!r}")
        fps = tuple(_compile_fp(raw, key, path, compile) for raw in data["fingerprint"])
        for fp in fps:
            if fp.maker is not None and fp.maker not in makers:
                raise LibraryError(f"{path}: {fp.id}: maker {fp.maker!r} not in the vocabulary")
            if fp.brand is not None and fp.brand not in brand_vocab:
                raise LibraryError(f"{path}: {fp.id}: brand {fp.brand!r} not in the vocabulary")
            if fp.device_type is not None and fp.device_type not in device_types:
                raise LibraryError(f"{path}: {fp.id}: device type {fp.device_type!r} unknown")
        patterns = [fp.regex.pattern for fp in fps]
        if checked:
            pattern_set = linre.RegexSet.deferred(patterns)
        else:
            try:
                pattern_set = linre.RegexSet(patterns)
            except linre.PatternError as exc:
                raise LibraryError(
                    f"{path}: the file's patterns do not compile together: {exc}"
                ) from None
            # A set whose automaton exceeds its memory budget matches nothing: say so now.
            if 0 not in pattern_set.matching(fps[0].examples[0].value):
                raise LibraryError(
                    f"{path}: {fps[0].id}: the file's pattern set misses its example"
                )
        files.append(
            FingerprintFile(path, key, keys, data.get("matches", "value"), fps, pattern_set)
        )
    try:
        groups = curated_groups(docs["oui/groups.toml"])
    except OuiDataError as exc:
        raise LibraryError(str(exc)) from None
    return Library(tuple(files), makers, brands, type_aliases, groups, version)


def content_version(root: Path) -> str:
    """A short content hash of the library's data files (not the generated OUI table)."""
    if root == DEFAULT_DIR and default_library.cache_info().currsize:
        return default_library().version  # hashed from the bytes it was built from
    files = _library_files(root)
    return _content_version(root, files, [p.read_bytes() for p in files])


@cache
def default_library() -> Library:
    """The library shipped in the repository, loaded once per process."""
    return load(DEFAULT_DIR)


def self_test(lib: Library) -> list[str]:
    """Every way the library breaks its own examples; empty when the library is sound."""
    problems: list[str] = []
    seen_ids: set[str] = set()
    for fp_file in lib.files:
        seen_examples: set[str] = set()
        for fp in fp_file.fingerprints:
            if fp.id in seen_ids:
                problems.append(f"{fp.id}: duplicate id")
            seen_ids.add(fp.id)
            for ex in fp.examples:
                if ex.value in seen_examples:
                    problems.append(f"{fp.id}: duplicate example {ex.value!r}")
                seen_examples.add(ex.value)
                problems.extend(_check_example(lib, fp_file, fp, ex))
            for cex in fp.counter_examples:
                if fp.search(cex):
                    problems.append(f"{fp.id}: matches its counter-example {cex!r}")
                problems.extend(_check_counter_example(lib, fp_file, fp, cex))
    return problems


def _check_counter_example(
    lib: Library, fp_file: FingerprintFile, fp: Fingerprint, cex: str
) -> list[str]:
    """A counter-example may not reach any strong Hikvision/Dahua rule reading the same keys."""
    problems = []
    files = {f.path: f for f in lib.files_for(fp_file.key)}
    for other_file in files.values():
        hit = lib.match_value(other_file, cex)
        if hit is not None and hit[0].names_target() and hit[0].strength != Strength.CORROBORATING:
            problems.append(
                f"{fp.id}: counter-example {cex!r} is taken by {hit[0].id}, "
                f"which names {hit[0].maker}"
            )
    return problems


def _check_example(
    lib: Library, fp_file: FingerprintFile, fp: Fingerprint, ex: Example
) -> list[str]:
    hit = lib.match_value(fp_file, ex.value)
    if hit is None:
        return [f"{fp.id}: example {ex.value!r} matches nothing"]
    first, m = hit
    if first.id != fp.id:
        return [f"{fp.id}: example {ex.value!r} is taken first by {first.id}"]
    got = lib.to_match(fp, m, Evidence("self-test", "self-test", fp.key, ex.value))
    problems = []
    for name, want in ex.expect.items():
        have = getattr(got, name)
        if have != want:
            problems.append(f"{fp.id}: example {ex.value!r} gives {name}={have!r}, want {want!r}")
    return problems


def example_count(lib: Library) -> int:
    """Number of examples in the library."""
    return sum(len(fp.examples) for fp in lib.fingerprints())
