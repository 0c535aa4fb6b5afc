"""Which devices go into a register export: `--only` makers/brands and a confidence floor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from camscan.models import Confidence
from camscan.output.document import summarize

# Strongest first: a floor of `likely` keeps confirmed and likely.
CONFIDENCE_ORDER = (
    Confidence.CONFIRMED,
    Confidence.LIKELY,
    Confidence.POSSIBLE,
    Confidence.UNDETERMINED,
)


def parse_only(values: Sequence[str] | None) -> frozenset[str]:
    """`--only hikvision,dahua --only lorex` → lower-cased maker/brand names."""
    return frozenset(n.strip().lower() for v in values or () for n in v.split(",") if n.strip())


def wanted(
    device: Mapping[str, Any], only: frozenset[str], min_confidence: Confidence | None
) -> bool:
    """True if the device's maker or brand is in `only` (empty: any) and it is sure enough."""
    v = device["verdict"]
    if only and not {str(v["maker"] or "").lower(), str(v["brand"] or "").lower()} & only:
        return False
    if min_confidence is None:
        return True
    try:
        rank = CONFIDENCE_ORDER.index(Confidence(v["confidence"]))
    except ValueError:
        return False
    return rank <= CONFIDENCE_ORDER.index(min_confidence)


def select_devices(
    doc: Mapping[str, Any],
    only: frozenset[str] = frozenset(),
    min_confidence: Confidence | None = None,
) -> dict[str, Any]:
    """The document with only the wanted devices, its summary counted again over them."""
    if not only and min_confidence is None:
        return dict(doc)
    devices = [d for d in doc["devices"] if wanted(d, only, min_confidence)]
    return {**doc, "summary": summarize(devices), "devices": devices}
