"""Risk notes: what a device disclosed, held against published advisories (fingerprints/risks/).

Pure functions over a document's device dict; nothing is ever sent to confirm a vulnerability.
The advisory file is data with examples that must and must not match; `self_test` runs them.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from camscan import datacache, linre
from camscan.resources import data_path

DEFAULT_FILE = data_path("fingerprints", "risks", "advisories.toml")
SEVERITIES = ("critical", "high", "medium", "low")
CERTAINTIES = ("in range", "check", "disclosed")
KINDS = ("firmware", "evidence", "plaintext_web")


class RiskDataError(ValueError):
    """The advisory file is malformed; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Range:
    """One affected range: a model pattern (optional), versions and builds, both inclusive."""

    model: linre.Regex | None
    versions: tuple[tuple[int, ...], tuple[int, ...]] | None
    builds: tuple[str, str] | None


@dataclass(frozen=True, slots=True)
class Advisory:
    """One advisory or risky state, and how a device's disclosed facts are held against it."""

    id: str
    kind: str
    title: str
    severity: str
    certainty: str
    advice: str
    sources: tuple[str, ...]
    cves: tuple[str, ...] = ()
    makers: frozenset[str] = frozenset()
    model_required: bool = False
    firmware: linre.Regex | None = None
    ranges: tuple[Range, ...] = ()
    key: str | None = None
    pattern: linre.Regex | None = None
    in_raw: bool = False
    must_match: tuple[Mapping[str, Any], ...] = ()
    must_not_match: tuple[Mapping[str, Any], ...] = field(default=())

    def applies(self, device: Mapping[str, Any]) -> str | None:
        """Why this advisory applies to a device dict (one line), or None."""
        v = device["verdict"]
        if self.makers and v["maker"] not in self.makers:
            return None
        if self.kind == "firmware":
            return self._firmware(v)
        evidence: Sequence[Mapping[str, Any]] = device["evidence"]
        if self.kind == "evidence":
            assert self.pattern is not None
            for ev in evidence:
                if ev["key"] != self.key:
                    continue
                text = (ev.get("raw") or "") if self.in_raw else ev["value"]
                if self.pattern.search(str(text)):
                    return f"{ev['source'] or 'discovery'} reply: {self.key} says so"
            return None
        keys = {str(ev["key"]) for ev in evidence}
        if any(k.startswith("http.") for k in keys) and not any(k.startswith("tls.") for k in keys):
            return "HTTP answered and no probed port spoke TLS"
        return None

    def _firmware(self, v: Mapping[str, Any]) -> str | None:
        assert self.firmware is not None
        fw, model = v["firmware"], v["model"]
        m = self.firmware.search(fw) if fw else None
        if m is None:
            return None
        version = _version(m.group("version"))
        build = m.groupdict().get("build")
        for r in self.ranges:
            if r.model is not None:
                if model is None:
                    if self.model_required:
                        continue
                elif not r.model.match(model):
                    continue
            if r.versions is not None and not r.versions[0] <= version <= r.versions[1]:
                continue
            if r.builds is not None and (build is None or not r.builds[0] <= build <= r.builds[1]):
                continue
            what = f"firmware {fw}" + (f" on {model}" if model else " (model not disclosed)")
            return f"{what} is in the range the advisory names"
        return None


@dataclass(frozen=True, slots=True)
class RiskNote:
    """One note on one device."""

    id: str
    title: str
    severity: str
    certainty: str
    cves: tuple[str, ...]
    detail: str
    advice: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        """Document shape (schemas/scan.schema.json, devices[].risks[])."""
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "certainty": self.certainty,
            "cves": list(self.cves),
            "detail": self.detail,
            "advice": self.advice,
            "source": self.source,
        }


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".") if p.isdigit())


Compiler = Callable[[str], linre.Regex]


def _regex(
    entry: Mapping[str, Any], name: str, text: str | None, compile: Compiler
) -> linre.Regex | None:
    if text is None:
        return None
    try:
        return compile(text)
    except linre.PatternError as exc:
        raise RiskDataError(f"advisory {entry.get('id')!r}: {name}: {exc}") from None


def _range(entry: Mapping[str, Any], r: Mapping[str, Any], compile: Compiler) -> Range:
    versions = r.get("versions")
    builds = r.get("builds")
    return Range(
        model=_regex(entry, "model", r.get("model"), compile),
        versions=(_version(versions[0]), _version(versions[1])) if versions else None,
        builds=(str(builds[0]), str(builds[1])) if builds else None,
    )


REQUIRED = (
    "id",
    "kind",
    "title",
    "severity",
    "certainty",
    "advice",
    "sources",
    "must_match",
    "must_not_match",
)


def parse(data: Mapping[str, Any], compile: Compiler = linre.compile) -> tuple[Advisory, ...]:
    """Advisories from the file's TOML data, validated."""
    out: list[Advisory] = []
    seen: set[str] = set()
    for entry in data.get("advisory", ()):
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise RiskDataError(f"advisory {entry.get('id')!r}: missing {', '.join(missing)}")
        if entry["id"] in seen:
            raise RiskDataError(f"advisory {entry['id']!r} appears twice")
        seen.add(entry["id"])
        for name, allowed in (
            ("kind", KINDS),
            ("severity", SEVERITIES),
            ("certainty", CERTAINTIES),
        ):
            if entry[name] not in allowed:
                raise RiskDataError(
                    f"advisory {entry['id']!r}: {name} must be one of {', '.join(allowed)}"
                )
        makers = frozenset(entry.get("makers", ())) | (
            {entry["maker"]} if "maker" in entry else set()
        )
        ranges = tuple(_range(entry, r, compile) for r in entry.get("ranges", ()))
        if entry["kind"] == "firmware" and not ranges:
            ranges = (_range(entry, entry, compile),)
        if entry["kind"] == "firmware" and "firmware" not in entry:
            raise RiskDataError(f"advisory {entry['id']!r}: a firmware advisory needs firmware")
        if entry["kind"] == "evidence" and ("key" not in entry or "pattern" not in entry):
            raise RiskDataError(
                f"advisory {entry['id']!r}: an evidence advisory needs key and pattern"
            )
        out.append(
            Advisory(
                id=entry["id"],
                kind=entry["kind"],
                title=entry["title"],
                severity=entry["severity"],
                certainty=entry["certainty"],
                advice=entry["advice"],
                sources=tuple(entry["sources"]),
                cves=tuple(entry.get("cves", ())),
                makers=makers,
                model_required=bool(entry.get("model_required", False)),
                firmware=_regex(entry, "firmware", entry.get("firmware"), compile),
                ranges=ranges,
                key=entry.get("key"),
                pattern=_regex(entry, "pattern", entry.get("pattern"), compile),
                in_raw=bool(entry.get("in_raw", False)),
                must_match=tuple(entry["must_match"]),
                must_not_match=tuple(entry["must_not_match"]),
            )
        )
    if not out:
        raise RiskDataError("no advisories")
    return tuple(out)


_CACHE_KIND = "advisories-checked"


def load(path: Path = DEFAULT_FILE) -> tuple[Advisory, ...]:
    """The advisories in `path`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RiskDataError(f"{path}: {exc}") from None
    # Bytes seen valid before skip the TOML parse and RE2's compiling (each pattern compiles
    # on first use); the entries' own checks run on every load.
    key = datacache.digest(b"advisories/1", linre.engine().encode(), raw)
    kept = datacache.read(_CACHE_KIND, key)
    if isinstance(kept, dict) and isinstance(kept.get("groups"), dict) and "data" in kept:
        groups: dict[str, dict[str, int]] = kept["groups"]
        return parse(kept["data"], lambda text: linre.Regex.deferred(text, groups[text]))
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RiskDataError(f"{path}: {exc}") from None
    advisories = parse(data)
    patterns = (
        r
        for a in advisories
        for r in (a.firmware, a.pattern, *(x.model for x in a.ranges))
        if r is not None
    )
    datacache.write(
        _CACHE_KIND,
        key,
        {"data": data, "groups": {r.pattern: dict(r.groupindex) for r in patterns}},
    )
    return advisories


@cache
def default_advisories() -> tuple[Advisory, ...]:
    """The packaged advisory file, loaded once."""
    return load()


def risk_notes(
    device: Mapping[str, Any], advisories: Iterable[Advisory] | None = None
) -> list[RiskNote]:
    """The notes that apply to one document device dict, in file order."""
    notes = []
    for adv in default_advisories() if advisories is None else advisories:
        why = adv.applies(device)
        if why is not None:
            notes.append(
                RiskNote(
                    adv.id,
                    adv.title,
                    adv.severity,
                    adv.certainty,
                    adv.cves,
                    why,
                    adv.advice,
                    adv.sources[0],
                )
            )
    return notes


def example_device(example: Mapping[str, Any]) -> dict[str, Any]:
    """A minimal device dict from an advisory example (maker, model, firmware, evidence)."""
    evidence = [
        {
            "source": e.get("source", "test"),
            "key": e["key"],
            "value": e["value"],
            "raw": e.get("raw"),
        }
        for e in example.get("evidence", ())
    ]
    return {
        "verdict": {
            "maker": example.get("maker"),
            "model": example.get("model"),
            "firmware": example.get("firmware"),
        },
        "evidence": evidence,
    }


def self_test(advisories: Iterable[Advisory] | None = None) -> list[str]:
    """Every example of every advisory held against it; the failures, one line each."""
    failures = []
    for adv in default_advisories() if advisories is None else advisories:
        for ex in adv.must_match:
            if adv.applies(example_device(ex)) is None:
                failures.append(f"{adv.id}: must match {dict(ex)}")
        for ex in adv.must_not_match:
            if adv.applies(example_device(ex)) is not None:
                failures.append(f"{adv.id}: must not match {dict(ex)}")
    return failures


def with_risks(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document with `risks` on every device that lacks them (documents before 1.1)."""
    if all("risks" in d for d in doc["devices"]) and "risks" in doc["summary"]:
        return dict(doc)
    from camscan.output.document import summarize

    devices = [
        d if "risks" in d else {**d, "risks": [n.to_dict() for n in risk_notes(d)]}
        for d in doc["devices"]
    ]
    return {
        **doc,
        "summary": {**doc["summary"], "risks": summarize(devices)["risks"]},
        "devices": devices,
    }


def has_risks(doc: Mapping[str, Any], min_severity: str = "low") -> bool:
    """True if any device carries a note at least as severe as `min_severity`."""
    worst = SEVERITIES.index(min_severity)
    return any(
        SEVERITIES.index(r["severity"]) <= worst for d in doc["devices"] for r in d.get("risks", ())
    )
