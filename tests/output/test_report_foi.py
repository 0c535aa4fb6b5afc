"""The FOI report: counted once per device, outside scope apart, redacted, tables, PDF."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from output_sample import sample_result
from typer.testing import CliRunner

from camscan.cli import app
from camscan.identify import identify
from camscan.models import Confidence, Evidence
from camscan.output.document import build_document
from camscan.output.jsonout import write_json
from camscan.output.report import follow_up_hint, render_html, write_report

FIXED = "2027-02-20T03:00:00+00:00"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def text_of(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


def quarters() -> tuple[dict[str, Any], dict[str, Any]]:
    """The same site scanned twice: every device again, most at a new address (DHCP)."""
    q1 = sample_result()
    q2 = sample_result()
    q2.started = "2027-02-20T02:00:00+00:00"
    for n, d in enumerate(q2.devices):
        if d.mac and not d.outside_scope:
            d.ip = f"198.18.0.{200 + n}"
    return build_document(q1), build_document(q2)


def test_two_quarters_of_one_site_count_each_device_once() -> None:
    q1, q2 = quarters()
    once = text_of(render_html([q1], generated=FIXED))
    twice = text_of(render_html([q1, q2], generated=FIXED))
    assert "This scan found 1 Hikvision and 2 Dahua devices" in once
    # Not 2 and 4: the second quarter saw the same cameras.
    assert "These 2 scans of Town Hall found 1 Hikvision and 2 Dahua devices" in twice
    assert "This report combines 2 scans of Town Hall (23 November 2026, 20 February 2027)" in twice
    assert "12 sightings are 6 devices" in twice
    assert "Town Hall 1 2 1 1 1 5" in twice


def test_a_device_seen_in_one_quarter_only_still_counts() -> None:
    q1, q2 = quarters()
    q2["devices"] = [d for d in q2["devices"] if d["verdict"]["brand"] != "Lorex"]
    text = text_of(render_html([q1, q2], generated=FIXED))
    assert "found 1 Hikvision and 2 Dahua devices" in text


def test_different_sites_are_totalled_apart() -> None:
    q1, _ = quarters()
    depot = build_document(replace(sample_result(), site="Depot"))
    text = text_of(render_html([q1, depot], generated=FIXED))
    assert "These 2 scans of 2 sites found 2 Hikvision and 4 Dahua devices" in text
    assert "Depot 1 2 1 1 1 5" in text and "Town Hall 1 2 1 1 1 5" in text
    assert "Different sites are totalled separately" in text


def test_outside_scope_devices_join_the_headline_only_when_asked() -> None:
    doc = build_document(sample_result())
    text = text_of(render_html([doc], generated=FIXED, include_outside=True))
    assert "This scan found 2 Hikvision and 2 Dahua devices" in text
    assert "These figures include 1 device found outside the scanned range" in text


def test_the_method_note_states_the_rule_the_code_applies_to_a_mac_prefix() -> None:
    verdict = identify([Evidence("h", "arp", "arp.reply", "44:19:b6:00:00:01")])
    assert (verdict.maker, verdict.confidence) == ("Hikvision", Confidence.LIKELY)
    text = text_of(render_html([build_document(sample_result())], generated=FIXED))
    assert (
        "A network-card address (MAC) prefix registered to Hikvision or Dahua, with nothing "
        "else, gives likely"
    ) in text
    assert "prefix. Undetermined" not in text and "maker's network-card address prefix" not in text


def test_redacted_version_has_no_address_mac_serial_or_firmware() -> None:
    doc = build_document(sample_result())
    html = render_html([doc], generated=FIXED, redact=True)
    secrets = {
        str(x)
        for d in doc["devices"]
        for x in (d["ip"], d["mac"], d["verdict"]["serial"], d["verdict"]["firmware"])
        if x
    }
    secrets |= {d["mac"].replace(":", "-") for d in doc["devices"] if d["mac"]}
    secrets |= set(doc["scope"]["targets"]) | {doc["scope"]["interface"] or "eth0"}
    secrets |= {"198.18."}  # no address at all, not even in evidence
    assert secrets and [s for s in secrets if s.lower() in html.lower()] == []
    text = text_of(html)
    assert "This scan found 1 Hikvision and 2 Dahua devices, 1 of them sold as Lorex." in text
    assert "Published version" in text and "Withheld from the published version" in text
    assert "DS-2CD2385G1-I" in text  # models, makers and brands stay


def test_maker_by_type_table() -> None:
    text = text_of(render_html([build_document(sample_result())], generated=FIXED))
    table = text.split("Maker by device type", 1)[1].split("By site", 1)[0]
    assert table.strip().startswith(
        "Maker camera unknown All Dahua 1 1 2 Hikvision 1 1 Axis 1 1 Undetermined 1 1"
    )


def test_follow_up_lists_what_is_unsettled_and_what_to_check() -> None:
    doc = build_document(sample_result())
    text = text_of(render_html([doc], generated=FIXED))
    section = text.split("To check by hand", 1)[1].split("Found outside", 1)[0]
    assert "198.18.0.60" in section and "198.18.0.45" in section  # undetermined; conflict
    assert "198.18.0.11" not in section  # confirmed
    undetermined = next(d for d in doc["devices"] if d["ip"] == "198.18.0.60")
    assert follow_up_hint(undetermined).startswith("Nothing named its maker.")
    assert follow_up_hint(undetermined) in section


def test_risk_table_names_the_advisory_and_says_nothing_was_sent() -> None:
    text = text_of(render_html([build_document(sample_result())], generated=FIXED))
    section = text.split("Risk notes", 1)[1].split("To check by hand", 1)[0]
    assert "Nothing was sent to any device" in section
    assert re.search(r"198\.18\.0\.11 Hikvision DS-2CD2385G1-I critical .*CVE-2021-36260", section)


def test_print_stylesheet_numbers_the_pages() -> None:
    html = render_html([build_document(sample_result())], generated=FIXED)
    assert 'counter(page) " of " counter(pages)' in html and "@media print" in html


def test_pdf_page_one_carries_the_answer(tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "report.pdf"
    write_report(build_document(sample_result()), out)
    reader = PdfReader(io.BytesIO(out.read_bytes()))
    first = " ".join(reader.pages[0].extract_text().split())
    assert "Hikvision and Dahua equipment at Town Hall" in first
    assert "This scan found 1 Hikvision and 2 Dahua devices" in first
    assert f"Page 1 of {len(reader.pages)}" in first


def test_report_cli_redacts_and_includes_outside(tmp_path: Path) -> None:
    scan = tmp_path / "scan.json"
    write_json(sample_result(), scan)
    res = CliRunner().invoke(
        app, ["report", str(scan), "-o", "-", "--redact", "--include-outside-scope"]
    )
    assert res.exit_code == 0, res.output
    assert "198.18." not in res.stdout
    assert "This scan found 2 Hikvision and 2 Dahua devices" in text_of(res.stdout)


@pytest.mark.parametrize("redact", [False, True])
def test_hostile_strings_stay_text_in_every_section(redact: bool) -> None:
    result = sample_result()
    d = result.devices[-1]
    d.verdict = replace(d.verdict, maker=None, brand="<b>x</b>", confidence=Confidence.POSSIBLE)
    html = render_html([build_document(result)], generated=FIXED, redact=redact)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_a_passive_capture_among_the_inputs_is_stated() -> None:
    q1, q2 = quarters()
    q2["scope"] = {**q2["scope"], "passive": {"statement": "passive: capture files x.pcap"}}
    text = text_of(render_html([q1, q2], generated=FIXED))
    assert "1 of the 2 was a passive capture (devices heard, not probed)" in text
