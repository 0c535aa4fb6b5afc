"""Held-out real-world set: maker recall and false calls, and identification speed.

Run: python benchmarks/heldout.py [--file tests/heldout/realworld.jsonl] [--seconds 3] [--misses]
Goals (issue 11): recall >= 95 % on the attributable Hikvision/Dahua hosts (those whose
evidence the rules allow to name a maker; all positives are printed too), 0 false
Hikvision/Dahua, 0 wrong makers; >= 40,000 evidence records/s through identify() on one
core (CPU time).
The peer measured in the same run is the fingerprint matching alone (Library.match over the
same records, no maker resolution), so the ratio shows what identification adds to it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from camscan.evaluation import evaluate, read_rows, report, totals
from camscan.fingerprints import default_library
from camscan.identify import identify
from camscan.models import Evidence

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "tests" / "heldout" / "realworld.jsonl"


def _rate(work: Callable[[], int], seconds: float) -> float:
    """Records per CPU second of `work` (returns how many records one call handled)."""
    count = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        count += work()
    return count / (time.process_time() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--misses", action="store_true", help="list every miss and false call")
    args = parser.parse_args()
    lib = default_library()
    rows = read_rows(args.file)
    results = evaluate(rows, lib)
    print(report(results, misses=args.misses))
    t = totals(results)
    recall = 100 * (t.recall or 0.0)
    attributable = t.positives - t.rule_limited
    reach = 100 * t.hits / attributable if attributable else 0.0
    clean = not t.false_target and not t.wrong_maker
    print(
        f"goal: recall >= 95 % on attributable values (positives whose evidence the rules "
        f"allow to name a maker) and 0 false: {reach:.1f} % ({t.hits}/{attributable}); "
        f"all positives {recall:.1f} %; {t.false_target} false Hikvision/Dahua, "
        f"{t.wrong_maker} wrong maker -> {'met' if reach >= 95 and clean else 'NOT met'}"
    )

    hosts: dict[str, list[Evidence]] = {}
    for row in rows:
        host = str(row["host"])
        hosts.setdefault(host, []).append(Evidence(host, "", str(row["key"]), str(row["value"])))
    groups = list(hosts.values())
    records = [ev for group in groups for ev in group]
    for group in groups:  # warm per-key file lists and the OUI table
        identify(group, lib)

    def run_identify() -> int:
        for group in groups:
            identify(group, lib)
        return len(records)

    def run_match() -> int:
        for ev in records:
            lib.match(ev)
        return len(records)

    full = _rate(run_identify, args.seconds)
    peer = _rate(run_match, args.seconds)
    print(
        f"identify: {full:,.0f} evidence records/s on one core (CPU time; {len(records)} "
        f"records in {len(groups)} hosts); peer Library.match alone {peer:,.0f}/s "
        f"(identify = {full / peer:.2f}x the bare matching); goal >= 40,000/s -> "
        f"{'met' if full >= 40_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
