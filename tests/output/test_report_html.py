"""The HTML report: headline sentences, totals, self-containment, escaping of device strings."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from output_sample import hikvision_camera, sample_result, with_device

from camscan.output.document import build_document, summarize
from camscan.output.report import ReportError, headline, render_html, write_report

FIXED = "2026-11-23T03:00:00+00:00"


def _summary(hik: int, dahua: int, white: dict[str, int], devices: int = 100) -> dict:
    s = summarize([])
    s.update(hikvision=hik, dahua=dahua, white_label=white, devices=devices)
    return s


@pytest.mark.parametrize(
    ("summary", "scans", "sentence"),
    [
        (
            _summary(37, 12, {"Lorex": 5}),
            1,
            "This scan found 37 Hikvision and 12 Dahua devices, 5 of them sold as Lorex.",
        ),
        (
            _summary(3, 2, {"Lorex": 2, "EZVIZ": 1}),
            1,
            "This scan found 3 Hikvision and 2 Dahua devices, 3 of them sold under other brands "
            "(2 Lorex, 1 EZVIZ).",
        ),
        (
            _summary(9, 6, {"Intelbras": 2, "ALIBI": 1, "Amcrest": 1, "BCS": 1, "EZVIZ": 1}),
            1,
            "This scan found 9 Hikvision and 6 Dahua devices, 6 of them sold under 5 other brand "
            "names (listed under Totals).",
        ),
        (_summary(4, 0, {}), 1, "This scan found 4 Hikvision devices and no Dahua devices."),
        (
            _summary(0, 1, {"Amcrest": 1}),
            1,
            "This scan found 1 Dahua device and no Hikvision devices, sold as Amcrest.",
        ),
        (
            _summary(0, 2, {"Amcrest": 2}),
            2,
            "These 2 scans found 2 Dahua devices and no Hikvision devices, all of them sold as "
            "Amcrest.",
        ),
        (
            _summary(0, 0, {}, devices=14),
            1,
            "This scan found no Hikvision or Dahua devices among the 14 devices it saw.",
        ),
    ],
)
def test_headline(summary: dict, scans: int, sentence: str) -> None:
    assert headline(summary, scans) == sentence


def _html(result: object = None) -> str:
    doc = build_document(result or sample_result())  # type: ignore[arg-type]
    return render_html([doc], generated=FIXED)


def _text(html: str) -> str:
    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

    p = Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


def test_report_states_headline_totals_and_scope() -> None:
    html = _html()
    text = _text(html)
    # The Hikvision NVR that SADP heard outside the scanned range is listed apart, not counted.
    assert "This scan found 1 Hikvision and 2 Dahua devices, 1 of them sold as Lorex." in text
    assert "Of these, 2 are confirmed and 1 possible." in text
    assert "1 device found outside the scanned range is listed apart and not counted" in text
    for card in (
        "1 Hikvision",
        "2 Dahua",
        "1 of which sold under other brands",
        "5 All devices seen",
        "1 Undetermined",
        "1 Conflicting evidence",
    ):
        assert card in text
    assert "Lorex white label Dahua 1" in text  # the brand table names the white label
    assert "Town Hall 1 2 1 1 1 5" in text  # per-site row
    assert "ARP cannot see beyond routers" in text
    assert "arp 254 5 0 0 3.1 s" in text  # method sent/answered figures
    assert "How this was determined" in text
    assert "<svg" in html and "Devices by maker" in html


def test_device_table_lists_target_makers_and_conflicts_only() -> None:
    text = _text(_html())
    table = text.split("Hikvision, Dahua and white-label devices", 1)[1].split("Risk notes")[0]
    for ip in ("198.18.0.11", "198.18.0.31", "198.18.0.45"):
        assert ip in table
    for ip in ("198.18.0.40", "198.18.0.60", "198.18.1.15"):  # Axis, undetermined, outside
        assert ip not in table
    assert "conflict on maker: Dahua vs Hikvision" in table
    assert "dhip.vendor.lorex" in table
    outside = text.split("Found outside the scanned range", 1)[1].split("Scope")[0]
    assert "198.18.1.15" in outside and "outside scope" in outside


def test_report_is_self_contained() -> None:
    html = _html()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//|file:)""", html)
    assert "url(" not in html and "@import" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()


HOSTILE_MODEL = "<script>alert('model')</script>"
HOSTILE_BRAND = '"><img src=x onerror=alert(1)>'


def test_hostile_device_strings_are_escaped() -> None:
    dev = hikvision_camera()
    dev.ip = "198.18.0.66"
    dev.verdict = replace(
        dev.verdict,
        model=HOSTILE_MODEL,
        brand=HOSTILE_BRAND,
        firmware="</td></tr></table><h1>pwned</h1>",
    )
    result = with_device(sample_result(), dev)
    result.site = "<b>Site</b>"
    html = _html(result)
    assert HOSTILE_MODEL not in html and HOSTILE_BRAND not in html
    assert "<h1>pwned" not in html and "<b>Site</b>" not in html
    assert "&lt;script&gt;alert(&#x27;model&#x27;)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    # The escaped strings read back as the device sent them.
    assert HOSTILE_MODEL in _text(html) and HOSTILE_BRAND in _text(html)


def test_incomplete_scan_is_flagged() -> None:
    text = _text(_html(sample_result(complete=False)))
    assert "Incomplete: 1 scan in this report stopped before finishing" in text


def test_several_scans_make_one_report_with_a_row_per_site() -> None:
    a = build_document(sample_result())
    other = sample_result()
    other.site = "Depot"
    other.devices = other.devices[:2]
    b = build_document(other)
    text = _text(render_html([a, b], generated=FIXED))
    assert text.count("These 2 scans of 2 sites found 1 Hikvision and 2 Dahua devices") == 1
    assert "Depot 0 0 0 1 0 1" in text and "Town Hall 1 2 1 1 1 5" in text
    assert "This report combines 1 scan of Depot (23 November 2026) and 1 scan of Town Hall" in text


def test_write_report_html_and_pdf_without_weasyprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(sample_result(), tmp_path / "r.html")
    assert "sold as Lorex" in (tmp_path / "r.html").read_text(encoding="utf-8")
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import now raises ImportError
    with pytest.raises(ReportError, match="PDF output needs WeasyPrint"):
        write_report(sample_result(), tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


def test_report_carries_a_restrictive_content_security_policy() -> None:
    import base64
    import hashlib

    page = _html()
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy is not None and page.index(policy.group(0)) < page.index("<style>")
    rules = dict(r.strip().split(" ", 1) for r in policy.group(1).split(";"))
    assert rules["default-src"] == "'none'"
    assert (rules["base-uri"], rules["form-action"]) == ("'none'", "'none'")
    assert "script-src" not in rules and "unsafe-inline" not in policy.group(1)
    # The one style block the page has is exactly the one the policy allows.
    (css,) = re.findall(r"<style>(.*?)</style>", page, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert rules["style-src"] == f"'sha256-{digest}'"
