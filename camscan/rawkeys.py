"""Expand raw evidence (whole responses, replies) into structured keys via the protocol parsers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from camscan import discovery, probes
from camscan.context import Expander
from camscan.models import Evidence

# Every raw key with the function that expands it; the tables live beside the protocols.
EXPANDERS: Mapping[str, Expander] = discovery.EXPANDERS | probes.EXPANDERS


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
