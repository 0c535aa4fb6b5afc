"""Identification: all evidence of one host + the fingerprint library -> one Verdict (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from camscan import linre, oui, rawkeys
from camscan.fingerprints import STRENGTH_RANK, TARGET_MAKERS, Library, default_library
from camscan.models import Confidence, Conflict, DeviceType, Evidence, Match, Verdict

# Evidence keys whose value is a MAC address: matched through the OUI tables.
MAC_KEYS = frozenset({"mac", "sadp.mac", "dhip.mac", "wsd.epr_mac", "dahua.rpc2_mac",
                      "arp.reply"})
_SCOPE_MAC = linre.compile(r"^onvif://www\.onvif\.org/MAC/([0-9A-Fa-f:.-]{12,17})$")
_SCOPE_HARDWARE = linre.compile(r"^onvif://www\.onvif\.org/hardware/(.{1,64})$")
# Newer Hikvision firmware names its digest realm after the device MAC ('realm="b4a38201a73f"',
# AlexxIT/go2rtc issue #2232): such a realm goes to the OUI tables like a MAC scope.
_REALM_MAC = linre.compile(r'\brealm="([0-9A-Fa-f]{12})"')
_AUTH_KEYS = frozenset({"http.www_authenticate", "rtsp.www_authenticate", "onvif.www_authenticate"})
# A model pasted with an annotation ('DS-7608NI-K2 (NVR)'): the model rules read it without one.
# Hikvision's own revision suffixes ('-I(C)') have no space before the parenthesis.
_ANNOTATED_MODEL = linre.compile(r"^(\S.*?)\s+\([A-Za-z][A-Za-z /-]{0,30}\)$")
# Plain fields a device reports about itself, used when no fingerprint extracted them;
# earlier keys win (vendor discovery replies before free text).
MODEL_KEYS = ("sadp.model", "dhip.model", "onvif.model", "upnp.model_number",
              "upnp.model_name", "model")
FIRMWARE_KEYS = ("sadp.firmware", "dhip.firmware", "onvif.firmware")
SERIAL_KEYS = ("sadp.serial", "dhip.serial", "onvif.serial", "upnp.serial")
# Fingerprints saying the device is deliberately unbranded: the brand is not the maker's.
UNBRANDED = frozenset({"dhip.vendor.unbranded"})
_LEVEL_CONFIDENCE = {3: Confidence.CONFIRMED, 2: Confidence.LIKELY, 1: Confidence.POSSIBLE,
                     0: Confidence.UNDETERMINED}


@dataclass(frozen=True, slots=True)
class _Claim:
    match: Match
    rank: int  # 3 conclusive, 2 strong, 1 corroborating
    group: str  # independence group: the protocol that carried the evidence


_SAME_GROUP = {"https": "http", "rtsps": "rtsp", "arp": "mac"}


def _group(ev: Evidence) -> str:
    """Independence group: the protocol that carried the item (its source, else its key's).

    A MAC inside a reply (SADP, DHIP, ONVIF EPR, RPC2) belongs to that reply, so its OUI does
    not confirm the reply's own claim; a MAC seen by ARP or given offline is its own group."""
    if ev.source and ev.source not in ("offline", "cli", "self-test"):
        return _SAME_GROUP.get(ev.source, ev.source)
    if ev.key in ("mac", "arp.reply"):
        return "mac"
    return ev.key.split(".", 1)[0]


def _mac_matches(lib: Library, ev: Evidence, mac: str) -> list[Match]:
    """The curated OUI claim of a MAC, else the library's registrant rules (mac.toml)."""
    claim = oui.classify(mac)
    if claim is not None:
        device_type = DeviceType.OTHER.value if "machine-vision" in claim.flags else None
        return [Match(fingerprint_id=claim.fingerprint_id, strength=claim.strength,
                      evidence=ev, maker=claim.maker, brand=claim.brand or claim.maker,
                      device_type=device_type)]
    entry = oui.lookup(mac)
    if entry is None or entry.registrant in oui.exclusions():
        return []
    return lib.match(ev, registrant=entry.registrant)


def _oui_notes(items: list[Evidence]) -> list[str]:
    """What the OUI tables say beyond a claim: group flags, and look-alike registrants."""
    out = []
    excluded = oui.exclusions()
    for ev in items:
        if ev.key not in MAC_KEYS:
            continue
        claim = oui.classify(ev.value)
        if claim is not None and claim.flags:
            out.append(f"{claim.fingerprint_id} ({', '.join(claim.flags)}): {claim.note}")
        entry = oui.lookup(ev.value) if claim is None else None
        if entry is not None and entry.registrant in excluded:
            out.append(f"MAC registrant {entry.registrant!r}: {excluded[entry.registrant]}")
    return out


def match_evidence(lib: Library, ev: Evidence) -> list[Match]:
    """Every match one evidence item produces (fingerprints by key, OUI tables for MACs)."""
    if ev.key in MAC_KEYS:
        return _mac_matches(lib, ev, ev.value)
    out = lib.match(ev)
    if ev.value.endswith(")") and (annotated := _ANNOTATED_MODEL.match(ev.value)) is not None:
        for fp_file in lib.files_for(ev.key):
            hit = lib.match_value(fp_file, annotated.group(1)) if fp_file.key == "model" else None
            if hit is not None:
                out.append(lib.to_match(hit[0], hit[1], ev))
    if ev.key in _AUTH_KEYS and (realm := _REALM_MAC.search(ev.value)):
        return out + _mac_matches(lib, ev, realm.group(1))
    if ev.key != "onvif.scope":
        return out
    # Scope values are URL-encoded; a MAC scope goes to the OUI tables and a hardware scope
    # is a model number, read by the model rules like any other.
    out = [replace(m, model=unquote(m.model)) if m.model else m for m in out]
    if mac := _SCOPE_MAC.match(ev.value):
        out.extend(_mac_matches(lib, ev, mac.group(1)))
    if hardware := _SCOPE_HARDWARE.match(ev.value):
        model = unquote(hardware.group(1)).strip()
        for fp_file in lib.files_for("model"):
            hit = lib.match_value(fp_file, model)
            if hit is not None:
                out.append(lib.to_match(hit[0], hit[1], ev))
    return out


def _drop_it_vendor_ouis(lib: Library, claims: list[_Claim]) -> list[_Claim]:
    """Drop the maker of MAC claims naming PC/NIC vendors outside the maker vocabulary (Dell,
    Intel, ASUS) when any device evidence names a maker: a commodity NIC says nothing about
    the platform (a TruVision recorder on a Dell OUI), while it is all we know of a bare PC."""
    if not any(c.match.maker in lib.makers for c in claims):
        return claims
    return [c for c in claims if c.match.maker is None or c.match.maker in lib.makers]


def _level(claims: list[_Claim], maker: str) -> int:
    """3 confirmed, 2 likely, 1 possible, 0 not enough, for the claims naming one maker."""
    if any(c.rank == 3 for c in claims):
        return 3
    strong_groups = {c.group for c in claims if c.rank >= 2}
    if len(strong_groups) >= 2:
        return 3
    if strong_groups:
        return 2
    groups = {c.group for c in claims}
    if maker in TARGET_MAKERS and len(groups) < 2:
        return 0  # one corroborating token never names Hikvision/Dahua
    return 1


def _order(m: Match) -> tuple[int, str, tuple[str, str, str, str, int]]:
    return (-STRENGTH_RANK[m.strength], m.fingerprint_id, m.evidence.sort_key())


def _pick(claims: list[_Claim], attr: str) -> tuple[str | None, list[_Claim]]:
    """Strongest value of one field; the claims that carried it."""
    best: dict[str, list[_Claim]] = {}
    for c in claims:
        value = getattr(c.match, attr)
        if value:
            best.setdefault(value, []).append(c)
    if not best:
        return None, []
    value = min(best, key=lambda v: (-max(c.rank for c in best[v]), -len(best[v]), v))
    return value, best[value]


def _resolve_maker(claims: list[_Claim]) -> tuple[str | None, int, list[Conflict], list[str]]:
    by_maker: dict[str, list[_Claim]] = {}
    for c in claims:
        if c.match.maker:
            by_maker.setdefault(c.match.maker, []).append(c)
    levels = {m: _level(cs, m) for m, cs in by_maker.items()}
    ranked = sorted(by_maker, key=lambda m: (-levels[m],
                                             -len({c.group for c in by_maker[m]}), m))
    notes: list[str] = []
    conflicts: list[Conflict] = []
    if not ranked or levels[ranked[0]] == 0:
        for m in ranked:
            weak = ", ".join(sorted(c.match.fingerprint_id for c in by_maker[m]))
            notes.append(f"{m} suggested by {weak} only (corroborating, not enough alone)")
        return None, 0, conflicts, notes
    top = ranked[0]
    rivals = [m for m in ranked[1:]
              if levels[m] > 0 or any(c.rank >= 2 for c in by_maker[m])]
    for m in ranked[1:]:
        if m not in rivals:
            notes.append(f"ignored weak {m} claim from "
                         f"{', '.join(sorted(c.match.fingerprint_id for c in by_maker[m]))}")
    if not rivals:
        return top, levels[top], conflicts, notes
    sides = [top, *rivals]
    ids = tuple(sorted({c.match.fingerprint_id for m in sides for c in by_maker[m]}))
    conflicts.append(Conflict("maker", tuple(sides), ids))
    if levels[top] > max(levels[m] for m in rivals):
        notes.append(f"maker {top} outweighs {', '.join(rivals)}; confidence lowered")
        return top, levels[top] - 1, conflicts, notes
    notes.append(f"maker left undetermined: {' vs '.join(sides)} equally supported")
    return None, 0, conflicts, notes


def _resolve_brand(lib: Library, claims: list[_Claim], maker: str | None
                   ) -> tuple[str | None, list[_Claim], list[Conflict]]:
    by_brand: dict[str, list[_Claim]] = {}
    for c in claims:
        b = c.match.brand
        if b and (c.match.maker is None or maker is None or c.match.maker == maker):
            by_brand.setdefault(b, []).append(c)
    if maker is not None:
        # Another maker's own name cannot be this unit's brand; the maker's own name yields
        # to the brand the unit is sold under (Lorex on a Dahua OUI, Intelbras on TP-Link).
        for b in sorted(by_brand):
            info = lib.brands.get(b)
            if len(by_brand) > 1 and info is not None and info.relation in ("maker", "own") \
                    and info.maker != maker:
                by_brand.pop(b)
        if len(by_brand) > 1:
            by_brand.pop(maker, None)
    if not by_brand:
        return None, [], []
    ranked = sorted(by_brand, key=lambda b: (-max(c.rank for c in by_brand[b]),
                                             -len({c.group for c in by_brand[b]}), b))
    top = ranked[0]
    top_rank = max(c.rank for c in by_brand[top])
    rivals = [b for b in ranked[1:] if max(c.rank for c in by_brand[b]) == top_rank]
    if rivals:
        ids = tuple(sorted({c.match.fingerprint_id for b in (top, *rivals)
                            for c in by_brand[b]}))
        return None, [], [Conflict("brand", (top, *rivals), ids)]
    return top, by_brand[top], []


def _brand_chain_notes(lib: Library, claims: list[_Claim], maker: str | None) -> list[str]:
    """How a brand's evidence named the maker: 'Dahua through its oem brand Amcrest (…)'."""
    out: list[str] = []
    if maker is None:
        return out
    for c in claims:
        brand = c.match.brand
        info = lib.brands.get(brand) if brand else None
        if maker is not None and c.match.maker == maker and info is not None \
                and info.maker == maker and info.relation in ("own", "oem"):
            m = c.match
            out.append(f"{maker} named through its {info.relation} brand {brand} "
                       f"({m.fingerprint_id}: {m.evidence.key}={m.evidence.value!r})")
    return out


def _first_value(by_key: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The value of the first key present (items arrive sorted, so the smallest value)."""
    for key in keys:
        if key in by_key:
            return by_key[key]
    return None


def _type_from_model(lib: Library, model: str, maker: str | None) -> str | None:
    for fp_file in lib.files_for("model"):
        hit = lib.match_value(fp_file, model)
        if hit is not None and hit[0].device_type and hit[0].maker in (None, maker):
            return hit[0].device_type
    return None


def identify(evidence: Iterable[Evidence], lib: Library | None = None) -> Verdict:
    """The verdict for one host's evidence: same evidence in any order gives the same verdict."""
    lib = lib or default_library()
    items = sorted(set(rawkeys.expand(sorted(set(evidence), key=Evidence.sort_key))),
                   key=Evidence.sort_key)
    claims = _drop_it_vendor_ouis(lib, [_Claim(m, STRENGTH_RANK[m.strength], _group(m.evidence))
                                        for ev in items for m in match_evidence(lib, ev)])
    maker, level, conflicts, notes = _resolve_maker(claims)
    notes.extend(_brand_chain_notes(lib, claims, maker))
    usable = [c for c in claims if c.match.maker in (None, maker)]
    brand, brand_claims, brand_conflicts = _resolve_brand(lib, usable, maker)
    conflicts.extend(brand_conflicts)
    typed = [c for c in usable if c.match.device_type]
    device_type, type_claims = _pick(typed, "device_type")
    model, model_claims = _pick(usable, "model")
    reported: dict[str, str] = {}
    for item in items:
        if item.value.strip():
            reported.setdefault(item.key, item.value.strip())
    model = _first_value(reported, MODEL_KEYS) if model is None else model
    firmware, fw_claims = _pick(usable, "firmware")
    firmware = firmware or _first_value(reported, FIRMWARE_KEYS)
    serial, serial_claims = _pick(usable, "serial")
    serial = _first_value(reported, SERIAL_KEYS) or serial
    if device_type is None and model is not None and maker is not None:
        device_type = _type_from_model(lib, model, maker)
    if brand is None and maker is not None and not brand_conflicts \
            and not any(c.match.fingerprint_id in UNBRANDED for c in usable):
        brand = maker
        notes.append(f"brand {maker} assumed: no brand evidence (white-label units show theirs)")
    if maker is None and brand is None:
        confidence = Confidence.UNDETERMINED
    elif maker is None:
        confidence = Confidence.POSSIBLE
    else:
        confidence = _LEVEL_CONFIDENCE[level]
    deciding = {id(c) for c in (*brand_claims, *type_claims, *model_claims, *fw_claims,
                                *serial_claims)}
    decided = sorted((c.match for c in usable
                      if (maker is not None and c.match.maker == maker) or id(c) in deciding),
                     key=_order)
    notes.extend(_oui_notes(items))
    if maker is None and brand is None and confidence is Confidence.UNDETERMINED:
        decided = []
    return Verdict(maker=maker, brand=brand,
                   device_type=device_type or DeviceType.UNKNOWN.value, model=model,
                   firmware=firmware, serial=serial, confidence=confidence,
                   conflicts=tuple(conflicts), matches=tuple(decided),
                   notes=tuple(sorted(set(notes))))


def identify_hosts(evidence: Iterable[Evidence], lib: Library | None = None
                   ) -> dict[str, Verdict]:
    """One verdict per host, hosts in sorted order."""
    by_host: dict[str, list[Evidence]] = {}
    for ev in evidence:
        by_host.setdefault(ev.host, []).append(ev)
    return {host: identify(evs, lib) for host, evs in sorted(by_host.items())}


def match_to_dict(m: Match) -> dict[str, Any]:
    """A Match as plain data, stable key order."""
    sets = {f: getattr(m, f) for f in ("maker", "brand", "device_type", "model", "firmware",
                                        "serial") if getattr(m, f)}
    return {"fingerprint_id": m.fingerprint_id, "strength": m.strength.value,
            "key": m.evidence.key, "value": m.evidence.value, "source": m.evidence.source,
            "port": m.evidence.port, "sets": sets}


def verdict_to_dict(verdict: Verdict) -> dict[str, Any]:
    """A Verdict as plain data for JSON output, stable key order."""
    return {
        "maker": verdict.maker,
        "brand": verdict.brand,
        "device_type": str(verdict.device_type),
        "model": verdict.model,
        "firmware": verdict.firmware,
        "serial": verdict.serial,
        "confidence": verdict.confidence.value,
        "conflicts": [{"field": c.field, "values": list(c.values),
                       "fingerprint_ids": list(c.fingerprint_ids)} for c in verdict.conflicts],
        "decided_by": [match_to_dict(m) for m in verdict.matches],
        "notes": list(verdict.notes),
    }
