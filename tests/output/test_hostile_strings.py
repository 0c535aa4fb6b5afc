"""Property: whatever text a device sends, every output stays inert and well-formed."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from output_sample import hikvision_camera, sample_result

from camscan.models import Evidence, ScanResult
from camscan.output.csv import FORMULA_START, PROFILES, csv_text
from camscan.output.document import build_document
from camscan.output.ndjson import write_all
from camscan.output.report import render_html

device_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


class _Page(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _result(model: str, brand: str, title: str) -> ScanResult:
    dev = hikvision_camera()
    dev.verdict = replace(
        dev.verdict, model=model or None, brand=brand or None, firmware=title or None
    )
    dev.evidence.append(Evidence(dev.ip, "http", "http.title", title, 80))
    return replace(sample_result(), devices=[dev])


def _tame(value: str) -> str:
    """A harmless stand-in that takes the same branches (empty, the maker's own name, other)."""
    return value if value in ("", "Hikvision") else "x"


def _tags(model: str, brand: str, title: str) -> list[tuple[str, tuple[str, ...]]]:
    doc = build_document(_result(model, brand, title))
    return _Page(render_html([doc], generated="2026-11-23T03:00:00+00:00")).tags


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=device_text, brand=device_text, title=device_text)
def test_outputs_stay_inert(model: str, brand: str, title: str) -> None:
    result = _result(model, brand, title)
    doc = build_document(result)
    for profile in PROFILES:
        cells = [
            c for row in csv.reader(io.StringIO(csv_text(doc, profile), newline="")) for c in row
        ]
        assert not [c for c in cells if c.startswith(FORMULA_START)]
    buf = io.StringIO()
    write_all(result, buf)
    lines = buf.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 4  # header, device, summary: nothing split
    assert json.loads(lines[1])["verdict"]["model"] == (model or None)
    page = _Page(render_html([doc], generated="2026-11-23T03:00:00+00:00"))
    # Device strings add no element and no attribute, whatever they contain ...
    assert page.tags == _tags(_tame(model), _tame(brand), _tame(title))
    # ... and read back as the device sent them.
    text = " ".join(" ".join(page.text).split())
    for value in (model, brand):
        assert " ".join(value.split()) in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model=device_text, brand=device_text)
def test_terminal_table_shows_no_bidi_control_or_line_separator(model: str, brand: str) -> None:
    from rich.console import Console

    from camscan.output.table import print_table

    hostile = "\u202eDahua\u202c\u2066x\u2069\u200f\u061c\u2028\u2029"
    doc = build_document(_result(model + hostile, brand + hostile, "t"))
    buf = io.StringIO()
    print_table(doc, Console(file=buf, width=200, color_system=None, legacy_windows=False))
    shown = buf.getvalue()
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    for ch in bidi + "\u2028\u2029":
        assert ch not in shown, hex(ord(ch))
