"""A real PostgreSQL (Debian's package) in a throw-away cluster, and the camscan server on it.

Each test gets its own database, a copy of one migrated by `camscan server migrate`.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.pgcluster import Cluster, available, running_cluster

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sample"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL not installed: scripts/install-system-deps --test installs it")
        pytest.skip("PostgreSQL not installed (Debian's postgresql package)")
    with running_cluster() as cluster:
        _migrated_template(cluster)
        yield cluster


MIGRATED = "camscan_migrated"


def _migrated_template(cluster: Cluster) -> None:
    """One database migrated by `camscan server migrate`, copied for each test."""
    from camscan.server.db import make_engine
    from camscan.server.store import migrate

    engine = make_engine(cluster.create_database(MIGRATED))
    migrate(engine)
    engine.dispose()


@pytest.fixture
def db_url(pg_cluster: Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50].lower()
    return pg_cluster.create_database(f"{name}_{time.monotonic_ns() % 10**6}", MIGRATED)


class LiveServer:
    """The camscan ASGI app under uvicorn in a thread, on a loopback port it can stop and reuse."""

    def __init__(self, url: str, *, tls: tuple[Path, Path] | None = None) -> None:
        from camscan.server.app import create_app

        self.app = create_app(url)
        self.tls = tls
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> None:
        import uvicorn

        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=str(self.tls[0]) if self.tls else None,
            ssl_keyfile=str(self.tls[1]) if self.tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the camscan server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None


@pytest.fixture
def live_server(db_url: str) -> Iterator[LiveServer]:
    server = LiveServer(db_url)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.app.state.engine.dispose()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camscan test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def sample(name: str = "scan.json") -> dict[str, Any]:
    """A sample scan document from examples/sample/."""
    doc: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return doc
