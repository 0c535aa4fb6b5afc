"""`camscan server`: the central inventory (PostgreSQL) — serve, migrate, add sensors/readers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

from camscan.output.exitcodes import RUNTIME_ERROR, USAGE_ERROR

DB_ENV = "CAMSCAN_SERVER_DB"

app = typer.Typer(
    help="The central inventory on PostgreSQL: sensors push, the roll-up reads.",
    no_args_is_help=False,
    invoke_without_command=True,
)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help=f"postgresql://… URL of the central database (default ${DB_ENV})."),
]


def _fail(message: str, code: int = RUNTIME_ERROR) -> typer.Exit:
    typer.echo(f"camscan: error: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def _engine(db: str | None) -> Iterator[Engine]:
    """An engine on the central database, disposed of afterwards."""
    try:
        from camscan.server.db import make_engine
    except ImportError as exc:
        raise _fail(
            f"the server needs its extra: pip install 'camscan[server]' ({exc.name} is missing)"
        ) from None
    url = db or os.environ.get(DB_ENV)
    if not url:
        raise _fail(f"no database: give --db postgresql://… or set {DB_ENV}", USAGE_ERROR)
    if not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        raise _fail(
            "--db must be a postgresql:// URL (SQLite stays the embedded store of `scan --store`)",
            USAGE_ERROR,
        )
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(f"--bind {value!r}: expected HOST:PORT", USAGE_ERROR)
    return host.strip("[]") or "127.0.0.1", int(port)


@app.callback()
def serve(
    ctx: typer.Context,
    db: DbOption = None,
    bind: Annotated[str, typer.Option("--bind", help="HOST:PORT to listen on.")] = "127.0.0.1:8443",
    cert: Annotated[
        Path | None,
        typer.Option(
            "--cert",
            help="TLS certificate (PEM); with --key, the server speaks HTTPS.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="TLS private key (PEM).", exists=True, dir_okay=False),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Server processes.")] = 1,
) -> None:
    """Serve the HTTP API (unless a subcommand is given)."""
    if ctx.invoked_subcommand is not None:
        return
    if (cert is None) != (key is None):
        raise _fail("--cert and --key go together", USAGE_ERROR)
    host, port = _bind(bind)
    from camscan.push import is_loopback_host

    if cert is None and not is_loopback_host(host):
        raise _fail(
            f"--bind {bind}: plain HTTP only on loopback (tokens must not cross a "
            "network in clear); give --cert and --key, or bind to 127.0.0.1 behind a "
            "TLS proxy",
            USAGE_ERROR,
        )
    from camscan.server.store import StoreError, check_schema

    with _engine(db) as engine:
        try:
            check_schema(engine)
        except StoreError as exc:
            raise _fail(str(exc)) from None
    import uvicorn

    os.environ[DB_ENV] = db or os.environ[DB_ENV]  # the worker processes build their own app
    uvicorn.run(
        "camscan.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        log_level="warning",
        access_log=False,
    )


@app.command("migrate")
def migrate_cmd(db: DbOption = None) -> None:
    """Create or upgrade the central database's schema (Alembic)."""
    from camscan.server.store import migrate

    with _engine(db) as engine:
        try:
            revision = migrate(engine)
        except Exception as exc:  # the database's own one-line message
            raise _fail(
                f"migration failed: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
            ) from None
    typer.echo(f"camscan: database schema at revision {revision}", err=True)


def _write_token(token: str, path: Path | None) -> None:
    if path is None:
        typer.echo(token)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    typer.echo(f"camscan: token written to {path}", err=True)


TokenFile = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="Write the token to this new file (0600) instead of stdout.",
        dir_okay=False,
    ),
]


@app.command("add-sensor")
def add_sensor(
    name: Annotated[str, typer.Argument(help="Sensor name, unique.")],
    site: Annotated[str, typer.Option("--site", help="The site this sensor reports for.")],
    db: DbOption = None,
    token_file: TokenFile = None,
) -> None:
    """Register a sensor for a site; prints its token once (only its hash is stored)."""
    _add(name, site, db, token_file)


@app.command("add-reader")
def add_reader(
    name: Annotated[str, typer.Argument(help="Reader name, unique.")],
    db: DbOption = None,
    token_file: TokenFile = None,
) -> None:
    """Register a reader of the roll-up (GET /report, /api/v1/rollup); prints its token once."""
    _add(name, None, db, token_file)


def _add(name: str, site: str | None, db: str | None, token_file: Path | None) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from camscan.server.store import StoreError, add_principal, check_schema

    if not name.strip() or (site is not None and not site.strip()):
        raise _fail("the name and the site must not be empty", USAGE_ERROR)
    if token_file is not None and token_file.exists():
        raise _fail(f"{token_file} exists already; not overwriting a token", USAGE_ERROR)
    with _engine(db) as engine:
        try:
            check_schema(engine)
            token = add_principal(engine, name, site=site)
        except StoreError as exc:
            raise _fail(str(exc)) from None
        except SQLAlchemyError as exc:
            raise _fail(
                f"database error: {str(getattr(exc, 'orig', exc)).splitlines()[0]}"
            ) from None
    _write_token(token, token_file)
