"""Score verdicts against expectations: the held-out real-world set's recall and false calls."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camscan.fingerprints import Library
from camscan.identify import identify
from camscan.models import TARGET_MAKERS, Evidence, Verdict
from camscan.rawkeys import expand

ROW_FIELDS = frozenset({"host", "key", "value", "expect_maker", "expect_brand", "source"})


@dataclass(frozen=True, slots=True)
class HostResult:
    """One held-out host: what an expert attributes, what camscan said."""

    host: str
    expect_maker: str | None
    expect_brand: str | None
    kind: str  # evidence kinds of the host's lines, e.g. 'model' or 'http.server+rtsp.sdp'
    records: int
    verdict: Verdict
    seen: bool  # one of its values is a fingerprint example or counter-example
    known_maker: bool = True  # the expected maker is in the maker vocabulary

    @property
    def positive(self) -> bool:
        """Hikvision or Dahua made it (the values an expert can attribute to one of them)."""
        return self.expect_maker in TARGET_MAKERS

    @property
    def hit(self) -> bool:
        return self.positive and self.verdict.maker == self.expect_maker

    @property
    def false_target(self) -> bool:
        """Hikvision/Dahua named for a device the other maker, or nobody of the two, made."""
        return self.verdict.maker in TARGET_MAKERS and self.verdict.maker != self.expect_maker

    @property
    def wrong_maker(self) -> bool:
        """Any maker named that is not the expected one (for hosts whose maker is known)."""
        return (
            self.verdict.maker is not None
            and self.expect_maker is not None
            and self.verdict.maker != self.expect_maker
        )

    @property
    def rule_limited(self) -> bool:
        """A missed positive whose evidence the rules deliberately keep from naming a maker
        (brand-only or corroborating-only evidence)."""
        v = self.verdict
        return (
            self.positive
            and v.maker is None
            and (v.brand is not None or any("not enough alone" in n for n in v.notes))
        )

    @property
    def group(self) -> str:
        """Maker group for the summary: 'Dahua/Amcrest', 'Uniview', 'other'."""
        if self.expect_maker is None:
            return "(maker unknown)"
        if not self.known_maker:
            return "(other makers, not in the vocabulary)"
        if self.expect_brand and self.expect_brand != self.expect_maker:
            return f"{self.expect_maker}/{self.expect_brand}"
        return self.expect_maker


@dataclass(slots=True)
class Tally:
    """Counts over a set of hosts."""

    hosts: int = 0
    positives: int = 0
    hits: int = 0
    rule_limited: int = 0
    false_target: int = 0
    wrong_maker: int = 0

    def add(self, r: HostResult) -> None:
        self.hosts += 1
        self.positives += r.positive
        self.hits += r.hit
        self.rule_limited += r.positive and not r.hit and r.rule_limited
        self.false_target += r.false_target
        self.wrong_maker += r.wrong_maker

    @property
    def recall(self) -> float | None:
        return self.hits / self.positives if self.positives else None


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a held-out file (blank lines skipped)."""
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _kind(keys: Iterable[str]) -> str:
    # family keys (http.path.<name>, tcp.banner.<port>) count as one kind
    fams = {
        ".".join(k.split(".")[:2]) if k.startswith(("http.path.", "tcp.banner.")) else k
        for k in keys
    }
    return "+".join(sorted(fams))


def library_values(lib: Library) -> set[str]:
    """Every example and counter-example value of the library."""
    return {
        v
        for fp in lib.fingerprints()
        for v in (*(e.value for e in fp.examples), *fp.counter_examples)
    }


def evaluate(rows: list[dict[str, Any]], lib: Library) -> list[HostResult]:
    """One result per host (all its lines identified together), hosts in file order."""
    by_host: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_host.setdefault(str(row["host"]), []).append(row)
    known = library_values(lib)
    out = []
    for host, host_rows in by_host.items():
        evidence = [Evidence(host, "", str(r["key"]), str(r["value"])) for r in host_rows]
        first = host_rows[0]
        out.append(
            HostResult(
                host=host,
                expect_maker=first["expect_maker"],
                expect_brand=first["expect_brand"],
                kind=_kind(str(r["key"]) for r in host_rows),
                records=len(host_rows),
                verdict=identify(expand(evidence), lib),  # offline input: read raw items
                seen=any(str(r["value"]) in known for r in host_rows),
                known_maker=first["expect_maker"] is None or first["expect_maker"] in lib.makers,
            )
        )
    return out


def tally(results: Iterable[HostResult], by: Callable[[HostResult], str]) -> dict[str, Tally]:
    """Counts per value of `by` (evidence kind, maker group), sorted by name."""
    out: dict[str, Tally] = {}
    for r in results:
        out.setdefault(by(r), Tally()).add(r)
    return dict(sorted(out.items()))


def _pct(t: Tally) -> str:
    return "   -  " if t.recall is None else f"{100 * t.recall:5.1f}%"


def report(results: list[HostResult], *, misses: bool = True) -> str:
    """The human summary: totals, then recall and false calls per evidence kind and group."""
    total = Tally()
    for r in results:
        total.add(r)
    reachable = total.positives - total.rule_limited
    lines = [
        f"held-out: {total.hosts} hosts, {total.positives} Hikvision/Dahua, "
        f"{total.hosts - total.positives} other",
        f"maker recall {total.hits}/{total.positives} = {_pct(total).strip()}; "
        f"{total.rule_limited} misses are brand/corroborating-only (rules forbid a maker); "
        f"recall of the rest {total.hits}/{reachable}",
        f"false Hikvision/Dahua {total.false_target}; wrong maker {total.wrong_maker}",
    ]
    unseen = [r for r in results if r.positive and not r.seen]
    lines.append(
        f"positives none of whose values is a fingerprint example: "
        f"{sum(r.hit for r in unseen)}/{len(unseen)} named"
    )
    for title, by in (("evidence kind", lambda r: r.kind), ("maker group", lambda r: r.group)):
        lines.append(f"{'per ' + title:42} hosts  pos  hits recall  false wrong")
        for name, t in tally(results, by).items():
            lines.append(
                f"  {name[:40]:40} {t.hosts:5} {t.positives:4} {t.hits:5} {_pct(t)} "
                f"{t.false_target:5} {t.wrong_maker:5}"
            )
    if misses:
        bad = [r for r in results if (r.positive and not r.hit) or r.false_target or r.wrong_maker]
        lines.append("misses and false calls:")
        for r in bad:
            v = r.verdict
            tag = " [rules forbid a maker]" if r.rule_limited else ""
            lines.append(
                f"  {r.host}: expected {r.expect_maker}/{r.expect_brand}, said "
                f"{v.maker}/{v.brand} ({v.confidence.value}){tag}"
            )
    return "\n".join(lines)


def totals(results: Iterable[HostResult]) -> Tally:
    """One tally over all results."""
    t = Tally()
    for r in results:
        t.add(r)
    return t
