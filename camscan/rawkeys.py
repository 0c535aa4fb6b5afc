"""Expand raw evidence (whole responses, replies) into structured keys via the protocol parsers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from camscan.context import Expander
from camscan.discovery.registry import EXPANDERS as DISCOVERY_EXPANDERS
from camscan.models import Evidence
from camscan.probes.registry import EXPANDERS as PROBE_EXPANDERS

# Every raw key with the function that expands it; the tables live beside the protocols.
EXPANDERS: Mapping[str, Expander] = DISCOVERY_EXPANDERS | PROBE_EXPANDERS


def expand(evidence: Iterable[Evidence]) -> list[Evidence]:
    """All evidence, with each raw item followed by what its parser reads out of it."""
    out: list[Evidence] = []
    for ev in evidence:
        out.append(ev)
        expander = EXPANDERS.get(ev.key)
        if expander is None:
            continue
        try:
            out.extend(expander(ev))
        except Exception as exc:  # a parser's ParseError: keep the raw item, note the failure
            out.append(
                Evidence(
                    ev.host, ev.source, "probe.error", f"cannot parse {ev.key}: {exc}", ev.port
                )
            )
    return out
