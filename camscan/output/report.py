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
from camscan.models import ScanResult
from camscan.output.document import TARGET_MAKERS, as_document, english_list, summarize
from camscan.output.jsonout import atomic_write_bytes, atomic_write_text

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
    return text if len(text) <= limit else text[:limit - 1] + "…"


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

def headline(summary: Mapping[str, Any], scans: int = 1) -> str:
    """The one-sentence answer: `This scan found 37 Hikvision and 12 Dahua devices, 5 ...`."""
    subject = "This scan" if scans == 1 else f"These {scans} scans"
    hik, dahua = summary["hikvision"], summary["dahua"]
    total = hik + dahua
    if total == 0:
        return (f"{subject} found no Hikvision or Dahua devices among the "
                f"{_plural(summary['devices'], 'device')} it saw.")
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
        parts.append(f"{_plural(conflicts, 'device')} gave conflicting evidence; both claims "
                     "are reported, neither is silently chosen.")
    return " ".join(parts)


# -- chart --------------------------------------------------------------------------------

def bar_chart(title: str, rows: Sequence[tuple[str, int, str]], *, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG; rows are (label, value, css class)."""
    bar_h, gap, label_w, value_w, top = 22, 8, 190, 48, 8
    height = top + len(rows) * (bar_h + gap)
    biggest = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_w - value_w
    out = [f'<svg class="chart" role="img" aria-label="{e(title)}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
           f"<title>{e(title)}</title>"]
    for i, (label, value, cls) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = max(round(span * value / biggest), 2 if value else 0)
        out.append(
            f'<text class="label" x="{label_w - 8}" y="{y + bar_h * 0.72:.1f}" '
            f'text-anchor="end">{e(_short(label, 28))}</text>'
            f'<rect class="{cls}" fill="{BAR_FILL[cls]}" x="{label_w}" y="{y}" width="{w}" '
            f'height="{bar_h}" rx="3"/>'
            f'<text class="value" x="{label_w + w + 6}" y="{y + bar_h * 0.72:.1f}">{value}</text>')
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


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], cls: str = "",
           cols: Sequence[str] = ()) -> str:
    body = "".join("<tr>" + "".join(_td(c) for c in r) + "</tr>" for r in rows)
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    group = ("<colgroup>" + "".join(f'<col class="c-{c}">' for c in cols) + "</colgroup>"
             if cols else "")
    return (f'<table class="{cls}">{group}<thead><tr>{th}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _count_table(title: str, counts: Mapping[str, int], what: str) -> str:
    rows = [(e(k), f'<span class="num">{n}</span>') for k, n in counts.items()]
    if not rows:
        rows = [("none", '<span class="num">0</span>')]
    return f'<div class="counts"><h3>{e(title)}</h3>{_table([e(what), "Devices"], rows)}</div>'


def _brand_table(devices: Sequence[Mapping[str, Any]]) -> str:
    c: Counter[tuple[str, str]] = Counter(
        (d["verdict"]["brand"] or d["verdict"]["maker"], d["verdict"]["maker"])
        for d in devices if d["verdict"]["maker"] in TARGET_MAKERS)
    rows = []
    for (brand, maker), n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])):
        name = e(brand) if brand == maker else f'{e(brand)} <span class="tag">white label</span>'
        rows.append((name, e(maker), f'<span class="num">{n}</span>'))
    if not rows:
        rows = [("none", "—", '<span class="num">0</span>')]
    return ('<div class="counts"><h3>Hikvision and Dahua devices by brand</h3>'
            + _table(["Brand on the device", "Made by", "Devices"], rows) + "</div>")


def _site_table(items: Sequence[SiteDevice]) -> str:
    sites: dict[str, list[Mapping[str, Any]]] = {}
    for it in items:
        sites.setdefault(it.site, []).append(it.device)
    rows = []
    for site, devs in sites.items():
        s = summarize(devs)
        rows.append((e(site), *(f'<span class="num">{x}</span>' for x in (
            s["hikvision"], s["dahua"], sum(s["white_label"].values()), s["undetermined"],
            s["conflicts"], s["devices"]))))
    head = ["Site", "Hikvision", "Dahua", "of which white label", "Undetermined", "Conflicts",
            "All devices seen"]
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
    return '<div class="cards">' + "".join(
        f'<div class="card {cls}" data-total="{e(label)}"><span class="big">{n}</span>'
        f'<span class="what">{e(label)}</span></div>' for label, n, cls in cards) + "</div>"


def _evidence_cell(v: Mapping[str, Any]) -> str:
    items = []
    for m in v["decided_by"][:EVIDENCE_ITEMS_MAX]:
        items.append(f'<li><code>{e(m["fingerprint_id"])}</code> <span class="strength">'
                     f'{e(m["strength"])}</span>: {e(m["key"])} = '
                     f'<q>{e(_short(str(m["value"])))}</q> <span class="via">via '
                     f'{e(m["source"])}</span></li>')
    if (more := len(v["decided_by"]) - EVIDENCE_ITEMS_MAX) > 0:
        items.append(f'<li class="more">and {_plural(more, "more matching fingerprint")} '
                     "(in the JSON document)</li>")
    for c in v["conflicts"]:
        items.append(f'<li class="conflict">conflict on {e(c["field"])}: '
                     f'{e(" vs ".join(c["values"]))}</li>')
    return '<ul class="evidence">' + "".join(items) + "</ul>" if items else "—"


def _device_table(items: Sequence[SiteDevice], with_site: bool) -> str:
    listed = [it for it in items if is_listed(it.device)]
    if not listed:
        return "<p>No Hikvision, Dahua or white-label devices were found.</p>"
    head = (["Site"] if with_site else []) + [
        "Address", "Maker", "Brand", "Type", "Model", "Firmware", "Serial", "Confidence",
        "Evidence"]
    cols = (["site"] if with_site else []) + [
        "addr", "maker", "brand", "type", "model", "fw", "serial", "conf", "ev"]
    rows: list[list[Cell]] = []
    for it in listed:
        d, v = it.device, it.device["verdict"]
        addr = f'{e(d["ip"])}<br><span class="mac">{e(d["mac"])}</span>'
        if d["outside_scope"]:
            addr += '<br><span class="tag">outside scope</span>'
        tag = ' <span class="tag">white label</span>' if v["white_label"] else ""
        brand = e(v["brand"]) + tag
        site: list[Cell] = [e(it.site)] if with_site else []
        rows.append([
            *site, addr, e(v["maker"]), brand, e(v["device_type"]), e(v["model"]), e(v["firmware"]),
            ("long", e(v["serial"])), f'<span class="conf conf-{e(v["confidence"])}">'
                                      f'{e(v["confidence"])}</span>', ("ev", _evidence_cell(v))])
    return _table(head, rows, "devices", cols)


def _scope_section(doc: Doc) -> str:
    s = doc["scope"]
    label = e(doc["site"] or NO_SITE)
    fp = doc["fingerprints"]["version"]
    facts = [
        ("Site", label),
        ("Operator", e(doc["operator"])),
        ("Started", e(format_time(doc["started"]))),
        ("Finished", e(format_time(doc["finished"]))),
        ("Complete", "yes" if doc["complete"] else
         '<strong class="warn">no — the scan was interrupted; figures are a lower bound</strong>'),
        ("Targets", e(", ".join(s["targets"]))),
        ("Excluded", e(", ".join(s["exclusions"]) or None)),
        ("Addresses in scope", e(s["address_count"])),
        ("Interface", e(s["interface"])),
        ("Methods", e(", ".join(s["probes"]))),
        ("TCP ports probed", e(", ".join(str(p) for p in s["ports"]))),
        ("Rate, retries, listen window",
         e(f"{s['rate']} packets/s, {s['retries']} retries, {s['listen_window_s']} s")),
        ("Software", e(f"{doc['tool']['name']} {doc['tool']['version']}")),
        ("Fingerprint data", e(fp or "version not recorded")),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    stats = [(e(name), *(f'<span class="num">{e(st[k])}</span>' for k in
                         ("sent", "answered", "errors", "dropped")),
              f'<span class="num">{st["duration_s"]:.1f} s</span>', e("; ".join(st["notes"])))
             for name, st in doc["stats"].items()]
    stats_table = _table(["Method", "Sent", "Answered", "Errors", "Dropped", "Time", "Notes"],
                         stats, "stats") if stats else "<p>No per-method figures recorded.</p>"
    limits = "".join(f"<li>{e(x)}</li>" for x in s["limits"])
    return (f'<section class="scope"><h3>Scan of {label}, {e(format_time(doc["started"]))}</h3>'
            f'<dl class="facts">{dl}</dl><h4>What each method sent and heard</h4>{stats_table}'
            f'<h4>What this scan cannot see</h4><ul class="limits">{limits}</ul></section>')


METHOD_NOTE = """
<p>camscan looks for equipment made by Hikvision and Dahua, including equipment those
companies make for other brands (for example EZVIZ, Lorex, Amcrest). It listens for the
announcements that network cameras and recorders make on the local network, asks each device
in scope the same questions a web browser or video player would (its web page, its video
service, its discovery replies), and compares the answers with a library of known
fingerprints. It never guesses passwords and changes nothing on any device; it logs in only
where the operator supplied ONVIF credentials.</p>
<p>Each identification says how sure it is. <em>Confirmed</em> means the device named its maker
in a vendor-specific reply (for example Hikvision's SADP or Dahua's DHIP discovery protocol).
<em>Likely</em> means strong but indirect evidence, such as a web page or login prompt that
only that maker's firmware produces. <em>Possible</em> means weak evidence only, such as the
maker's network-card address prefix. <em>Undetermined</em> means the device was seen but did
not reveal enough to say who made it. Where two pieces of evidence disagree, both are shown
as a conflict rather than one being chosen silently.</p>
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
@page { size:A4; margin:16mm 14mm; }
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
}
"""


# The page runs no script, loads nothing and submits nowhere: should a device string ever get
# past the escaping, the browser still refuses to act on it. Only our own style block applies.
CSP = ("default-src 'none'; style-src 'sha256-"
       + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
       + "'; img-src data:; base-uri 'none'; form-action 'none'")


def _device_items(docs: Sequence[Doc]) -> list[SiteDevice]:
    return [SiteDevice(doc["site"] or NO_SITE, d) for doc in docs for d in doc["devices"]]


def render_html(docs: Sequence[Doc], *, generated: str | None = None) -> str:
    """The report of one or more scan documents as one self-contained HTML page."""
    if not docs:
        raise ReportError("a report needs at least one scan document")
    items = _device_items(docs)
    devices = [it.device for it in items]
    summary = summarize(devices)
    sites = sorted({it.site for it in items} | {doc["site"] or NO_SITE for doc in docs})
    site_label = ", ".join(sites)
    when = generated or datetime.now(UTC).isoformat(timespec="seconds")
    incomplete = [doc for doc in docs if not doc["complete"]]
    notice = ('<p class="notice"><strong>Incomplete:</strong> '
              f'{_plural(len(incomplete), "scan")} in this report stopped before finishing, so '
              "the figures are a lower bound.</p>") if incomplete else ""
    first = min(doc["started"] for doc in docs)
    period = e(format_time(first))
    operators = sorted({doc["operator"] for doc in docs if doc["operator"]})
    by = f" by {e(', '.join(operators))}" if operators else ""
    versions = sorted({f"{doc['tool']['name']} {doc['tool']['version']}" for doc in docs})
    fps = sorted({doc["fingerprints"]["version"] or "unversioned" for doc in docs})
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
<p class="headline" id="headline">{e(headline(summary, len(docs)))}</p>
<p class="sub">{e(confidence_sentence(devices))}</p>
{notice}
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
{_count_table("Devices by maker", {**summary["by_maker"],
                                   "Undetermined": summary["undetermined"]}, "Maker")}
{_site_table(items)}
</div>
</section>

<section id="devices">
<h2>Hikvision, Dahua and white-label devices</h2>
<p class="sub">Every device identified as made by Hikvision or Dahua, under whatever brand it is
sold, and every device with conflicting evidence naming one of them. The evidence column shows
the fingerprints that decided each identification and what the device said.</p>
{_device_table(items, with_site=len(sites) > 1)}
</section>

<section id="scope">
<h2>Scope</h2>
{"".join(_scope_section(doc) for doc in docs)}
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


def report_text(docs: ScanResult | Doc | Sequence[ScanResult | Doc]) -> str:
    """The HTML report of one or more scans."""
    items = [docs] if isinstance(docs, ScanResult | Mapping) else list(docs)
    return render_html([as_document(d) for d in items])


def write_report(docs: ScanResult | Doc | Sequence[ScanResult | Doc], path: str | Path) -> None:
    """Write the report of one or more scans to `path`: `.pdf` via WeasyPrint, else HTML."""
    path = Path(path)
    if path.suffix.lower() not in REPORT_SUFFIXES:
        raise ReportError(f"{path}: unknown report type {path.suffix or '(none)'!r}; "
                          f"use {', '.join(REPORT_SUFFIXES)}")
    text = report_text(docs)
    if path.suffix.lower() != ".pdf":
        atomic_write_text(path, text)
        return
    try:
        import weasyprint  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise ReportError("PDF output needs WeasyPrint, which is not installed: "
                          "pip install 'camscan[pdf]', or write the report as .html") from None
    pdf = weasyprint.HTML(string=text).write_pdf()
    atomic_write_bytes(path, pdf)
