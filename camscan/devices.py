"""A host's device record from its evidence: its MAC, its verdict, the errors met on the way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from camscan.identify import identify
from camscan.models import UNDETERMINED, Device, Evidence, Verdict
from camscan.oui import lookup, normalize_mac

_MAC_KEYS = ("mac", "sadp.mac", "dhip.mac", "wsd.epr_mac", "dahua.rpc2_mac")
# A host's CPU budget for identification, as text read: matching is linear in it (RE2), so
# a device that floods evidence costs at most this much; the rest stays in the document.
IDENTIFY_BUDGET_CHARS = 4 * 1024 * 1024


def within_budget(ordered: Sequence[Evidence]) -> tuple[list[Evidence], int]:
    """The items identification reads (in order, up to the budget) and how many it skips."""
    kept: list[Evidence] = []
    used = skipped = 0
    for ev in ordered:
        if used + len(ev.value) > IDENTIFY_BUDGET_CHARS:
            skipped += 1
            continue
        used += len(ev.value)
        kept.append(ev)
    return kept, skipped


def device_mac(evidence: Iterable[Evidence]) -> str | None:
    """The host's MAC: ARP's answer first, then what a discovery reply says."""
    items = sorted(evidence, key=lambda ev: ev.source != "arp")  # stable: ARP's first
    for key in _MAC_KEYS:
        for ev in items:
            if ev.key == key and (mac := normalize_mac(ev.value)):
                return mac
    return None


def build_device(
    host: str,
    evidence: list[Evidence],
    *,
    outside_scope: bool,
    first_seen: float | None,
    identify: Callable[[Sequence[Evidence]], Verdict] = identify,
) -> Device:
    """One device record: evidence sorted, verdict from identification, errors collected."""
    ordered = sorted(evidence, key=Evidence.sort_key)
    mac = device_mac(ordered)
    entry = lookup(mac) if mac else None
    errors = [ev.value for ev in ordered if ev.key == "probe.error"]
    readable, skipped = within_budget(ordered)
    if skipped:
        errors.append(
            f"identification budget: {skipped} evidence items beyond "
            f"{IDENTIFY_BUDGET_CHARS:,} characters are kept but were not read"
        )
    try:
        verdict = identify(readable)
    except Exception as exc:  # one host's odd evidence must not lose every other host
        import logging  # for this rare path alone: `camscan pcap` otherwise never loads it

        logging.getLogger("camscan.pipeline").debug("identify %s failed", host, exc_info=True)
        verdict = UNDETERMINED
        errors.append(f"identification failed: {type(exc).__name__}: {exc}")
    return Device(
        ip=host,
        mac=mac,
        vendor=entry.registrant if entry else None,
        outside_scope=outside_scope,
        first_seen=first_seen,
        evidence=ordered,
        verdict=verdict,
        errors=errors,
    )
