"""Sensors push to the central server on a real PostgreSQL: push, re-push, outage, refusals."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from camscan.push import Client, Outcome, push_files, push_spool
from camscan.server.db import make_engine
from camscan.server.store import StoreError, add_principal, check_schema, scan_id
from camscan.spool import REJECTED, pending, spool_document
from tests.server.conftest import LiveServer, sample, self_signed

SITE = "Example Council, Town Hall"
TABLES = ("sites", "sensors", "documents", "scans", "devices", "verdicts", "evidence")


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    engine.dispose()
    return out


def sensor(url: str, name: str = "th-1", site: str = SITE) -> str:
    engine = make_engine(url)
    token = add_principal(engine, name, site=site)
    engine.dispose()
    return token


def client(server: LiveServer, token: str, **kw: Any) -> Client:
    kw.setdefault("sleep", lambda s: None)
    return Client(server.base, token, **kw)


def test_push_from_spool_stores_normalised_rows_and_empties_the_spool(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    doc = sample()
    path = spool_document(doc, tmp_path / "spool")
    sent = path.read_bytes()
    run = push_spool(client(live_server, sensor(db_url)), tmp_path / "spool")
    assert run.ok and [r.outcome for _, r in run.sent] == [Outcome.STORED]
    assert run.sent[0][1].scan_id == scan_id(doc)
    assert pending(tmp_path / "spool") == [] and not path.exists()
    c = counts(db_url)
    assert c["documents"] == c["scans"] == 1
    assert c["devices"] == c["verdicts"] == len(doc["devices"])
    assert c["evidence"] == sum(len(d["evidence"]) for d in doc["devices"])
    engine = make_engine(db_url)
    with engine.connect() as conn:
        body = conn.execute(text("SELECT body FROM documents")).scalar_one()
        hik = conn.execute(
            text("SELECT count(*) FROM verdicts WHERE maker = 'Hikvision'")
        ).scalar_one()
        row = conn.execute(text("SELECT hikvision, dahua, devices FROM scans")).one()
    engine.dispose()
    assert bytes(body) == sent  # the audit trail keeps the bytes the sensor sent
    assert hik == doc["summary"]["hikvision"]
    long = [
        ev["value"] for d in doc["devices"] for ev in d["evidence"] if len(str(ev["value"])) > 1000
    ]
    assert long  # the sample holds whole HTTP pages
    engine = make_engine(db_url)
    with engine.connect() as conn:
        cut = conn.execute(text("SELECT value FROM evidence WHERE truncated")).scalars().all()
    engine.dispose()
    assert len(cut) == len(long) and all(len(v) == 1000 for v in cut)
    assert sorted(cut) == sorted(str(v)[:1000] for v in long)
    assert tuple(row) == (doc["summary"]["hikvision"], doc["summary"]["dahua"], len(doc["devices"]))


def test_scan_id_ignores_key_order_and_whitespace() -> None:
    d = sample()
    shuffled = json.loads(json.dumps(dict(reversed(list(d.items()))), indent=3))
    assert scan_id(shuffled) == scan_id(d)
    assert scan_id({**d, "operator": "someone else"}) != scan_id(d)


def test_the_same_document_twice_changes_nothing(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    c = client(live_server, sensor(db_url))
    f = tmp_path / "scan.json"
    f.write_text(json.dumps(sample()), encoding="utf-8")
    first = push_files(c, [f], spool=False)
    before = counts(db_url)
    # Re-serialised with other whitespace and key order: still the same scan.
    f.write_text(json.dumps(dict(reversed(list(sample().items()))), indent=1), encoding="utf-8")
    again = push_files(c, [f, f], spool=False)
    assert first.sent[0][1].outcome is Outcome.STORED
    assert [r.outcome for _, r in again.sent] == [Outcome.DUPLICATE, Outcome.DUPLICATE]
    assert again.ok and f.exists()  # one-off files are not deleted
    assert counts(db_url) == before


def test_outage_keeps_the_spool_and_backoff_retries_until_the_server_is_back(
    db_url: str, tmp_path: Path
) -> None:
    server = LiveServer(db_url)
    token = sensor(db_url)
    spool = tmp_path / "spool"
    spool_document(sample(), spool)
    spool_document(sample("scan-next-quarter.json"), spool)
    waits: list[float] = []
    # A run during the outage: every try fails, the spool keeps both documents.
    down = Client(server.base, token, tries=3, backoff_s=4, sleep=waits.append)
    run = push_spool(down, spool)
    assert not run.ok and run.left == 2 and len(pending(spool)) == 2
    assert run.sent[0][1].outcome is Outcome.UNREACHABLE
    assert len(waits) == 2 and 2 <= waits[0] <= 4 and 4 <= waits[1] <= 8  # doubling, jittered

    # The next run: the server comes back while the sensor is backing off.
    def sleep(s: float) -> None:
        waits.append(s)
        if len(waits) == 4:
            server.start()

    try:
        back = Client(server.base, token, tries=5, backoff_s=1, sleep=sleep)
        run = push_spool(back, spool)
        assert run.ok, run.sent
        assert [r.outcome for _, r in run.sent] == [Outcome.STORED, Outcome.STORED]
        assert pending(spool) == []
        assert counts(db_url)["scans"] == 2
    finally:
        server.stop()
        server.app.state.engine.dispose()


def test_bad_token_is_refused_and_the_spool_kept(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    sensor(db_url)
    spool = tmp_path / "spool"
    spool_document(sample(), spool)
    spool_document(sample("scan-next-quarter.json"), spool)
    run = push_spool(client(live_server, "not-a-token"), spool)
    assert [r.outcome for _, r in run.sent] == [Outcome.UNAUTHORISED]  # stops at the first
    assert run.left == 2 and len(pending(spool)) == 2
    assert counts(db_url)["documents"] == 0


def test_reader_token_cannot_push_and_sensor_token_cannot_read(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    reader = add_principal(engine, "auditor", site=None)
    engine.dispose()
    f = tmp_path / "scan.json"
    f.write_text(json.dumps(sample()), encoding="utf-8")
    assert (
        push_files(client(live_server, reader), [f], spool=False).sent[0][1].outcome
        is Outcome.UNAUTHORISED
    )
    status, _ = client(live_server, sensor(db_url)).request("GET", "/api/v1/rollup")
    assert status == 403


def test_invalid_documents_are_refused_moved_aside_and_do_not_block_the_rest(
    live_server: LiveServer, db_url: str, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    broken = copy.deepcopy(sample())
    broken["devices"][0]["verdict"]["confidence"] = "certain"  # not in the schema's enum
    other_site = copy.deepcopy(sample())
    other_site["site"] = "Depot"
    bad = spool_document(broken, spool)
    wrong = spool_document(other_site, spool)
    (spool / "zz-not-json.json").write_text("{", encoding="utf-8")
    good = spool_document(sample("scan-next-quarter.json"), spool)
    run = push_spool(client(live_server, sensor(db_url)), spool)
    outcome = {p.name: r for p, r in run.sent}
    assert outcome[bad.name].outcome is Outcome.REFUSED
    assert "devices/0/verdict/confidence" in outcome[bad.name].detail
    assert outcome[wrong.name].outcome is Outcome.REFUSED
    assert "Depot" in outcome[wrong.name].detail
    assert outcome["zz-not-json.json"].detail.startswith("HTTP 422: not JSON")
    assert outcome[good.name].outcome is Outcome.STORED
    assert pending(spool) == []
    rejected = sorted(p.name for p in (spool / REJECTED).iterdir())
    assert bad.name in rejected and f"{bad.stem}.reason" in rejected
    assert counts(db_url)["scans"] == 1


def test_https_with_a_self_signed_certificate(db_url: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server = LiveServer(db_url, tls=(cert, key))
    server.start()
    try:
        token = sensor(db_url)
        f = tmp_path / "scan.json"
        f.write_text(json.dumps(sample()), encoding="utf-8")
        trusted = push_files(client(server, token, ca_file=cert), [f], spool=False)
        assert trusted.sent[0][1].outcome is Outcome.STORED
        untrusted = push_files(client(server, token, tries=1), [f], spool=False)
        assert untrusted.sent[0][1].outcome is Outcome.UNREACHABLE
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.sent[0][1].detail
    finally:
        server.stop()
        server.app.state.engine.dispose()


def test_documents_are_append_only(live_server: LiveServer, db_url: str, tmp_path: Path) -> None:
    f = tmp_path / "scan.json"
    f.write_text(json.dumps(sample()), encoding="utf-8")
    push_files(client(live_server, sensor(db_url)), [f], spool=False)
    engine = make_engine(db_url)
    for stmt in (
        "UPDATE documents SET body = 'x'",
        "DELETE FROM documents",
        "TRUNCATE documents CASCADE",
    ):
        with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    engine.dispose()
    assert counts(db_url)["documents"] == 1


def test_server_refuses_an_unmigrated_database(pg_cluster: Any) -> None:
    engine = make_engine(pg_cluster.create_database("t_unmigrated"))
    with pytest.raises(StoreError, match="camscan server migrate"):
        check_schema(engine)
    engine.dispose()


@pytest.mark.parametrize(
    "break_it",
    [
        lambda d: d["devices"][3]["verdict"].__setitem__("confidence", "certain"),
        lambda d: d.pop("summary"),
        lambda d: d.__setitem__("surprise", 1),
        lambda d: d["devices"][0].__setitem__("ip", 7),
        lambda d: d["stats"]["arp"].__setitem__("sent", -1),
        lambda d: None,  # unbroken: both accept
    ],
)
def test_server_validator_agrees_with_the_published_schema(break_it: Any) -> None:
    """The server's compiled validator and camscan.output.schema judge alike."""
    import jsonschema

    from camscan.output.schema import validate_document
    from camscan.server.store import InvalidDocument, decode_body

    doc = copy.deepcopy(sample())
    break_it(doc)
    try:
        validate_document(doc)
        reference = True
    except jsonschema.ValidationError:
        reference = False
    try:
        decode_body(json.dumps(doc).encode(), None)
        server = True
    except InvalidDocument:
        server = False
    assert server == reference


def test_bytes_already_stored_are_acknowledged_without_parsing(
    live_server: LiveServer, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import camscan.server.store as store

    c = client(live_server, sensor(db_url))
    f = tmp_path / "scan.json"
    f.write_text(json.dumps(sample()), encoding="utf-8")
    assert push_files(c, [f], spool=False).sent[0][1].outcome is Outcome.STORED

    def no_parsing(raw: bytes) -> dict[str, Any]:
        raise AssertionError("a known body was parsed again")

    monkeypatch.setattr(store, "parse_document", no_parsing)
    again = push_files(c, [f], spool=False).sent[0][1]
    assert again.outcome is Outcome.DUPLICATE and again.scan_id == scan_id(sample())
