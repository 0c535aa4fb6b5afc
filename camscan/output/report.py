"""The FOI-ready report: one self-contained HTML file (optionally PDF) from scan documents.

No external assets: CSS and the SVG charts are inline. Every device-supplied string is
HTML-escaped, since a device can put markup in its banner.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import camscan
from camscan.models import TARGET_MAKERS, ScanResult
from camscan.output.document import as_document, english_list, summarize
from camscan.output.jsonout import atomic_write_bytes, atomic_write_text
from camscan.targets import host_order

Doc = Mapping[str, Any]
EVIDENCE_VALUE_MAX = 80
EVIDENCE_ITEMS_MAX = 3  # strongest first; the JSON document keeps every match
HEADLINE_BRANDS_MAX = 4
# Fill as SVG attributes, not CSS: PDF renderers do not all style inline SVG from the page CSS.
BAR_FILL = {"bar-target": "#8b1a1a", "bar-other": "#8a8f98", "bar-unknown": "#c9c9c9"}
NO_SITE = "(no site label)"
REPORT_SUFFIXES = (".html", ".htm", ".pdf")


class ReportError(Exception):
    """The report cannot be written; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class SiteDevice:
    """A device dict with the site of the scan it came from."""

    site: str
    device: Mapping[str, Any]


def e(value: object) -> str:
    """HTML-escaped text of any value; None is a dash."""
    return "—" if value is None or value == "" else html.escape(str(value), quote=True)


def _short(text: str, limit: int = EVIDENCE_VALUE_MAX) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_time(iso: str | None) -> str:
    """`2026-11-23T02:14:00+00:00` → `23 November 2026, 02:14 UTC`; other text unchanged."""
    if not iso:
        return "not recorded"
    try:
        t = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is not None:
        t = t.astimezone(UTC)
    return f"{t.day} {t:%B %Y, %H:%M} UTC"


def is_listed(device: Mapping[str, Any]) -> bool:
    """Devices listed one by one: Hikvision, Dahua (any brand), or a conflict naming one."""
    v = device["verdict"]
    if v["maker"] in TARGET_MAKERS:
        return True
    return any(val in TARGET_MAKERS for c in v["conflicts"] for val in c["values"])


# -- sentences ----------------------------------------------------------------------------


def headline(summary: Mapping[str, Any], scans: int = 1, *, subject: str | None = None) -> str:
    """The one-sentence answer: `This scan found 37 Hikvision and 12 Dahua devices, 5 ...`."""
    subject = subject or ("This scan" if scans == 1 else f"These {scans} scans")
    hik, dahua = summary["hikvision"], summary["dahua"]
    total = hik + dahua
    if total == 0:
        return (
            f"{subject} found no Hikvision or Dahua devices among the "
            f"{_plural(summary['devices'], 'device')} it saw."
        )
    if hik and dahua:
        found = f"{hik} Hikvision and {dahua} Dahua devices"
    elif hik:
        found = f"{_plural(hik, 'Hikvision device')} and no Dahua devices"
    else:
        found = f"{_plural(dahua, 'Dahua device')} and no Hikvision devices"
    white: Mapping[str, int] = summary["white_label"]
    sold = sum(white.values())
    if not sold:
        return f"{subject} found {found}."
    if len(white) == 1:
        brands = f"as {next(iter(white))}"
    elif len(white) <= HEADLINE_BRANDS_MAX:
        brands = "under other brands (" + ", ".join(f"{n} {b}" for b, n in white.items()) + ")"
    else:
        brands = f"under {len(white)} other brand names (listed under Totals)"
    if sold == total:
        share = "sold " + brands if total == 1 else "all of them sold " + brands
    else:
        share = f"{sold} of them sold {brands}"
    return f"{subject} found {found}, {share}."


def confidence_sentence(devices: Sequence[Mapping[str, Any]]) -> str:
    """How sure the headline figures are, and what could not be decided."""
    target = [d for d in devices if d["verdict"]["maker"] in TARGET_MAKERS]
    parts: list[str] = []
    if target:
        c = Counter(d["verdict"]["confidence"] for d in target)
        levels = [(c[k], k) for k in ("confirmed", "likely", "possible") if c[k]]
        words = [f"{n} {k}" for n, k in levels]
        words[0] = f"{levels[0][0]} {'is' if levels[0][0] == 1 else 'are'} {levels[0][1]}"
        parts.append(f"Of these, {english_list(words)}.")
    undetermined = sum(d["verdict"]["confidence"] == "undetermined" for d in devices)
    conflicts = sum(bool(d["verdict"]["conflicts"]) for d in devices)
    if undetermined:
        parts.append(f"{_plural(undetermined, 'more device')} could not be identified.")
    if conflicts:
        parts.append(
            f"{_plural(conflicts, 'device')} gave conflicting evidence; both claims "
            "are reported, neither is silently chosen."
        )
    return " ".join(parts)


# -- chart --------------------------------------------------------------------------------


def bar_chart(title: str, rows: Sequence[tuple[str, int, str]], *, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG; rows are (label, value, css class)."""
    bar_h, gap, label_w, value_w, top = 22, 8, 190, 48, 8
    height = top + len(rows) * (bar_h + gap)
    biggest = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_w - value_w
    out = [
        f'<svg class="chart" role="img" aria-label="{e(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{e(title)}</title>"
    ]
    for i, (label, value, cls) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(round(span * value / biggest), 2 if value else 0)
        out.append(
            f'<text class="label" x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" '
            f'text-anchor="end">{e(_short(label, 28))}</text>'
            f'<rect class="{cls}" fill="{BAR_FILL[cls]}" x="{label_w}" y="{y}" width="{w}" '
            f'height="{bar_h}" rx="3"/>'
            f'<text class="value" x="{label_w + w + 6}" y="{y + bar_h * 0.72:.1f}">{value}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def maker_chart(summary: Mapping[str, Any]) -> str:
    """Hikvision, Dahua, every other maker together, undetermined (the table has the detail)."""
    makers: Mapping[str, int] = summary["by_maker"]
    rows = [(m, makers.get(m, 0), "bar-target") for m in TARGET_MAKERS]
    others = sum(n for m, n in makers.items() if m not in TARGET_MAKERS)
    rows.append(("Other makers", others, "bar-other"))
    rows.append(("Undetermined", summary["undetermined"], "bar-unknown"))
    return bar_chart("Devices by maker", rows)


# -- sections -----------------------------------------------------------------------------

Cell = str | tuple[str, str]  # escaped HTML, or (css class, escaped HTML)


def _td(cell: Cell) -> str:
    if isinstance(cell, tuple):
        return f'<td class="{cell[0]}">{cell[1]}</td>'
    return f"<td>{cell}</td>"


def _table(
    head: Sequence[str], rows: Iterable[Sequence[Cell]], cls: str = "", cols: Sequence[str] = ()
) -> str:
    body = "".join("<tr>" + "".join(_td(c) for c in r) + "</tr>" for r in rows)
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    group = (
        "<colgroup>" + "".join(f'<col class="c-{c}">' for c in cols) + "</colgroup>" if cols else ""
    )
    return f'<table class="{cls}">{group}<thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _count_table(title: str, counts: Mapping[str, int], what: str) -> str:
    rows = [(e(k), f'<span class="num">{n}</span>') for k, n in counts.items()]
    if not rows:
        rows = [("none", '<span class="num">0</span>')]
    return f'<div class="counts"><h3>{e(title)}</h3>{_table([e(what), "Devices"], rows)}</div>'


def _brand_table(devices: Sequence[Mapping[str, Any]]) -> str:
    c: Counter[tuple[str, str]] = Counter(
        (d["verdict"]["brand"] or d["verdict"]["maker"], d["verdict"]["maker"])
        for d in devices
        if d["verdict"]["maker"] in TARGET_MAKERS
    )
    rows = []
    for (brand, maker), n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
        name = e(brand) if brand == maker else f'{e(brand)} <span class="tag">white label</span>'
        rows.append((name, e(maker), f'<span class="num">{n}</span>'))
    if not rows:
        rows = [("none", "—", '<span class="num">0</span>')]
    return (
        '<div class="counts"><h3>Hikvision and Dahua devices by brand</h3>'
        + _table(["Brand on the device", "Made by", "Devices"], rows)
        + "</div>"
    )


def _site_table(items: Sequence[SiteDevice]) -> str:
    sites: dict[str, list[Mapping[str, Any]]] = {}
    for it in items:
        sites.setdefault(it.site, []).append(it.device)
    rows = []
    for site, devs in sites.items():
        s = summarize(devs)
        rows.append(
            (
                e(site),
                *(
                    f'<span class="num">{x}</span>'
                    for x in (
                        s["hikvision"],
                        s["dahua"],
                        sum(s["white_label"].values()),
                        s["undetermined"],
                        s["conflicts"],
                        s["devices"],
                    )
                ),
            )
        )
    head = [
        "Site",
        "Hikvision",
        "Dahua",
        "of which white label",
        "Undetermined",
        "Conflicts",
        "All devices seen",
    ]
    return '<div class="counts wide"><h3>By site</h3>' + _table(head, rows) + "</div>"


def _cards(summary: Mapping[str, Any]) -> str:
    cards = [
        ("Hikvision", summary["hikvision"], "card-target"),
        ("Dahua", summary["dahua"], "card-target"),
        ("of which sold under other brands", sum(summary["white_label"].values()), ""),
        ("All devices seen", summary["devices"], ""),
        ("Undetermined", summary["undetermined"], ""),
        ("Conflicting evidence", summary["conflicts"], ""),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}" data-total="{e(label)}"><span class="big">{n}</span>'
            f'<span class="what">{e(label)}</span></div>'
            for label, n, cls in cards
        )
        + "</div>"
    )


def _evidence_cell(v: Mapping[str, Any]) -> str:
    items = []
    for m in v["decided_by"][:EVIDENCE_ITEMS_MAX]:
        items.append(
            f'<li><code>{e(m["fingerprint_id"])}</code> <span class="strength">'
            f"{e(m['strength'])}</span>: {e(m['key'])} = "
            f'<q>{e(_short(str(m["value"])))}</q> <span class="via">via '
            f"{e(m['source'])}</span></li>"
        )
    if (more := len(v["decided_by"]) - EVIDENCE_ITEMS_MAX) > 0:
        items.append(
            f'<li class="more">and {_plural(more, "more matching fingerprint")} '
            "(in the JSON document)</li>"
        )
    for c in v["conflicts"]:
        items.append(
            f'<li class="conflict">conflict on {e(c["field"])}: {e(" vs ".join(c["values"]))}</li>'
        )
    return '<ul class="evidence">' + "".join(items) + "</ul>" if items else "—"


def _device_table(
    items: Sequence[SiteDevice], with_site: bool, *, redact: bool = False, only_listed: bool = True
) -> str:
    listed = [it for it in items if is_listed(it.device) or not only_listed]
    if not listed:
        return "<p>No Hikvision, Dahua or white-label devices were found.</p>"
    if redact:  # the published version: what, not where or which unit
        head = (["Site"] if with_site else []) + [
            "#",
            "Maker",
            "Brand",
            "Type",
            "Model",
            "Confidence",
            "Decided by",
        ]
        rows: list[list[Cell]] = []
        for n, it in enumerate(listed, 1):
            v = it.device["verdict"]
            decided = ", ".join(dict.fromkeys(m["fingerprint_id"] for m in v["decided_by"]))
            rows.append(
                [
                    *([e(it.site)] if with_site else []),
                    str(n),
                    e(v["maker"]),
                    e(v["brand"]),
                    e(v["device_type"]),
                    e(v["model"]),
                    e(v["confidence"]),
                    ("ev", e(decided)),
                ]
            )
        return _table(head, rows, "devices redacted")
    head = (["Site"] if with_site else []) + [
        "Address",
        "Maker",
        "Brand",
        "Type",
        "Model",
        "Firmware",
        "Serial",
        "Confidence",
        "Evidence",
    ]
    cols = (["site"] if with_site else []) + [
        "addr",
        "maker",
        "brand",
        "type",
        "model",
        "fw",
        "serial",
        "conf",
        "ev",
    ]
    rows = []
    for it in listed:
        d, v = it.device, it.device["verdict"]
        addr = f'{e(d["ip"])}<br><span class="mac">{e(d["mac"])}</span>'
        if d["outside_scope"]:
            addr += '<br><span class="tag">outside scope</span>'
        tag = ' <span class="tag">white label</span>' if v["white_label"] else ""
        brand = e(v["brand"]) + tag
        site: list[Cell] = [e(it.site)] if with_site else []
        rows.append(
            [
                *site,
                addr,
                e(v["maker"]),
                brand,
                e(v["device_type"]),
                e(v["model"]),
                e(v["firmware"]),
                ("long", e(v["serial"])),
                f'<span class="conf conf-{e(v["confidence"])}">{e(v["confidence"])}</span>',
                ("ev", _evidence_cell(v)),
            ]
        )
    return _table(head, rows, "devices", cols)


def _scope_section(doc: Doc, *, redact: bool = False) -> str:
    s = doc["scope"]
    withheld = "withheld in the published version"
    label = e(doc["site"] or NO_SITE)
    fp = doc["fingerprints"]["version"]
    facts = [
        ("Site", label),
        ("Operator", e(doc["operator"])),
        ("Started", e(format_time(doc["started"]))),
        ("Finished", e(format_time(doc["finished"]))),
        (
            "Complete",
            "yes"
            if doc["complete"]
            else (
                '<strong class="warn">no — the scan was interrupted; '
                "figures are a lower bound</strong>"
            ),
        ),
        ("Targets", e(withheld if redact else ", ".join(s["targets"]))),
        ("Excluded", e(withheld if redact else ", ".join(s["exclusions"]) or None)),
        ("Addresses in scope", e(s["address_count"])),
        ("Interface", e(withheld if redact and s["interface"] else s["interface"])),
        ("Methods", e(", ".join(s["probes"]))),
        ("TCP ports probed", e(", ".join(str(p) for p in s["ports"]))),
        (
            "Rate, retries, listen window",
            e(f"{s['rate']} packets/s, {s['retries']} retries, {s['listen_window_s']} s"),
        ),
        ("Software", e(f"{doc['tool']['name']} {doc['tool']['version']}")),
        ("Fingerprint data", e(fp or "version not recorded")),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    stats = [
        (
            e(name),
            *(
                f'<span class="num">{e(st[k])}</span>'
                for k in ("sent", "answered", "errors", "dropped")
            ),
            f'<span class="num">{st["duration_s"]:.1f} s</span>',
            e("; ".join(st["notes"])),
        )
        for name, st in doc["stats"].items()
    ]
    stats_table = (
        _table(["Method", "Sent", "Answered", "Errors", "Dropped", "Time", "Notes"], stats, "stats")
        if stats
        else "<p>No per-method figures recorded.</p>"
    )
    limits = "".join(f"<li>{e(x)}</li>" for x in s["limits"])
    return (
        f'<section class="scope"><h3>Scan of {label}, {e(format_time(doc["started"]))}</h3>'
        f'<dl class="facts">{dl}</dl><h4>What each method sent and heard</h4>{stats_table}'
        f'<h4>What this scan cannot see</h4><ul class="limits">{limits}</ul></section>'
    )


METHOD_NOTE = """
<p>camscan looks for equipment made by Hikvision and Dahua, including equipment those
companies make for other brands (for example EZVIZ, Lorex, Amcrest). It listens for the
announcements that network cameras and recorders make on the local network, asks each device
in scope the same questions a web browser or video player would (its web page, its video
service, its discovery replies), and compares the answers with a library of known
fingerprints. It never guesses passwords and changes nothing on any device; it logs in only
where the operator supplied ONVIF credentials.</p>
<p>Each identification says how sure it is, by these rules (the ones camscan's code applies,
<code>camscan/identify.py</code>). Evidence carried by the same protocol counts once: the
network-card address inside a SADP reply cannot confirm that same reply.</p>
<ul>
<li><em>Confirmed</em>: the device named its maker in a vendor-only reply (Hikvision's SADP or
ISAPI, Dahua's DHIP or login challenge), or two independent strong signals agree (for example
a maker's web server banner and its video service's login realm).</li>
<li><em>Likely</em>: one strong signal only. A network-card address (MAC) prefix registered to
Hikvision or Dahua, with nothing else, gives <em>likely</em>.</li>
<li><em>Possible</em>: only weak, corroborating signals (generic web server or video service
names that these makers' firmware uses but others do too), from at least two independent
sources; or a brand (such as an OEM brand's address prefix) without its maker. One weak signal
alone never names Hikvision or Dahua.</li>
<li><em>Undetermined</em>: the device was seen but revealed nothing that names a maker.</li>
</ul>
<p>Where evidence for two makers disagrees, both are reported as a conflict: the better
supported maker is kept one level less sure, and equal support leaves the maker
undetermined.</p>
<p>The figures count what was reachable from the scanner while the scan ran; the limits
listed under each scan explain what it could not see.</p>
"""

CSS = """
:root { --ink:#1a1a1a; --muted:#5a5a5a; --rule:#d8d8d8; --accent:#8b1a1a; --accent2:#c45a1a;
  --paper:#ffffff; --tint:#f6f4f1; }
* { box-sizing:border-box; }
html { font-size:15px; }
body { margin:0; background:var(--paper); color:var(--ink);
  font-family:"Segoe UI","Noto Sans","Liberation Sans",Roboto,"Helvetica Neue",Arial,sans-serif;
  line-height:1.5; -webkit-print-color-adjust:exact; print-color-adjust:exact; }
main { max-width:76rem; margin:0 auto; padding:2.5rem 2rem 3rem; }
h1 { font-size:1.9rem; line-height:1.2; margin:.2rem 0 1rem; }
h2 { font-size:1.35rem; margin:2.5rem 0 .8rem; padding-bottom:.3rem;
  border-bottom:2px solid var(--ink); }
h3 { font-size:1.08rem; margin:1.4rem 0 .5rem; }
h4 { font-size:.98rem; margin:1.2rem 0 .4rem; color:var(--muted); }
.kicker { text-transform:uppercase; letter-spacing:.08em; font-size:.8rem; color:var(--muted);
  margin:0; }
.headline { font-size:1.35rem; line-height:1.35; font-weight:600; max-width:48rem;
  border-left:5px solid var(--accent); padding:.2rem 0 .2rem 1rem; margin:1rem 0; }
.sub { max-width:48rem; }
.meta { color:var(--muted); font-size:.92rem; max-width:48rem; }
.warn { color:var(--accent); }
.notice { background:#fff4e5; border:1px solid var(--accent2); padding:.6rem .9rem;
  max-width:48rem; }
.cards { display:flex; flex-wrap:wrap; gap:.8rem; margin:1rem 0 1.5rem; }
.card { flex:1 1 9rem; border:1px solid var(--rule); border-radius:6px; padding:.8rem 1rem;
  background:var(--tint); }
.card .big { display:block; font-size:2rem; font-weight:700; line-height:1.1;
  font-variant-numeric:tabular-nums; }
.card .what { font-size:.85rem; color:var(--muted); }
.card-target { border-color:var(--accent); background:#fbeeee; }
.card-target .big { color:var(--accent); }
.chart { max-width:100%; height:auto; display:block; margin:.5rem 0 1rem; }
.chart .label, .chart .value { font-size:13px; fill:var(--ink);
  font-family:inherit; }
.grid { display:flex; flex-wrap:wrap; gap:1.5rem 2.5rem; align-items:flex-start; }
.counts table { min-width:16rem; }
.counts.wide { flex-basis:100%; }
table { border-collapse:collapse; font-size:.9rem; }
th, td { text-align:left; vertical-align:top; padding:.35rem .6rem;
  border-bottom:1px solid var(--rule); }
thead th { border-bottom:2px solid var(--ink); font-weight:600; }
.num { font-variant-numeric:tabular-nums; }
td .num { display:block; text-align:right; }
table.devices { width:100%; font-size:.82rem; }
table.devices td { overflow-wrap:break-word; }
table.devices td.long { overflow-wrap:anywhere; min-width:6rem; }
table.devices td.ev { overflow-wrap:anywhere; min-width:16rem; }
.mac { color:var(--muted); font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;
  font-size:.78rem; }
code { font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace; font-size:.78rem; }
.tag { display:inline-block; font-size:.7rem; border:1px solid var(--accent2);
  color:var(--accent2); border-radius:3px; padding:0 .3rem; white-space:nowrap; }
.conf { font-weight:600; } .conf-confirmed { color:var(--accent); }
.evidence { margin:0; padding-left:1rem; } .evidence li { margin:.1rem 0; }
.evidence .strength, .evidence .via { color:var(--muted); font-size:.75rem; }
.evidence .conflict { color:var(--accent); } .evidence .more { color:var(--muted); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1.2rem;
  margin:.5rem 0; font-size:.92rem; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
.limits { max-width:52rem; font-size:.92rem; }
.method p { max-width:48rem; }
footer { margin-top:3rem; padding-top:.8rem; border-top:1px solid var(--rule);
  color:var(--muted); font-size:.8rem; }
.sev { font-weight:600; } .sev-critical, .sev-high { color:var(--accent); }
table.risks, table.followup { width:100%; font-size:.82rem; }
table.risks td, table.followup td { overflow-wrap:anywhere; }
table.matrix td .num { min-width:2.5rem; }
@page { size:A4; margin:16mm 14mm 18mm;
  @bottom-left { content:"Hikvision and Dahua equipment survey"; font-size:8pt; color:#5a5a5a; }
  @bottom-right { content:"Page " counter(page) " of " counter(pages); font-size:8pt;
    color:#5a5a5a; } }
@media print {
  html { font-size:10.5pt; }
  main { max-width:none; padding:0; }
  h2 { break-after:avoid; }
  .counts tr, .stats tr, .card, .chart, dl.facts { break-inside:avoid; }
  table.devices { table-layout:fixed; width:100%; font-size:7.5pt; }
  table.devices td, table.devices td.long, table.devices td.ev { min-width:0;
    overflow-wrap:anywhere; }
  table.devices th, table.devices td { padding:.2rem .25rem; }
  table.devices th { font-size:7.5pt; }
  .c-site { width:8%; } .c-addr { width:11%; } .c-maker { width:8%; } .c-brand { width:8%; }
  .c-type { width:7%; } .c-model { width:9%; } .c-fw { width:8%; } .c-serial { width:9%; }
  .c-conf { width:10%; } .c-ev { width:30%; }
  table.devices .conf { font-size:7pt; }
  table.devices code { font-size:6.8pt; }
  .grid { display:block; }
  .counts { display:inline-block; vertical-align:top; margin:0 2rem 1rem 0; }
  thead { display:table-header-group; }
  section.scope { break-inside:auto; }
  a { color:inherit; text-decoration:none; }
  table.risks, table.followup { font-size:7.5pt; }
  table.risks tr, table.followup tr, table.devices tr, table.matrix tr { break-inside:avoid; }
  h2, h3 { break-after:avoid; }
  .notice { border-width:0 0 0 3px; }
}
"""


# The page runs no script, loads nothing and submits nowhere: should a device string ever get
# past the escaping, the browser still refuses to act on it. Only our own style block applies.
CSP = (
    "default-src 'none'; style-src 'sha256-"
    + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    + "'; img-src data:; base-uri 'none'; form-action 'none'"
)


def combine(docs: Sequence[Doc]) -> dict[str, list[SiteDevice]]:
    """Devices per site, each counted once however many scans of that site saw it.

    Scans of one site are matched in time order as `camscan diff` matches two (MAC, then
    serial, then address); a device keeps its latest record. Different sites never merge.
    """
    from camscan.diff import match_devices

    by_site: dict[str, list[Doc]] = {}
    for doc in docs:
        by_site.setdefault(doc["site"] or NO_SITE, []).append(doc)
    out: dict[str, list[SiteDevice]] = {}
    for site in sorted(by_site):
        current: list[Mapping[str, Any]] = []
        for doc in sorted(by_site[site], key=lambda d: str(d["started"])):
            m = match_devices(current, doc["devices"])
            current = [*m.removed, *(p.after for p in m.still_present), *m.new]
        current.sort(key=lambda d: host_order(d["ip"]))
        out[site] = [SiteDevice(site, d) for d in current]
    return out


def inputs_sentence(docs: Sequence[Doc], combined: Mapping[str, Sequence[SiteDevice]]) -> str:
    """What the report is made of, when it is more than one scan."""
    if len(docs) < 2:
        return ""
    parts = []
    for site in combined:
        starts = [
            format_time(t).split(",")[0]
            for t in sorted(str(d["started"]) for d in docs if (d["site"] or NO_SITE) == site)
        ]
        parts.append(f"{_plural(len(starts), 'scan')} of {site} ({', '.join(starts)})")
    seen = sum(len(d["devices"]) for d in docs)
    kept = sum(len(v) for v in combined.values())
    text = f"This report combines {english_list(parts)}."
    if kept < seen:
        text += (
            f" A device seen in several scans of the same site is counted once "
            f"(matched by MAC address, then serial number, then address): {seen} "
            f"sightings are {_plural(kept, 'device')}."
        )
    if len(combined) > 1:
        text += " Different sites are totalled separately under By site."
    passive = sum(bool(d["scope"].get("passive")) for d in docs)
    if passive:
        text += (
            f" {passive} of the {len(docs)} {'was a' if passive == 1 else 'were'} passive "
            f"capture{'' if passive == 1 else 's'} (devices heard, not probed); the others "
            "were active scans."
        )
    return text


def _matrix_table(devices: Sequence[Mapping[str, Any]]) -> str:
    """Makers down, device types across: Hikvision and Dahua first, undetermined last."""
    counts: Counter[tuple[str, str]] = Counter(
        (d["verdict"]["maker"] or "Undetermined", d["verdict"]["device_type"]) for d in devices
    )
    makers = sorted(
        {m for m, _ in counts}, key=lambda m: (m not in TARGET_MAKERS, m == "Undetermined", m)
    )
    types = sorted({t for _, t in counts}, key=lambda t: (t == "unknown", t))
    rows = [
        [
            e(m),
            *(f'<span class="num">{counts[(m, t)] or ""}</span>' for t in types),
            f'<span class="num">{sum(counts[(m, t)] for t in types)}</span>',
        ]
        for m in makers
    ]
    if not rows:
        return ""
    return (
        '<div class="counts wide"><h3>Maker by device type</h3>'
        + _table(["Maker", *(e(t) for t in types), "All"], rows, "matrix")
        + "</div>"
    )


def follow_up_hint(d: Mapping[str, Any]) -> str:
    """What to check on a device the scan could not settle."""
    v = d["verdict"]
    if v["conflicts"]:
        sides = "; ".join(f"{c['field']}: {' vs '.join(c['values'])}" for c in v["conflicts"])
        return (
            f"Evidence disagrees ({sides}). Check the maker's label on the device or its "
            "web page, and whether a network adapter or switch stands in front of it."
        )
    if v["confidence"] == "possible":
        named = v["maker"] or v["brand"] or "a maker"
        return (
            f"Only weak evidence suggests {named}. Check the model plate on the device, "
            "or open its web page and look for the maker's name."
        )
    keys = sorted({str(ev["key"]).split(".")[0] for ev in d.get("evidence", ())})
    heard = f" It answered only with: {', '.join(keys)}." if keys else ""
    return (
        "Nothing named its maker." + heard + " Identify it from the switch port, the "
        "site's records or its label; scanning again with --deep or ONVIF credentials "
        "may help."
    )


def _needs_follow_up(d: Mapping[str, Any]) -> bool:
    v = d["verdict"]
    return v["confidence"] in ("undetermined", "possible") or bool(v["conflicts"])


def _follow_up_table(items: Sequence[SiteDevice], with_site: bool, redact: bool) -> str:
    todo = [it for it in items if _needs_follow_up(it.device)]
    if not todo:
        return "<p>Every device seen was identified; nothing needs checking by hand.</p>"
    head = (
        (["Site"] if with_site else [])
        + (["#"] if redact else ["Address"])
        + ["Confidence", "Maker/brand suggested", "What to check"]
    )
    rows: list[list[Cell]] = []
    for n, it in enumerate(todo, 1):
        d, v = it.device, it.device["verdict"]
        where = str(n) if redact else (f'{e(d["ip"])}<br><span class="mac">{e(d["mac"])}</span>')
        rows.append(
            [
                *([e(it.site)] if with_site else []),
                where,
                e(v["confidence"]),
                e(v["brand"] or v["maker"]),
                e(follow_up_hint(d)),
            ]
        )
    return _table(head, rows, "followup")


def _risk_table(items: Sequence[SiteDevice], with_site: bool) -> str:
    rows: list[list[Cell]] = []
    for it in items:
        d, v = it.device, it.device["verdict"]
        for r in d.get("risks", ()):
            cves = f' <span class="via">{e(", ".join(r["cves"]))}</span>' if r["cves"] else ""
            rows.append(
                [
                    *([e(it.site)] if with_site else []),
                    e(d["ip"]),
                    e(" ".join(x for x in (v["brand"] or v["maker"], v["model"]) if x)),
                    f'<span class="sev sev-{e(r["severity"])}">{e(r["severity"])}</span>',
                    e(r["title"]) + cves,
                    e(r["certainty"]),
                    e(r["detail"]) + f'<br><span class="via">{e(r["advice"])}</span>',
                ]
            )
    if not rows:
        return "<p>No device disclosed anything that a risk note in camscan's data applies to.</p>"
    head = (["Site"] if with_site else []) + [
        "Address",
        "Device",
        "Severity",
        "Note",
        "Certainty",
        "Why, and what to do",
    ]
    return _table(head, rows, "risks")


RISK_NOTE_TEXT = """<p class="sub">Held against published advisories and risky states, from what
each device disclosed to the scan (its model and firmware, its discovery replies). Nothing was
sent to any device to test a vulnerability. <em>In range</em>: the disclosed version lies in the
advisory's affected range; <em>check</em>: only the product line matches and the version must be
checked by hand; <em>disclosed</em>: the device said so itself.</p>"""


def render_html(
    docs: Sequence[Doc],
    *,
    generated: str | None = None,
    redact: bool = False,
    include_outside: bool = False,
) -> str:
    """The report of one or more scan documents as one self-contained HTML page.

    Scans of one site count each device once; `include_outside` puts devices found outside
    the scanned range into the headline; `redact` leaves out addresses, MACs, serials,
    firmware, device-supplied evidence and risk details (the version to publish).
    """
    if not docs:
        raise ReportError("a report needs at least one scan document")
    combined = combine(docs)
    items = [it for group in combined.values() for it in group]
    counted = [it for it in items if include_outside or not it.device["outside_scope"]]
    outside = [it for it in items if it.device["outside_scope"]]
    devices = [it.device for it in counted]
    summary = summarize(devices)
    sites = sorted(combined | {doc["site"] or NO_SITE: [] for doc in docs})
    site_label = ", ".join(sites)
    with_site = len(sites) > 1
    when = generated or datetime.now(UTC).isoformat(timespec="seconds")
    incomplete = [doc for doc in docs if not doc["complete"]]
    notice = (
        (
            '<p class="notice"><strong>Incomplete:</strong> '
            f"{_plural(len(incomplete), 'scan')} in this report stopped before finishing, so "
            "the figures are a lower bound.</p>"
        )
        if incomplete
        else ""
    )
    first = min(doc["started"] for doc in docs)
    period = e(format_time(first))
    operators = sorted({doc["operator"] for doc in docs if doc["operator"]})
    by = f" by {e(', '.join(operators))}" if operators else ""
    versions = sorted({f"{doc['tool']['name']} {doc['tool']['version']}" for doc in docs})
    fps = sorted({doc["fingerprints"]["version"] or "unversioned" for doc in docs})
    subject = (
        None
        if len(docs) == 1
        else (
            f"These {len(docs)} scans of {site_label}"
            if len(combined) == 1
            else f"These {len(docs)} scans of {len(sites)} sites"
        )
    )
    scope_note = ""
    if outside and not include_outside:
        scope_note = (
            f"{_plural(len(outside), 'device')} found outside the scanned range "
            f"{'is' if len(outside) == 1 else 'are'} listed apart and not counted "
            "here."
        )
    elif outside:
        scope_note = (
            f"These figures include {_plural(len(outside), 'device')} found outside "
            "the scanned range."
        )
    redacted = (
        (
            '<p class="notice">Published version: addresses, MAC addresses, serial numbers, '
            "firmware versions, device-supplied evidence and risk details are withheld. "
            "The full version is kept for the internal file.</p>"
        )
        if redact
        else ""
    )
    risks = (
        "<p>Withheld from the published version.</p>"
        if redact
        else RISK_NOTE_TEXT + _risk_table(counted, with_site)
    )
    outside_section = ""
    if outside:
        outside_section = f"""
<section id="outside">
<h2>Found outside the scanned range</h2>
<p class="sub">Vendor discovery (SADP, DHIP) also hears devices whose address lies outside the
scanned range, such as a camera still on its factory address. They were not probed further
and are {"included in" if include_outside else "not counted in"} the figures above.</p>
{_device_table(outside, with_site, redact=redact, only_listed=False)}
</section>"""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="camscan {e(camscan.__version__)}">
<title>Hikvision and Dahua equipment: {e(site_label)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<p class="kicker">Surveillance equipment survey</p>
<h1>Hikvision and Dahua equipment at {e(site_label)}</h1>
<p class="headline" id="headline">{e(headline(summary, len(docs), subject=subject))}</p>
<p class="sub">{e(confidence_sentence(devices))} {e(scope_note)}</p>
<p class="sub" id="inputs">{e(inputs_sentence(docs, combined))}</p>
{notice}
{redacted}
<p class="meta">Network scan started {period}{by}, using {e(", ".join(versions))} with
fingerprint data {e(", ".join(fps))}. Details of what was scanned, and what a scan like this
cannot see, are under <a href="#scope">Scope</a>.</p>
</header>

<section id="totals">
<h2>Totals</h2>
{_cards(summary)}
{maker_chart(summary)}
<div class="grid">
{_brand_table(devices)}
{_count_table("Devices by type", summary["by_type"], "Type")}
{_count_table("Devices by confidence", summary["by_confidence"], "Confidence")}
{
        _count_table(
            "Devices by maker",
            {**summary["by_maker"], "Undetermined": summary["undetermined"]},
            "Maker",
        )
    }
{_matrix_table(devices)}
{_site_table(counted)}
</div>
</section>

<section id="devices">
<h2>Hikvision, Dahua and white-label devices</h2>
<p class="sub">Every device identified as made by Hikvision or Dahua, under whatever brand it is
sold, and every device with conflicting evidence naming one of them.{
        ""
        if redact
        else " The evidence column shows the fingerprints that decided each "
        "identification and what the device said."
    }</p>
{_device_table(counted, with_site, redact=redact)}
</section>

<section id="risks">
<h2>Risk notes</h2>
{risks}
</section>

<section id="followup">
<h2>To check by hand</h2>
<p class="sub">Devices the scan could not settle: undetermined, only possibly identified, or
with conflicting evidence, and what to check on each.</p>
{_follow_up_table(counted, with_site, redact)}
</section>
{outside_section}

<section id="scope">
<h2>Scope</h2>
{"".join(_scope_section(doc, redact=redact) for doc in docs)}
</section>

<section id="method" class="method">
<h2>How this was determined</h2>
{METHOD_NOTE}
</section>

<footer>Generated {e(format_time(when))} by camscan {e(camscan.__version__)}.
Device names, models and other strings are reported exactly as the devices gave them.</footer>
</main>
</body>
</html>
"""


def report_text(
    docs: ScanResult | Doc | Sequence[ScanResult | Doc],
    *,
    redact: bool = False,
    include_outside: bool = False,
) -> str:
    """The HTML report of one or more scans."""
    items = [docs] if isinstance(docs, ScanResult | Mapping) else list(docs)
    return render_html(
        [as_document(d) for d in items], redact=redact, include_outside=include_outside
    )


def write_report(
    docs: ScanResult | Doc | Sequence[ScanResult | Doc],
    path: str | Path,
    *,
    redact: bool = False,
    include_outside: bool = False,
) -> None:
    """Write the report of one or more scans to `path`: `.pdf` via WeasyPrint, else HTML."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ReportError(
            f"{path}: unknown report type {path.suffix or '(none)'!r}; "
            f"use {', '.join(REPORT_SUFFIXES)}"
        )
    text = report_text(docs, redact=redact, include_outside=include_outside)
    if path.suffix.lower() != ".pdf":
        atomic_write_text(path, text)
        return
    try:
        import weasyprint  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise ReportError(
            "PDF output needs WeasyPrint, which is not installed: "
            "pip install 'camscan[pdf]', or write the report as .html"
        ) from None
    pdf = weasyprint.HTML(string=text).write_pdf()
    atomic_write_bytes(path, pdf)
