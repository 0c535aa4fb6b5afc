"""Identification: all evidence of one host + the fingerprint library -> one Verdict (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from urllib.parse import unquote

from camscan import linre, oui
from camscan.fingerprints import STRENGTH_RANK, Library, default_library
from camscan.models import (
    TARGET_MAKERS,
    Confidence,
    Conflict,
    DeviceType,
    Evidence,
    Match,
    Strength,
    Verdict,
    new_match,
    new_verdict,
)

# Evidence keys whose value is a MAC address: matched through the OUI tables.
MAC_KEYS = frozenset({"mac", "sadp.mac", "dhip.mac", "wsd.epr_mac", "dahua.rpc2_mac", "arp.reply"})
_SCOPE_MAC = linre.compile(r"^onvif://www\.onvif\.org/MAC/([0-9A-Fa-f:.-]{12,17})$")
_SCOPE_HARDWARE = linre.compile(r"^onvif://www\.onvif\.org/hardware/(.{1,64})$")
# Newer Hikvision firmware names its digest realm after the device MAC ('realm="b4a38201a73f"',
# AlexxIT/go2rtc issue #2232): such a realm goes to the OUI tables like a MAC scope.
_REALM_MAC = linre.compile(r'\brealm="([0-9A-Fa-f]{12})"')
_AUTH_KEYS = frozenset({"http.www_authenticate", "rtsp.www_authenticate", "onvif.www_authenticate"})
# A model pasted with an annotation ('DS-7608NI-K2 (NVR)'): the model rules read it without one.
# Hikvision's own revision suffixes ('-I(C)') have no space before the parenthesis.
_ANNOTATED_MODEL = linre.compile(r"^(\S.*?)\s+\([A-Za-z][A-Za-z /-]{0,30}\)$")
# Plain fields a device reports about itself; earlier keys win (vendor discovery replies
# before free text). How they rank against fingerprint captures: see `decide_fields`.
MODEL_KEYS = (
    "sadp.model",
    "dhip.model",
    "onvif.model",
    "upnp.model_number",
    "upnp.model_name",
    "model",
)
FIRMWARE_KEYS = ("sadp.firmware", "dhip.firmware", "onvif.firmware")
SERIAL_KEYS = ("sadp.serial", "dhip.serial", "onvif.serial", "upnp.serial")
_UNKNOWN_TYPE = DeviceType.UNKNOWN.value
_OTHER_TYPE = DeviceType.OTHER.value


# The steps' own records are plain slotted dataclasses, made and read within one call: built
# several times per host, they cost half a named tuple (whose __new__ is Python) and a
# fraction of a frozen dataclass (whose __init__ sets each field through object.__setattr__).
@dataclass(slots=True)
class _Claim:
    """One match, weighed: how strong it is and which protocol carried its evidence."""

    match: Match
    group: str  # independence group: the protocol that carried the evidence
    rank: int  # 3 conclusive, 2 strong, 1 corroborating (STRENGTH_RANK), read by every step


_CONCLUSIVE, _CORROBORATING = (
    STRENGTH_RANK[Strength.CONCLUSIVE],
    STRENGTH_RANK[Strength.CORROBORATING],
)
# Confidence levels as module constants: reading an Enum member off its class costs five
# times a global on Python 3.11, and the steps read them for every host.
_CONFIRMED = Confidence.CONFIRMED
_LIKELY = Confidence.LIKELY
_POSSIBLE = Confidence.POSSIBLE
_UNDETERMINED = Confidence.UNDETERMINED


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


def _mac_matches(
    lib: Library, ev: Evidence, mac: str, notes: list[str] | None = None
) -> list[Match]:
    """The curated OUI claim of a MAC, else the library's registrant rules (mac.toml); what
    the tables say beyond a claim (group flags, look-alike registrants) goes to `notes`."""
    # The registrant alone, once: the claim, the notes and the registrant rules all read it.
    registrant = oui.registrant(mac)
    if registrant is None:
        return []
    group = lib.oui.by_registrant.get(registrant)
    if group is not None:
        if group.flags and notes is not None:
            notes.append(f"{group.id} ({', '.join(group.flags)}): {group.note}")
        device_type = _OTHER_TYPE if "machine-vision" in group.flags else None
        return [
            new_match(
                group.id, group.strength, ev, group.maker, group.brand or group.maker, device_type
            )
        ]
    look_alike = lib.oui.excluded.get(registrant)
    if look_alike is not None:
        if notes is not None:
            notes.append(f"MAC registrant {registrant!r}: {look_alike}")
        return []
    return lib.match(ev, registrant=registrant)


def match_evidence(lib: Library, ev: Evidence, oui_notes: list[str] | None = None) -> list[Match]:
    """Every match one evidence item produces (fingerprints by key, OUI tables for MACs); the
    OUI tables' notes on a MAC item go to `oui_notes`."""
    if ev.key in MAC_KEYS:
        return _mac_matches(lib, ev, ev.value, oui_notes)
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


def gather_claims(lib: Library, items: list[Evidence]) -> tuple[list[_Claim], list[str]]:
    """Step 1: every match of every item, weighed (PC/NIC vendor OUIs dropped, see below),
    and the OUI tables' notes on the MACs."""
    claims: list[_Claim] = []
    notes: list[str] = []
    for ev in items:
        if matches := match_evidence(lib, ev, notes):  # every match of an item carries that item
            group = _group(ev)
            for m in matches:
                claims.append(_Claim(m, group, STRENGTH_RANK[m.strength]))
    return _drop_it_vendor_ouis(lib, claims), notes


def _drop_it_vendor_ouis(lib: Library, claims: list[_Claim]) -> list[_Claim]:
    """Drop the maker of MAC claims naming PC/NIC vendors outside the maker vocabulary (Dell,
    Intel, ASUS) when any device evidence names a maker: a commodity NIC says nothing about
    the platform (a TruVision recorder on a Dell OUI), while it is all we know of a bare PC."""
    if len(claims) < 2:
        return claims  # one claim is either the device evidence or all there is
    makers = lib.makers
    if all(c.match.maker is None or c.match.maker in makers for c in claims) or not any(
        c.match.maker in makers for c in claims
    ):
        return claims  # nothing outside the vocabulary, or nothing but
    return [c for c in claims if c.match.maker is None or c.match.maker in makers]


def maker_confidence(claims: list[_Claim], maker: str) -> Confidence:
    """How sure the claims naming one maker make us of it.

    Confirmed: one conclusive claim, or strong claims from two independent protocols.
    Likely: strong claims from one protocol. Possible: corroborating claims only, except that
    one corroborating protocol alone never names Hikvision or Dahua (undetermined then).
    """
    strong_groups = set()
    for c in claims:
        if c.rank == _CONCLUSIVE:
            return _CONFIRMED
        if c.rank != _CORROBORATING:
            strong_groups.add(c.group)
    if len(strong_groups) >= 2:
        return _CONFIRMED
    if strong_groups:
        return _LIKELY
    if maker in TARGET_MAKERS and len({c.group for c in claims}) < 2:
        return _UNDETERMINED
    return _POSSIBLE


def _order(m: Match) -> tuple[int, str, tuple[str, str, str, str, int]]:
    return (-STRENGTH_RANK[m.strength], m.fingerprint_id, m.evidence.sort_key())


def _pick(claims: list[_Claim], attr: str) -> tuple[str | None, list[_Claim]]:
    """Strongest value of one field (then most claims, then first by name); its claims."""
    if not claims:
        return None, []
    best: dict[str, list[_Claim]] = {}
    for c in claims:
        value = getattr(c.match, attr)
        if value:
            best.setdefault(value, []).append(c)
    if len(best) < 2:
        return next(iter(best.items()), (None, []))
    value = min(best, key=lambda v: (-max(c.rank for c in best[v]), -len(best[v]), v))
    return value, best[value]


@dataclass(slots=True)
class MakerDecision:
    """Who made the device (None: undetermined), how sure, and what was set aside."""

    maker: str | None
    confidence: Confidence
    conflicts: tuple[Conflict, ...] = ()
    notes: tuple[str, ...] = ()


def decide_maker(claims: list[_Claim]) -> MakerDecision:
    """Step 2: the best-supported maker; rivals with real support are a conflict, never hidden.

    A rival at a lower confidence lowers the winner's confidence one step; rivals as well
    supported leave the maker undetermined. Weak rivals (one corroborating claim) are noted.
    """
    by_maker: dict[str, list[_Claim]] = {}
    for c in claims:
        if maker := c.match.maker:
            by_maker.setdefault(maker, []).append(c)
    if not by_maker:
        return _NO_MAKER
    if len(by_maker) == 1:  # no rival: the maker at its own confidence, if it reaches one
        ((top, top_claims),) = by_maker.items()
        level = maker_confidence(top_claims, top)
        if level is not _UNDETERMINED:
            return MakerDecision(top, level)
        return MakerDecision(None, level, notes=(_weak_note(top, top_claims),))
    levels = {m: maker_confidence(cs, m) for m, cs in by_maker.items()}
    ranked = sorted(
        by_maker, key=lambda m: (-levels[m].rank, -len({c.group for c in by_maker[m]}), m)
    )
    if not ranked or levels[ranked[0]] is _UNDETERMINED:
        weak = tuple(_weak_note(m, by_maker[m]) for m in ranked)
        return MakerDecision(None, _UNDETERMINED, notes=weak)
    top = ranked[0]
    rivals = [
        m
        for m in ranked[1:]
        if levels[m] is not _UNDETERMINED or any(c.rank != _CORROBORATING for c in by_maker[m])
    ]
    notes = [
        f"ignored weak {m} claim from "
        f"{', '.join(sorted(c.match.fingerprint_id for c in by_maker[m]))}"
        for m in ranked[1:]
        if m not in rivals
    ]
    if not rivals:
        return MakerDecision(top, levels[top], notes=tuple(notes))
    sides = (top, *rivals)
    ids = tuple(sorted({c.match.fingerprint_id for m in sides for c in by_maker[m]}))
    conflict = (Conflict("maker", sides, ids),)
    if levels[top].rank > max(levels[m].rank for m in rivals):
        notes.append(f"maker {top} outweighs {', '.join(rivals)}; confidence lowered")
        return MakerDecision(top, levels[top].lowered(), conflict, tuple(notes))
    notes.append(f"maker left undetermined: {' vs '.join(sides)} equally supported")
    return MakerDecision(None, _UNDETERMINED, conflict, tuple(notes))


_NO_MAKER = MakerDecision(None, _UNDETERMINED)


def _weak_note(maker: str, claims: list[_Claim]) -> str:
    ids = ", ".join(sorted(c.match.fingerprint_id for c in claims))
    return f"{maker} suggested by {ids} only (corroborating, not enough alone)"


@dataclass(slots=True)
class BrandDecision:
    """The brand the device is sold under (None: none shown, or a conflict), and its claims."""

    brand: str | None
    claims: tuple[_Claim, ...] = ()
    conflicts: tuple[Conflict, ...] = ()


def decide_brand(lib: Library, usable: list[_Claim], maker: str | None) -> BrandDecision:
    """Step 3: the strongest brand among claims agreeing with the maker; ties are a conflict.

    Another maker's own name cannot be this unit's brand, and the maker's own name yields to
    the brand the unit is sold under (Lorex on a Dahua OUI, Intelbras on TP-Link).
    """
    by_brand: dict[str, list[_Claim]] = {}
    for c in usable:
        b = c.match.brand
        if b and (c.match.maker is None or maker is None or c.match.maker == maker):
            by_brand.setdefault(b, []).append(c)
    if maker is not None and len(by_brand) > 1:
        for b in sorted(by_brand):
            info = lib.brands.get(b)
            if (
                len(by_brand) > 1
                and info is not None
                and info.relation in ("maker", "own")
                and info.maker != maker
            ):
                by_brand.pop(b)
        if len(by_brand) > 1:
            by_brand.pop(maker, None)
    if not by_brand:
        return _NO_BRAND
    if len(by_brand) == 1:
        ((top, top_claims),) = by_brand.items()
        return BrandDecision(top, tuple(top_claims))
    ranked = sorted(
        by_brand,
        key=lambda b: (-max(c.rank for c in by_brand[b]), -len({c.group for c in by_brand[b]}), b),
    )
    top = ranked[0]
    top_rank = max(c.rank for c in by_brand[top])
    rivals = [b for b in ranked[1:] if max(c.rank for c in by_brand[b]) == top_rank]
    if rivals:
        ids = tuple(sorted({c.match.fingerprint_id for b in (top, *rivals) for c in by_brand[b]}))
        return BrandDecision(None, conflicts=(Conflict("brand", (top, *rivals), ids),))
    return BrandDecision(top, tuple(by_brand[top]))


_NO_BRAND = BrandDecision(None)


def _brand_chain_notes(lib: Library, claims: list[_Claim], maker: str | None) -> list[str]:
    """How a brand's evidence named the maker: 'Dahua through its oem brand Amcrest (…)'."""
    out: list[str] = []
    if maker is None:
        return out
    for c in claims:
        brand = c.match.brand
        info = lib.brands.get(brand) if brand else None
        if (
            maker is not None
            and c.match.maker == maker
            and info is not None
            and info.maker == maker
            and info.relation in ("own", "oem")
        ):
            m = c.match
            out.append(
                f"{maker} named through its {info.relation} brand {brand} "
                f"({m.fingerprint_id}: {m.evidence.key}={m.evidence.value!r})"
            )
    return out


def assume_brand(
    lib: Library, brand: BrandDecision, maker: str | None, usable: list[_Claim]
) -> tuple[str | None, list[str]]:
    """Step 4: with no brand evidence the unit is taken to carry its maker's name (noted),
    unless brands conflict or a fingerprint says the platform is sold unbranded."""
    if brand.brand is not None or maker is None or brand.conflicts:
        return brand.brand, []
    if any(lib.sold_unbranded(c.match.fingerprint_id) for c in usable):
        return None, []
    return maker, [f"brand {maker} assumed: no brand evidence (white-label units show theirs)"]


@dataclass(slots=True)
class Fields:
    """Device type, model, firmware and serial, with the claims that set them."""

    device_type: str | None
    model: str | None
    firmware: str | None
    serial: str | None
    claims: tuple[_Claim, ...]


_PLAIN_KEYS = frozenset((*MODEL_KEYS, *FIRMWARE_KEYS, *SERIAL_KEYS))


def _reported(items: list[Evidence]) -> dict[str, str]:
    """Each plain field's first non-blank value (items arrive sorted: the smallest value)."""
    reported: dict[str, str] = {}
    for item in items:
        if item.key in _PLAIN_KEYS and item.key not in reported and (value := item.value.strip()):
            reported[item.key] = value
    return reported


def _first_reported(reported: dict[str, str], keys: tuple[str, ...]) -> str | None:
    """The value of the first of `keys` the device reported."""
    return next((reported[k] for k in keys if k in reported), None)


def _type_from_model(lib: Library, model: str, maker: str | None) -> str | None:
    for fp_file in lib.files_for("model"):
        hit = lib.match_value(fp_file, model)
        if hit is not None and hit[0].device_type and hit[0].maker in (None, maker):
            return hit[0].device_type
    return None


def decide_fields(
    lib: Library, usable: list[_Claim], items: list[Evidence], maker: str | None
) -> Fields:
    """Step 5: device type, model, firmware and serial. The precedence, field by field:

    - device type: the strongest fingerprint that sets one; else what the model rules say of
      the model (only once a maker is known).
    - model and firmware: a fingerprint's capture first (it was read by a rule that knows the
      vendor's format); what the device reports in a plain field (MODEL_KEYS/FIRMWARE_KEYS,
      in that order) only when no rule captured one.
    - serial: the other way round: the device's own serial field (SERIAL_KEYS) first, since
      a rule's capture of a serial is read out of free text and may be a part of it.
    """
    setting = [c for c in usable if (m := c.match).device_type or m.model or m.firmware or m.serial]
    reported = _reported(items)
    if not setting and not reported:
        return _NO_FIELDS
    if len(setting) == 1:  # one claim sets what it sets: nothing to rank
        m = setting[0].match
        device_type, model, firmware, serial = m.device_type, m.model, m.firmware, m.serial
        deciding: tuple[_Claim, ...] = (setting[0],)
    else:
        device_type, type_claims = _pick(setting, "device_type")
        model, model_claims = _pick(setting, "model")
        firmware, firmware_claims = _pick(setting, "firmware")
        serial, serial_claims = _pick(setting, "serial")
        deciding = (*type_claims, *model_claims, *firmware_claims, *serial_claims)
    if reported:
        model = model or _first_reported(reported, MODEL_KEYS)
        firmware = firmware or _first_reported(reported, FIRMWARE_KEYS)
        serial = _first_reported(reported, SERIAL_KEYS) or serial
    if device_type is None and model is not None and maker is not None:
        device_type = _type_from_model(lib, model, maker)
    return Fields(device_type, model, firmware, serial, deciding)


_NO_FIELDS = Fields(None, None, None, None, ())


def decided_by(
    usable: list[_Claim], maker: str | None, deciding: Iterable[_Claim]
) -> tuple[Match, ...]:
    """Step 6: the matches behind the verdict: all naming its maker, and those that set a
    field; strongest first."""
    chosen = set(map(id, deciding))
    matches = []
    for c in usable:
        if (maker is not None and c.match.maker == maker) or id(c) in chosen:
            matches.append(c.match)
    if len(matches) > 1:
        matches.sort(key=_order)
    return tuple(matches)


def identify(evidence: Iterable[Evidence], lib: Library | None = None) -> Verdict:
    """The verdict for one host's evidence: same evidence in any order gives the same verdict.

    Raw items (whole responses) are read as they are: their structured items must be in
    `evidence` already, as every probe emits them (offline input: `rawkeys.expand` first).
    """
    lib = lib or default_library()
    items = list(evidence)
    if len(items) > 1:
        items = sorted(set(items), key=Evidence.sort_key)
    claims, oui_notes = gather_claims(lib, items)
    if not claims and not oui_notes and not _reported(items):
        return _NOTHING  # nothing matched, nothing reported: the common case of a MAC table
    maker = decide_maker(claims)
    usable = [c for c in claims if c.match.maker in (None, maker.maker)]
    brand = decide_brand(lib, usable, maker.maker)
    brand_name, brand_notes = assume_brand(lib, brand, maker.maker, usable)
    fields = decide_fields(lib, usable, items, maker.maker)
    if maker.maker is not None:
        confidence = maker.confidence
    else:  # a brand alone (a white-label name with no maker behind it) is only possible
        confidence = _POSSIBLE if brand_name is not None else _UNDETERMINED
    matches = (
        ()
        if confidence is _UNDETERMINED
        else decided_by(usable, maker.maker, (*brand.claims, *fields.claims))
    )
    notes = (
        *maker.notes,
        *_brand_chain_notes(lib, claims, maker.maker),
        *brand_notes,
        *oui_notes,
    )
    return new_verdict(  # Verdict's fields in order
        maker.maker,
        brand_name,
        fields.device_type or _UNKNOWN_TYPE,
        fields.model,
        fields.firmware,
        fields.serial,
        confidence,
        (*maker.conflicts, *brand.conflicts),
        matches,
        tuple(sorted(set(notes))) if notes else (),
    )


_NOTHING = Verdict(
    maker=None,
    brand=None,
    device_type=_UNKNOWN_TYPE,
    model=None,
    firmware=None,
    serial=None,
    confidence=Confidence.UNDETERMINED,
)


def identify_hosts(evidence: Iterable[Evidence], lib: Library | None = None) -> dict[str, Verdict]:
    """One verdict per host, hosts in sorted order."""
    by_host: dict[str, list[Evidence]] = {}
    for ev in evidence:
        by_host.setdefault(ev.host, []).append(ev)
    return {host: identify(evs, lib) for host, evs in sorted(by_host.items())}
