"""The roll-up report over many sites: one self-contained HTML page, in the FOI report's style."""

from __future__ import annotations

from camscan.output.report import CSS, bar_chart, e, format_time
from camscan.server.rollup import Rollup, SiteFigures

CHART_SITES_MAX = 20  # the table lists every site; the chart only the ones with most left


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _num(n: int | None) -> str:
    return f'<td><span class="num">{"—" if n is None else n}</span></td>'


def _row(f: SiteFigures, *, total: bool = False) -> str:
    name = f"<strong>{e(f.site)}</strong>" if total else e(f.site)
    compared = f.compared > 0
    cells = [
        f"<td>{name}</td>",
        f"<td>{e(format_time(f.latest_scan)) if f.latest_scan else 'no scan yet'}</td>",
        _num(f.devices),
        _num(f.hikvision),
        _num(f.dahua),
        _num(f.hikvision_dahua),
        _num(f.removed if compared else None),
        _num(f.removed_hikvision_dahua if compared else None),
        _num(f.new if compared else None),
        _num(f.incomplete_scans),
        f"<td>{_silent_cell(f, total)}</td>",
    ]
    return f'<tr data-site="{e(f.site)}">' + "".join(cells) + "</tr>"


def _silent_cell(f: SiteFigures, total: bool) -> str:
    if not f.silent_sensors:
        return "—"
    if total:  # the names are listed under the table
        return _count(len(f.silent_sensors), "sensor")
    return e(", ".join(f.silent_sensors))


def _last(seen: str | None) -> str:
    return "never reported" if seen is None else f"last report {e(format_time(seen))}"


HEAD = (
    "Site",
    "Latest scan",
    "Devices",
    "Hikvision",
    "Dahua",
    "Hikvision/Dahua still present",
    "Removed since previous scan",
    "of which Hikvision/Dahua",
    "New since previous scan",
    "Incomplete scans",
    "Silent sensors",
)


def render_rollup_html(r: Rollup) -> str:
    """The roll-up page: totals, a per-site table, the silent sensors."""
    t = r.total
    worst = sorted(
        (s for s in r.sites if s.hikvision_dahua), key=lambda s: (-s.hikvision_dahua, s.site)
    )[:CHART_SITES_MAX]
    chart = (
        bar_chart(
            "Hikvision and Dahua devices still present, by site",
            [(s.site, s.hikvision_dahua, "bar-target") for s in worst],
        )
        if worst
        else ""
    )
    silent = "".join(f"<li>{e(s.name)} ({e(s.site)}): {_last(s.last_seen)}</li>" for s in r.silent)
    th = "".join(f'<th scope="col">{h}</th>' for h in HEAD)
    rows = "".join(_row(s) for s in r.sites) + _row(t, total=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hikvision and Dahua equipment: all sites</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<p class="kicker">Surveillance equipment survey, all sites</p>
<h1>Hikvision and Dahua equipment at {len(r.sites)} sites</h1>
<p class="headline" id="headline">The latest scans of {_count(t.scans, "sensor")} at
{_count(len(r.sites), "site")} found {t.hikvision} Hikvision and {t.dahua} Dahua devices among
{_count(t.devices, "device")} seen.</p>
<p class="sub">Since each sensor's previous scan, {t.removed_hikvision_dahua} Hikvision/Dahua
devices were removed ({_count(t.compared, "sensor")} had a previous scan to compare with).
{_count(len(r.silent), "sensor")} {"has" if len(r.silent) == 1 else "have"} not reported in
{r.silent_days} days.</p>
</header>
<section id="totals">
<h2>By site</h2>
{chart}
<table class="rollup"><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>
</section>
<section id="silent">
<h2>Sensors silent for {r.silent_days} days or more</h2>
{f"<ul>{silent}</ul>" if silent else "<p>None.</p>"}
</section>
<footer>Generated {e(format_time(r.generated))}. Each site's figures add up the latest scan of
each of its sensors; "removed" compares it with that sensor's previous scan, matching devices by
MAC, then serial, then IP, as <code>camscan diff</code> does.</footer>
</main>
</body>
</html>
"""
