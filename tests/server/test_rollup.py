"""The roll-up over sites, checked against the documents that were pushed; the CLI around it."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from camscan.cli import main
from camscan.diff import diff_documents
from camscan.output.document import summarize
from camscan.push import Client, Outcome, push_files
from camscan.server.db import make_engine
from camscan.server.rollup import compute
from camscan.server.store import add_principal
from tests.server.conftest import LiveServer, sample

SITE = "Example Council, Town Hall"


def second_segment(doc: dict[str, Any], n: int = 10) -> dict[str, Any]:
    """Another sensor's scan at the same site: the first n devices, on another subnet."""
    out = copy.deepcopy(doc)
    out["devices"] = out["devices"][:n]
    for d in out["devices"]:
        d["ip"] = d["ip"].replace("198.18.0.", "198.18.7.")
        d["mac"] = None if d["mac"] is None else "02" + d["mac"][2:]
    out["summary"] = summarize(out["devices"])
    # A day after the scan it copies: the later of the site's scans, whenever the samples ran.
    later = datetime.fromisoformat(doc["started"]) + timedelta(days=1)
    out["started"] = later.isoformat(timespec="seconds")
    return out


def push(server: LiveServer, token: str, tmp_path: Path, *docs: dict[str, Any]) -> None:
    files = []
    for i, doc in enumerate(docs):
        f = tmp_path / f"push-{token[:6]}-{i}.json"
        f.write_text(json.dumps(doc), encoding="utf-8")
        files.append(f)
    run = push_files(Client(server.base, token, sleep=lambda s: None), files, spool=False)
    assert [r.outcome for _, r in run.sent] == [Outcome.STORED] * len(docs)


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    engine = make_engine(db_url)
    out = {
        name: add_principal(engine, name, site=site)
        for name, site in (("th-vlan10", SITE), ("th-vlan20", SITE), ("depot-1", "Depot"))
    }
    out["auditor"] = add_principal(engine, "auditor", site=None)
    engine.dispose()
    return out


def test_rollup_two_sensors_of_one_site_against_the_pushed_documents(
    live_server: LiveServer, db_url: str, tokens: dict[str, str], tmp_path: Path
) -> None:
    a1, a2 = sample(), sample("scan-next-quarter.json")
    b = second_segment(a1)
    push(live_server, tokens["th-vlan10"], tmp_path, a1, a2)
    push(live_server, tokens["th-vlan20"], tmp_path, b)
    engine = make_engine(db_url)
    r = compute(engine)
    engine.dispose()
    by_site = {s.site: s for s in r.sites}
    th = by_site[SITE]
    expected = diff_documents(a1, a2).counts()
    assert expected["removed_hikvision_dahua"] > 0  # the sample pair removes cameras
    assert (th.sensors, th.scans, th.compared) == (2, 2, 1)
    assert th.devices == len(a2["devices"]) + len(b["devices"])
    assert th.hikvision == a2["summary"]["hikvision"] + b["summary"]["hikvision"]
    assert th.dahua == a2["summary"]["dahua"] + b["summary"]["dahua"]
    assert th.removed == expected["removed"]
    assert th.removed_hikvision_dahua == expected["removed_hikvision_dahua"]
    assert th.still_present_hikvision_dahua == expected["still_present_hikvision_dahua"]
    assert th.latest_scan == b["started"]  # sensor B's, the later one
    assert th.silent_sensors == []
    depot = by_site["Depot"]
    assert (depot.sensors, depot.scans, depot.devices) == (1, 0, 0)
    assert [s.name for s in r.silent] == ["depot-1"] and r.silent[0].last_seen is None
    assert r.total.devices == th.devices and r.total.hikvision_dahua == th.hikvision_dahua


def test_rollup_lists_a_sensor_silent_for_n_days(
    db_url: str, tokens: dict[str, str], live_server: LiveServer, tmp_path: Path
) -> None:
    push(live_server, tokens["depot-1"], tmp_path, {**sample(), "site": "Depot"})
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE sensors SET last_seen = now() - interval '10 days' WHERE name = 'depot-1'")
        )
    week = {s.name for s in compute(engine, silent_days=7).silent}
    fortnight = {s.name for s in compute(engine, silent_days=14).silent}
    later = {
        s.name
        for s in compute(engine, silent_days=14, now=datetime.now(UTC) + timedelta(days=5)).silent
    }
    engine.dispose()
    assert "depot-1" in week and "depot-1" not in fortnight and "depot-1" in later


def test_report_endpoints_and_the_cli(
    live_server: LiveServer,
    db_url: str,
    tokens: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    a1, a2 = sample(), sample("scan-next-quarter.json")
    push(live_server, tokens["th-vlan10"], tmp_path, a1, a2)
    reader = tmp_path / "reader.token"
    reader.write_text(tokens["auditor"] + "\n", encoding="utf-8")
    out = tmp_path / "rollup.html"
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--server", live_server.base, "--token-file", str(reader), "-o", str(out)])
    assert exit_.value.code == 0
    figures = json.loads(capsys.readouterr().out)
    th = next(s for s in figures["sites"] if s["site"] == SITE)
    assert th["hikvision_dahua"] == a2["summary"]["hikvision"] + a2["summary"]["dahua"]
    assert (
        th["removed_hikvision_dahua"] == diff_documents(a1, a2).counts()["removed_hikvision_dahua"]
    )
    html = out.read_text(encoding="utf-8")
    assert f'data-site="{SITE}"' in html and "depot-1" in html  # silent sensor listed
    site_report = tmp_path / "site.html"
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "report",
                "--server",
                live_server.base,
                "--token-file",
                str(reader),
                "--site",
                SITE,
                "-o",
                str(site_report),
            ]
        )
    assert exit_.value.code == 0
    text_ = site_report.read_text(encoding="utf-8")
    # The site's report is the FOI report of its latest scan; its headline counts the devices
    # in the scanned range (those heard outside it are listed apart).
    inside = [d["verdict"]["maker"] for d in a2["devices"] if not d["outside_scope"]]
    assert f"found {inside.count('Hikvision')} Hikvision and {inside.count('Dahua')} Dahua" in text_
    capsys.readouterr()
    bad = tmp_path / "bad.token"
    bad.write_text("nope\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--server", live_server.base, "--token-file", str(bad)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err and "Traceback" not in err


def test_server_cli_add_sensor_and_push_cli(
    db_url: str, live_server: LiveServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "sensor.token"
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "server",
                "add-sensor",
                "th-cli",
                "--site",
                SITE,
                "--db",
                db_url,
                "--token-file",
                str(token_file),
            ]
        )
    assert exit_.value.code == 0 and token_file.stat().st_mode & 0o777 == 0o600
    with pytest.raises(SystemExit) as exit_:  # the name is taken: one line, exit 1
        main(["server", "add-sensor", "th-cli", "--site", SITE, "--db", db_url])
    assert exit_.value.code == 1 and "exists already" in capsys.readouterr().err
    spool = tmp_path / "spool"
    from camscan.spool import spool_document

    spool_document(sample(), spool)
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "push",
                "--spool",
                str(spool),
                "--server",
                live_server.base,
                "--token-file",
                str(token_file),
            ]
        )
    assert exit_.value.code == 0 and list(spool.glob("*.json")) == []
    assert "stored" in capsys.readouterr().err


def test_server_cli_refuses_sqlite_missing_db_and_clear_http_off_loopback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAMSCAN_SERVER_DB", raising=False)
    for argv in (
        ["server", "migrate"],
        ["server", "migrate", "--db", "sqlite:///x.db"],
        ["server", "--db", "postgresql://x@/y", "--bind", "0.0.0.0:8443"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "no database" in err and "postgresql://" in err
    assert "plain HTTP only on loopback" in err


def test_a_late_scan_is_put_in_its_place(
    live_server: LiveServer, db_url: str, tokens: dict[str, str], tmp_path: Path
) -> None:
    """After an outage the older scan may arrive last: the figures are as if in order."""
    a1, a2 = sample(), sample("scan-next-quarter.json")
    push(live_server, tokens["th-vlan10"], tmp_path, a2, a1)  # newer first
    engine = make_engine(db_url)
    th = next(s for s in compute(engine).sites if s.site == SITE)
    engine.dispose()
    expected = diff_documents(a1, a2).counts()
    assert th.scans == 1 and th.compared == 1
    assert th.devices == len(a2["devices"])
    assert (th.removed, th.removed_hikvision_dahua, th.still_present_hikvision_dahua) == (
        expected["removed"],
        expected["removed_hikvision_dahua"],
        expected["still_present_hikvision_dahua"],
    )
