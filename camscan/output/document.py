"""The scan document: a ScanResult as a versioned, key-ordered dict (schemas/scan.schema.json)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import camscan
from camscan.models import (
    TARGET_MAKERS,
    Confidence,
    Conflict,
    Device,
    Evidence,
    Match,
    MethodStats,
    PassiveScope,
    ScanResult,
    ScanScope,
    Strength,
    Verdict,
)
from camscan.targets import host_order

# Bump the minor for additive changes, the major for anything a reader could trip over;
# every bump gets an entry in schemas/MIGRATIONS.md.
SCHEMA_VERSION = "1.1"
TOOL_NAME = "camscan"

# What each method cannot see, in words for the scope statement; keys are the method names
# of ScanScope.probes.
ARP_LIMIT = "ARP cannot see beyond routers: it finds hosts on the scanner's own segment only."
MULTICAST_NAMES = {
    "mdns": "mDNS",
    "ssdp": "SSDP (UPnP)",
    "wsd": "WS-Discovery (ONVIF)",
    "sadp": "SADP (Hikvision)",
    "dhip": "DHIP (Dahua)",
}
MULTICAST_LIMIT = (
    "{names} discovery uses link-local multicast: it reaches only the scanner's "
    "own segment, and only devices that have these services switched on."
)
ROUTED_LIMIT = (
    "The targets are not on a segment of the scanner, so ARP and multicast "
    "discovery could not run: hosts were found by a TCP connect check, and a host "
    "that filters every checked port is not seen."
)
CONNECT_LIMIT = (
    "Without ARP, hosts on the scanner's segment were found by a TCP connect check, "
    "and a host that filters every checked port is not seen."
)
BANNERS_LIMIT = (
    "Banner probes are unauthenticated and read-only: a device that answers "
    "nothing on the probed ports can only be named by discovery or its MAC address."
)
PASSIVE_LIMITS: tuple[str, ...] = (
    "Passive: nothing was sent. Only devices that spoke during the capture, and only what they "
    "said in the clear (ARP, DHCP, mDNS, SSDP, WS-Discovery, SADP, DHIP, SNMP, plain HTTP and "
    "RTSP, TLS 1.2 certificates, LLDP, CDP, over IPv4), can be named; a silent device is not "
    "seen.",
    "A capture holds only what reached its port: on a switch, unicast between other hosts is "
    "not heard unless the port mirrors it.",
    "A MAC address is credited to a host only when its frames can only be its own; a device "
    "heard through a router is named by the MAC inside its SADP or DHIP reply, if any.",
)
PASSIVE_TOO_LIMIT = (
    "Hosts the scan did not probe are also listed when they were heard during "
    "the scan (gratuitous ARP, NOTIFY, Hello, DHCP); they were not probed."
)
GENERAL_LIMITS: tuple[str, ...] = (
    "A device that is switched off, disconnected or firewalled during the scan is not seen.",
    "Without credentials, model, firmware and serial are reported only when a device "
    "discloses them to anyone who asks.",
    "Devices sold under other brands may carry that brand's MAC prefix, so a MAC address alone "
    "neither proves nor rules out Hikvision or Dahua hardware.",
    "A device reported as undetermined was seen but could not be identified; it is not proof "
    "that the device is not Hikvision or Dahua.",
)


# -- building ---------------------------------------------------------------------------------


def build_document(result: ScanResult, *, fingerprint_version: str | None = None) -> dict[str, Any]:
    """The complete scan document, keys in schema order, devices ordered by address."""
    devices = [device_to_dict(d) for d in sort_devices(result.devices)]
    return {
        **header_fields(
            result.scope,
            result.started,
            site=result.site,
            operator=result.operator,
            fingerprint_version=fingerprint_version,
        ),
        "finished": result.finished,
        "complete": result.complete,
        "stats": stats_to_dict(result.stats),
        "summary": summarize(devices),
        "devices": devices,
        "errors": list(result.errors),
    }


def as_document(
    obj: ScanResult | Mapping[str, Any], *, fingerprint_version: str | None = None
) -> Mapping[str, Any]:
    """A document: built from a ScanResult, or a (saved) document passed through as is."""
    if isinstance(obj, ScanResult):
        return build_document(obj, fingerprint_version=fingerprint_version)
    return obj


def header_fields(
    scope: ScanScope,
    started: str,
    *,
    site: str | None,
    operator: str | None,
    fingerprint_version: str | None,
) -> dict[str, Any]:
    """The part of the document known before the first packet (shared with the NDJSON header)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": camscan.__version__},
        "fingerprints": {"version": fingerprint_version},
        "site": site,
        "operator": operator,
        "started": started,
        "scope": scope_to_dict(scope),
    }


def scope_to_dict(scope: ScanScope) -> dict[str, Any]:
    """The scope statement, with the plain-language limits of the methods that were used."""
    return {
        "targets": list(scope.targets),
        "exclusions": list(scope.exclusions),
        "interface": scope.interface,
        "probes": list(scope.probes),
        "ports": list(scope.ports),
        "rate": scope.rate,
        "retries": scope.retries,
        "address_count": scope.address_count,
        "listen_window_s": scope.listen_window_s,
        "limits": scope_limits(scope),
        **({"passive": passive_to_dict(scope.passive)} if scope.passive is not None else {}),
    }


def passive_to_dict(p: PassiveScope) -> dict[str, Any]:
    """The passive part of the scope statement: where it listened, the span, what it heard."""
    return {
        "statement": p.statement,
        "files": list(p.files),
        "first_packet": p.first_packet,
        "last_packet": p.last_packet,
        "packets": p.packets,
        "packets_by_protocol": dict(sorted(p.packets_by_protocol.items())),
        "problems": list(p.problems),
    }


def scope_limits(scope: ScanScope) -> list[str]:
    """What the scan's methods, and any scan, cannot see."""
    used = set(scope.probes)
    limits: list[str] = []
    if scope.passive is not None and not scope.targets:
        return [*PASSIVE_LIMITS, *GENERAL_LIMITS]
    if scope.passive is not None:
        limits.append(PASSIVE_TOO_LIMIT)
    if scope.interface is None:
        limits.append(ROUTED_LIMIT)
    else:
        if "arp" in used:
            limits.append(ARP_LIMIT)
        elif "banners" in used:
            limits.append(CONNECT_LIMIT)
        names = [name for key, name in MULTICAST_NAMES.items() if key in used]
        if names:
            limits.append(MULTICAST_LIMIT.format(names=english_list(names)))
    if "banners" in used:
        limits.append(BANNERS_LIMIT)
    return limits + list(GENERAL_LIMITS)


def english_list(words: Sequence[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


_OPTIONAL_STATS = ("retried", "rate_used", "latency_ms", "kernel_dropped")


def stats_to_dict(stats: Mapping[str, MethodStats]) -> dict[str, dict[str, Any]]:
    """Per-method traffic figures, methods in name order; optional figures only when measured."""
    out: dict[str, dict[str, Any]] = {}
    for name, s in sorted(stats.items()):
        entry: dict[str, Any] = {
            "sent": s.sent,
            "answered": s.answered,
            "errors": s.errors,
            "dropped": s.dropped,
            "duration_s": s.duration_s,
            "notes": list(s.notes),
        }
        for key in _OPTIONAL_STATS:
            if (value := getattr(s, key)) is not None:
                entry[key] = dict(value) if isinstance(value, dict) else value
        out[name] = entry
    return out


def device_to_dict(device: Device) -> dict[str, Any]:
    """One device: where, what (verdict), its risk notes, everything seen, what went wrong."""
    from camscan.risks import risk_notes

    out: dict[str, Any] = {
        "ip": device.ip,
        "mac": device.mac,
        "vendor": device.vendor,
        "outside_scope": device.outside_scope,
        "first_seen_s": device.first_seen,
        "verdict": verdict_dict(device.verdict),
        "risks": [],
        "evidence": [evidence_to_dict(ev) for ev in sorted(device.evidence, key=Evidence.sort_key)],
        "errors": list(device.errors),
    }
    out["risks"] = [n.to_dict() for n in risk_notes(out)]
    return out


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """The verdict of one device in document shape: identify's dict plus `white_label`."""
    d = verdict_to_dict(verdict)
    out: dict[str, Any] = {}
    for key, value in d.items():
        out[key] = value
        if key == "brand":
            out["white_label"] = is_white_label(verdict.maker, verdict.brand)
    return out


def match_to_dict(m: Match) -> dict[str, Any]:
    """A Match as plain data, stable key order."""
    sets = {
        f: getattr(m, f)
        for f in ("maker", "brand", "device_type", "model", "firmware", "serial")
        if getattr(m, f)
    }
    return {
        "fingerprint_id": m.fingerprint_id,
        "strength": m.strength.value,
        "key": m.evidence.key,
        "value": m.evidence.value,
        "source": m.evidence.source,
        "port": m.evidence.port,
        "sets": sets,
    }


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
        "conflicts": [
            {"field": c.field, "values": list(c.values), "fingerprint_ids": list(c.fingerprint_ids)}
            for c in verdict.conflicts
        ],
        "decided_by": [match_to_dict(m) for m in verdict.matches],
        "notes": list(verdict.notes),
    }


def evidence_to_dict(ev: Evidence) -> dict[str, Any]:
    """One evidence item, all fields."""
    return {
        "host": ev.host,
        "source": ev.source,
        "key": ev.key,
        "value": ev.value,
        "port": ev.port,
        "raw": ev.raw,
    }


def uncited(device: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `decided_by` entries of a device dict whose item is not in its `evidence` list."""
    held = {(e["source"], e["key"], e["value"], e["port"]) for e in device["evidence"]}
    return [
        m
        for m in device["verdict"]["decided_by"]
        if (m["source"], m["key"], m["value"], m["port"]) not in held
    ]


def is_white_label(maker: str | None, brand: str | None) -> bool:
    """True for a Hikvision/Dahua device sold under another brand name."""
    return maker in TARGET_MAKERS and brand is not None and brand != maker


def sort_devices(devices: Iterable[Device]) -> list[Device]:
    """Devices by numeric address; non-address hosts last, by name."""
    return sorted(devices, key=lambda d: host_order(d.ip))


def _ranked(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def summarize(devices: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts over device dicts: by maker, brand, type, confidence; conflicts; undetermined."""
    makers: Counter[str] = Counter()
    brands: Counter[str] = Counter()
    types: Counter[str] = Counter()
    white: Counter[str] = Counter()
    confidence: dict[str, int] = {str(c): 0 for c in Confidence}
    risks: Counter[str] = Counter()
    conflicts = undetermined = outside = 0
    for d in devices:
        risks.update({note["id"] for note in d.get("risks", ())})
        v = d["verdict"]
        if v["maker"]:
            makers[v["maker"]] += 1
        if v["brand"]:
            brands[v["brand"]] += 1
        if v["white_label"]:
            white[v["brand"]] += 1
        types[v["device_type"]] += 1
        confidence[v["confidence"]] = confidence.get(v["confidence"], 0) + 1
        conflicts += bool(v["conflicts"])
        undetermined += v["confidence"] == Confidence.UNDETERMINED
        outside += bool(d["outside_scope"])
    return {
        "devices": len(devices),
        "hikvision": makers["Hikvision"],
        "dahua": makers["Dahua"],
        "white_label": _ranked(white),
        "by_maker": _ranked(makers),
        "by_brand": _ranked(brands),
        "by_type": _ranked(types),
        "by_confidence": confidence,
        "conflicts": conflicts,
        "undetermined": undetermined,
        "outside_scope": outside,
        "risks": _ranked(risks),
    }


# -- reading back -----------------------------------------------------------------------------


def document_to_result(doc: Mapping[str, Any]) -> ScanResult:
    """The ScanResult a document was built from (fingerprint version and summary are derived)."""
    s = doc["scope"]
    scope = ScanScope(
        targets=list(s["targets"]),
        exclusions=list(s["exclusions"]),
        interface=s["interface"],
        probes=list(s["probes"]),
        ports=list(s["ports"]),
        rate=s["rate"],
        retries=s["retries"],
        address_count=s["address_count"],
        listen_window_s=s["listen_window_s"],
        passive=_passive_from_dict(s.get("passive")),
    )
    stats = {
        name: MethodStats(
            method=name,
            sent=v["sent"],
            answered=v["answered"],
            errors=v["errors"],
            dropped=v["dropped"],
            duration_s=v["duration_s"],
            notes=list(v["notes"]),
            **{k: v[k] for k in _OPTIONAL_STATS if k in v},
        )
        for name, v in doc["stats"].items()
    }
    return ScanResult(
        scope=scope,
        started=doc["started"],
        finished=doc["finished"],
        complete=doc["complete"],
        stats=stats,
        devices=[device_from_dict(d) for d in doc["devices"]],
        site=doc["site"],
        operator=doc["operator"],
        errors=list(doc["errors"]),
    )


def _passive_from_dict(p: Mapping[str, Any] | None) -> PassiveScope | None:
    if p is None:
        return None
    return PassiveScope(
        statement=p["statement"],
        files=list(p["files"]),
        first_packet=p["first_packet"],
        last_packet=p["last_packet"],
        packets=p["packets"],
        packets_by_protocol=dict(p["packets_by_protocol"]),
        problems=list(p["problems"]),
    )


def device_from_dict(d: Mapping[str, Any]) -> Device:
    """A Device from its document dict."""
    evidence = [
        Evidence(
            host=e["host"],
            source=e["source"],
            key=e["key"],
            value=e["value"],
            port=e["port"],
            raw=e["raw"],
        )
        for e in d["evidence"]
    ]
    return Device(
        ip=d["ip"],
        mac=d["mac"],
        vendor=d["vendor"],
        outside_scope=d["outside_scope"],
        first_seen=d["first_seen_s"],
        evidence=evidence,
        verdict=_verdict_from_dict(d["verdict"], d["ip"], evidence),
        errors=list(d["errors"]),
    )


def _verdict_from_dict(v: Mapping[str, Any], host: str, evidence: list[Evidence]) -> Verdict:
    # decided_by names evidence by (source, key, value, port); every item it cites is in the
    # device's own list (a document that cites anything else is not one camscan wrote).
    full = {(e.source, e.key, e.value, e.port): e for e in evidence}
    matches = []
    for m in v["decided_by"]:
        ev = full.get((m["source"], m["key"], m["value"], m["port"]))
        if ev is None:
            raise ValueError(
                f"{host}: decided_by cites {m['key']}={m['value'][:60]!r}, "
                "which is not in the device's evidence"
            )
        sets = m["sets"]
        matches.append(
            Match(
                fingerprint_id=m["fingerprint_id"],
                strength=Strength(m["strength"]),
                evidence=ev,
                maker=sets.get("maker"),
                brand=sets.get("brand"),
                device_type=sets.get("device_type"),
                model=sets.get("model"),
                firmware=sets.get("firmware"),
                serial=sets.get("serial"),
            )
        )
    return Verdict(
        maker=v["maker"],
        brand=v["brand"],
        device_type=v["device_type"],
        model=v["model"],
        firmware=v["firmware"],
        serial=v["serial"],
        confidence=Confidence(v["confidence"]),
        conflicts=tuple(
            Conflict(
                field=c["field"],
                values=tuple(c["values"]),
                fingerprint_ids=tuple(c["fingerprint_ids"]),
            )
            for c in v["conflicts"]
        ),
        matches=tuple(matches),
        notes=tuple(v["notes"]),
    )
