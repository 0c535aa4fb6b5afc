"""Progress observers and the human table: off when not a terminal, inert device strings."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, replace

import pytest
from output_sample import hikvision_camera, sample_result, with_device
from rich.console import Console

from camscan.output.table import print_table
from camscan.progress import NullProgress, RichProgress, make_observer, make_progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_off_unless_stderr_is_a_terminal() -> None:
    assert isinstance(make_progress(stream=io.StringIO()), NullProgress)
    assert isinstance(make_progress(quiet=True, stream=_Tty()), NullProgress)
    assert isinstance(make_progress(stream=_Tty()), RichProgress)


def test_rich_progress_shows_each_phase() -> None:
    buf = io.StringIO()
    p = RichProgress(Console(file=buf, force_terminal=True, width=100, color_system=None))
    p.start_phase("arp", 254)
    p.advance("arp", 200)
    p.end_phase("arp")
    p.start_phase("discovery", 5)
    p.advance("discovery")
    p.advance("probes")  # a phase that was never started appears without a total
    p.end_phase("discovery")
    p.end_phase("never")
    p.close()
    text = buf.getvalue()
    assert "arp" in text and "254/254" in text
    assert "discovery" in text and "5/5" in text and "probes" in text


@dataclass
class _Request:
    site: str | None = "Town Hall"
    operator: str | None = None


@dataclass
class _Scan:
    scope: object
    started: str
    request: _Request


def test_observer_streams_ndjson_and_closes_it_on_interrupt() -> None:
    result = sample_result()
    out = io.StringIO()
    with (
        pytest.raises(KeyboardInterrupt),
        make_observer(ndjson_out=out, stream=io.StringIO()) as obs,
    ):
        obs.header(_Scan(result.scope, result.started, _Request()))
        obs.start_phase("probes", 6)
        obs.device_final(result.devices[0])
        obs.advance("probes")
        raise KeyboardInterrupt
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [x["type"] for x in lines] == ["header", "device", "summary"]
    assert lines[0]["site"] == "Town Hall" and lines[-1]["complete"] is False


def test_observer_summary_after_a_finished_scan() -> None:
    result = sample_result()
    out = io.StringIO()
    obs = make_observer(ndjson_out=out, stream=io.StringIO())
    obs.header(_Scan(result.scope, result.started, _Request()))
    for d in result.devices:
        obs.device_final(d)
    obs.close()
    obs.summary(result)
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert len(lines) == 8 and lines[-1]["complete"] is True


def test_table_shows_device_strings_as_inert_text() -> None:
    dev = hikvision_camera()
    dev.ip = "198.18.0.66"
    dev.verdict = replace(dev.verdict, model="[bold red]X[/] \x1b[2J\x1b]0;owned\x07")
    buf = io.StringIO()
    print_table(
        with_device(sample_result(), dev),
        Console(file=buf, width=250, color_system=None, force_terminal=False),
    )
    text = buf.getvalue()
    assert "[bold red]X[/]" in text  # markup printed, not interpreted
    assert "\x1b" not in text and "\x07" not in text
    assert "3 Hikvision, 2 Dahua, 7 devices seen" in text
    assert "Lorex (white label)" in text
