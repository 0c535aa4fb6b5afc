"""The central store's tables (SQLAlchemy Core) and engine; the schema itself is made by Alembic."""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# A sensor pushes for one site; a reader may only read the roll-up. Tokens are stored as
# SHA-256: they are 256-bit random strings, so a slow password hash would add nothing.
sensors = Table(
    "sensors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("site_id", Integer, ForeignKey("sites.id")),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True)),
)

# The audit trail: every accepted document exactly as received; a trigger refuses UPDATE,
# DELETE and TRUNCATE.
documents = Table(
    "documents",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("scan_id", Text, nullable=False, unique=True),
    Column("sensor_id", Integer, ForeignKey("sensors.id"), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("body_sha256", Text, nullable=False),
)

scans = Table(
    "scans",
    metadata,
    Column("id", BigInteger, ForeignKey("documents.id"), primary_key=True),
    Column("scan_id", Text, nullable=False, unique=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("sensor_id", Integer, ForeignKey("sensors.id"), nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("complete", Boolean, nullable=False),
    Column("schema_version", Text, nullable=False),
    Column("devices", Integer, nullable=False),
    Column("hikvision", Integer, nullable=False),
    Column("dahua", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("previous", BigInteger, ForeignKey("scans.id")),
    Column("new", Integer),
    Column("removed", Integer),
    Column("removed_hikvision_dahua", Integer),
    Column("still_present_hikvision_dahua", Integer),
)

# Rows of one scan are written in one transaction with their scans row; no per-row foreign
# key check (it would cost more than the COPY of a 1,000-device scan).
devices = Table(
    "devices",
    metadata,
    Column("scan", BigInteger, primary_key=True),
    Column("device_no", Integer, primary_key=True),
    Column("ip", Text, nullable=False),
    Column("mac", Text),
    Column("vendor", Text),
    Column("outside_scope", Boolean, nullable=False),
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("scan", BigInteger, primary_key=True),
    Column("device_no", Integer, primary_key=True),
    Column("maker", Text),
    Column("brand", Text),
    Column("white_label", Boolean, nullable=False),
    Column("device_type", Text, nullable=False),
    Column("model", Text),
    Column("firmware", Text),
    Column("serial", Text),
    Column("confidence", Text, nullable=False),
    Column("conflicts", JSONB, nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("scan", BigInteger, nullable=False),
    Column("device_no", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("port", Integer),
)


def engine_url(url: str) -> str:
    """A `postgresql://` URL with the psycopg 3 driver named, as SQLAlchemy wants it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine on the central database."""
    return create_engine(
        engine_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def driver(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy one, for COPY and bulk reads."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw
