"""The central store's operations: migrate, register sensors, authenticate, ingest a document."""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema_rs
import orjson
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from camscan.output.schema import SCHEMA_DIR
from camscan.server.compare import compare_in_place
from camscan.server.db import documents, driver, scans, sensors, sites

MAX_DOCUMENT_BYTES = 256 * 1024 * 1024  # decompressed; a 1,000-device scan is about 15 MB
TOKEN_BYTES = 32
# Evidence rows are for queries ("which devices said App-webs?"); whole raw responses (an
# HTTP page, a UPnP description) stay in the stored document. Cutting them here makes the
# evidence table about 3x smaller and ingestion faster.
EVIDENCE_VALUE_MAX = 1000


class StoreError(Exception):
    """A store operation failed in a way the user can act on; one line."""


class InvalidDocument(Exception):
    """The pushed body is not a valid scan document; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The sensor or reader a token belongs to."""

    id: int
    name: str
    role: str
    site_id: int | None
    site: str | None


# -- migrations -----------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the central database, without an alembic.ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", "camscan.server:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it."""
    cfg = alembic_config(str(engine.url))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head_revision()


def head_revision() -> str:
    """The newest migration this camscan ships."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None before the first migration)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_schema(engine: Engine) -> None:
    """Refuse to serve a database whose schema is not this camscan's newest."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot reach the database: {_first_line(exc)}") from None
    if current != head_revision():
        raise StoreError(
            f"database schema is at {current or 'nothing'}, this camscan needs "
            f"{head_revision()}: run `camscan server migrate`"
        )


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


# -- sensors and tokens ---------------------------------------------------------------------


def hash_token(token: str) -> str:
    """How a token is kept in the database."""
    return hashlib.sha256(token.encode()).hexdigest()


def add_principal(engine: Engine, name: str, *, site: str | None) -> str:
    """Create a sensor (with `site`) or a reader (site None); returns its token, shown once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        with engine.begin() as conn:
            site_id = None
            if site is not None:
                site_id = _site_id(conn, site)
            conn.execute(
                insert(sensors).values(
                    name=name,
                    role="sensor" if site is not None else "reader",
                    site_id=site_id,
                    token_hash=hash_token(token),
                    created_at=func.now(),
                )
            )
    except IntegrityError:
        raise StoreError(f"a sensor or reader named {name!r} exists already") from None
    return token


def _site_id(conn: Connection, name: str) -> int:
    stmt = pg_insert(sites).values(name=name, created_at=func.now()).on_conflict_do_nothing()
    conn.execute(stmt)
    site_id = conn.execute(select(sites.c.id).where(sites.c.name == name)).scalar_one()
    return int(site_id)


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal holding `token`, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(sensors.c.id, sensors.c.name, sensors.c.role, sensors.c.site_id, sites.c.name)
            .select_from(sensors.outerjoin(sites, sensors.c.site_id == sites.c.id))
            .where(sensors.c.token_hash == hash_token(token))
        ).first()
    return Principal(row[0], row[1], row[2], row[3], row[4]) if row is not None else None


# -- ingestion ------------------------------------------------------------------------------


def scan_id(doc: dict[str, Any]) -> str:
    """A scan's id: SHA-256 of its canonical JSON (orjson, keys sorted, no spaces).

    Key order and whitespace do not change it, so the same scan re-saved is still a duplicate.
    orjson because the standard library's sorted dump of a 1,000-device document takes 5x
    longer, and only the server computes ids.
    """
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def receive(engine: Engine, who: Principal, body: bytes, encoding: str | None) -> tuple[str, bool]:
    """Take one pushed body: (scan id, newly stored). Raises InvalidDocument.

    Bytes already stored (a push whose acknowledgement was lost) are recognised by their hash
    before any parsing, so a sensor's retries cost the server almost nothing.
    """
    raw = gunzip_body(body, encoding)
    digest = hashlib.sha256(raw).hexdigest()
    with engine.begin() as conn:
        known = conn.execute(
            select(documents.c.scan_id).where(documents.c.body_sha256 == digest)
        ).scalar()
        if known is not None:
            conn.execute(update(sensors).where(sensors.c.id == who.id).values(last_seen=func.now()))
            return str(known), False
    return ingest(engine, who, raw, parse_document(raw))


def decode_body(body: bytes, encoding: str | None) -> tuple[bytes, dict[str, Any]]:
    """The pushed document's bytes (gunzipped if so sent) and the document, schema-checked."""
    raw = gunzip_body(body, encoding)
    return raw, parse_document(raw)


def gunzip_body(body: bytes, encoding: str | None) -> bytes:
    """The pushed bytes, gunzipped if so sent, within MAX_DOCUMENT_BYTES."""
    if encoding and encoding.lower() == "gzip":
        try:
            d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            body = d.decompress(body, MAX_DOCUMENT_BYTES + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise InvalidDocument(f"bad gzip body: {exc}") from None
    elif encoding and encoding.lower() != "identity":
        raise InvalidDocument(f"unsupported Content-Encoding {encoding!r}")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"document larger than {MAX_DOCUMENT_BYTES} bytes")
    return body


def parse_document(body: bytes) -> dict[str, Any]:
    """The document in `body`, checked against the published JSON Schema."""
    try:
        doc: dict[str, Any] = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidDocument(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidDocument("not a scan document: the top level is not an object")
    try:
        _validator().validate(doc)
    except jsonschema_rs.ValidationError as exc:
        where = "/".join(str(p) for p in exc.instance_path) or "(top level)"
        raise InvalidDocument(
            f"does not match scan.schema.json at {where}: {exc.message[:300]}"
        ) from None
    return doc


@cache
def _validator() -> Any:
    """The published scan.schema.json, compiled by jsonschema-rs.

    The sensor side validates with the pure-Python jsonschema; here a 1,000-device document
    takes about 10 ms instead of about 10 s, which decides whether a central server keeps up.
    """
    schema = json.loads((SCHEMA_DIR / "scan.schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def ingest(engine: Engine, who: Principal, raw: bytes, doc: dict[str, Any]) -> tuple[str, bool]:
    """Store one validated document (and its bytes as received) for sensor `who`.

    Returns (scan id, newly stored); the same document again changes nothing.
    """
    if who.role != "sensor" or who.site_id is None:
        raise PermissionError("only a sensor token may push scans")
    if doc["site"] is not None and doc["site"] != who.site:
        raise InvalidDocument(
            f"the document is for site {doc['site']!r}, but sensor "
            f"{who.name!r} reports for site {who.site!r}"
        )
    try:
        started = datetime.fromisoformat(doc["started"])
        finished = _time(doc["finished"])
    except ValueError as exc:
        raise InvalidDocument(f"bad time: {exc}") from None
    if started.tzinfo is None or (finished is not None and finished.tzinfo is None):
        raise InvalidDocument("started and finished need a UTC offset")
    sid = scan_id(doc)
    with engine.begin() as conn:
        conn.execute(update(sensors).where(sensors.c.id == who.id).values(last_seen=func.now()))
        doc_id = conn.execute(
            pg_insert(documents)
            .values(
                scan_id=sid,
                sensor_id=who.id,
                received_at=func.now(),
                body=raw,
                body_sha256=hashlib.sha256(raw).hexdigest(),
            )
            .on_conflict_do_nothing(index_elements=["scan_id"])
            .returning(documents.c.id)
        ).scalar()
        if doc_id is None:
            return sid, False  # the same document again: nothing changes
        s = doc["summary"]
        conn.execute(
            insert(scans).values(
                id=doc_id,
                scan_id=sid,
                site_id=who.site_id,
                sensor_id=who.id,
                started=started,
                finished=finished,
                complete=bool(doc["complete"]),
                schema_version=doc["schema_version"],
                devices=len(doc["devices"]),
                hikvision=s["hikvision"],
                dahua=s["dahua"],
                received_at=func.now(),
            )
        )
        _copy_rows(conn, doc_id, doc["devices"])
        # The sensor's row is locked since the UPDATE above, so its scans arrive one at a time.
        compare_in_place(conn, who.id, doc_id, started)
    return sid, True


def _copy_rows(conn: Connection, sid: int, devs: list[dict[str, Any]]) -> None:
    """Devices, verdicts and evidence through COPY: one round trip per table, not per row."""
    cur = driver(conn).cursor()
    with cur.copy(
        "COPY devices (scan, device_no, ip, mac, vendor, outside_scope) FROM STDIN"
    ) as cp:
        for i, d in enumerate(devs):
            cp.write_row((sid, i, d["ip"], d["mac"], d.get("vendor"), d["outside_scope"]))
    with cur.copy(
        "COPY verdicts (scan, device_no, maker, brand, white_label, device_type, "
        "model, firmware, serial, confidence, conflicts) FROM STDIN"
    ) as cp:
        for i, d in enumerate(devs):
            v = d["verdict"]
            cp.write_row(
                (
                    sid,
                    i,
                    v["maker"],
                    v["brand"],
                    bool(v.get("white_label")),
                    v["device_type"],
                    v["model"],
                    v["firmware"],
                    v["serial"],
                    v["confidence"],
                    json.dumps(v["conflicts"], ensure_ascii=False),
                )
            )
    with cur.copy(
        "COPY evidence (scan, device_no, source, key, value, truncated, port) FROM STDIN"
    ) as cp:
        for i, d in enumerate(devs):
            for ev in d["evidence"]:
                value = _text(ev["value"])
                cp.write_row(
                    (
                        sid,
                        i,
                        ev["source"],
                        ev["key"],
                        value[:EVIDENCE_VALUE_MAX],
                        len(value) > EVIDENCE_VALUE_MAX,
                        ev["port"],
                    )
                )


def _text(value: Any) -> str:
    # PostgreSQL text cannot hold NUL; device-supplied values can.
    return (value if isinstance(value, str) else json.dumps(value)).replace("\x00", "\\u0000")
