"""Alembic environment: runs migrations on the connection `camscan server migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from camscan.server.db import make_engine, metadata

config = context.config
target_metadata = metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with make_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
