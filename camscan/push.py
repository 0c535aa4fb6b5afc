"""The sensor's upload: scan documents to the central server over HTTPS, outbound only.

Standard library only (urllib, ssl, gzip), so a sensor needs none of the server's packages.
A connection failure, a 5xx or a 429 is retried with exponential backoff and jitter; after the
last try the run stops and the spool keeps everything for the next run. 401/403 stops the run
at once (the token is wrong for every document). Any other 4xx is a refusal of that document.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from camscan.spool import pending, reject

SCANS_PATH = "/api/v1/scans"
USER_AGENT = "camscan-sensor"
TIMEOUT_S = 120.0


class PushError(Exception):
    """Upload cannot start (bad URL, token file, CA file); one line for the user."""


class Outcome(StrEnum):
    """What the server said about one document."""

    STORED = "stored"
    DUPLICATE = "duplicate"  # the server already had it: acknowledged all the same
    REFUSED = "refused"  # invalid document: retrying cannot help
    UNAUTHORISED = "unauthorised"
    UNREACHABLE = "unreachable"  # every try failed: network, 5xx, 429


@dataclass(frozen=True, slots=True)
class Result:
    """One document's upload result."""

    outcome: Outcome
    detail: str
    scan_id: str | None = None


@dataclass(slots=True)
class Client:
    """A sensor's connection settings; `send` uploads one document's bytes."""

    server: str
    token: str
    ca_file: Path | None = None
    tries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    _ssl: ssl.SSLContext | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.server = self.server.rstrip("/")
        if not self.server.startswith(("https://", "http://")):
            raise PushError(f"--server {self.server!r}: give an https:// URL")
        if self.server.startswith("http://") and not _loopback(self.server):
            raise PushError(
                f"--server {self.server}: tokens and scans travel only over "
                "https:// (http:// only to this machine's loopback)"
            )
        if self.server.startswith("https://"):
            try:
                self._ssl = ssl.create_default_context(
                    cafile=str(self.ca_file) if self.ca_file else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise PushError(f"cannot load CA file {self.ca_file}: {exc}") from None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One HTTP exchange; returns (status, body); raises OSError when there is no answer."""
        req = urllib.request.Request(
            self.server + path,
            data=body,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "User-Agent": USER_AGENT,
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S, context=self._ssl) as resp:
                return int(resp.status), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def send(self, data: bytes) -> Result:
        """Upload one document (JSON bytes), retrying what a later try could fix."""
        body = gzip.compress(data, compresslevel=5)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        delay = self.backoff_s
        last = ""
        for attempt in range(1, self.tries + 1):
            try:
                status, reply = self.request("POST", SCANS_PATH, body, headers)
            except (OSError, ValueError) as exc:  # refused, reset, TLS failure, timeout
                last = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
            else:
                detail = _detail(reply)
                if status in (200, 201):
                    sid = _field(reply, "scan_id")
                    return Result(
                        Outcome.DUPLICATE if status == 200 else Outcome.STORED, detail, sid
                    )
                if status in (401, 403):
                    return Result(Outcome.UNAUTHORISED, f"HTTP {status}: {detail}")
                if status != 429 and status < 500:
                    return Result(Outcome.REFUSED, f"HTTP {status}: {detail}")
                last = f"HTTP {status}: {detail}"
            if attempt < self.tries:
                # Full jitter: many sensors coming back after one outage do not retry in step.
                self.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self.backoff_max_s)
        return Result(Outcome.UNREACHABLE, f"{self.tries} tries, last: {last}")


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a name or an address, brackets allowed) is this machine's loopback."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback(url: str) -> bool:
    return is_loopback_host(urllib.parse.urlsplit(url).hostname or "")


def _field(reply: bytes, name: str) -> str | None:
    try:
        value = json.loads(reply).get(name)
    except (ValueError, AttributeError):
        return None
    return str(value) if value is not None else None


def _detail(reply: bytes) -> str:
    text = _field(reply, "error") or _field(reply, "status")
    return text if text is not None else reply[:200].decode("utf-8", "replace").strip()


def read_token(path: Path) -> str:
    """The sensor token from its file (first line, stripped)."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise PushError(f"cannot read token file {path}: {exc}") from None
    if not token or any(c.isspace() for c in token):
        raise PushError(f"token file {path}: expected one token on one line")
    return token


@dataclass(slots=True)
class SpoolRun:
    """What one push run did."""

    sent: list[tuple[Path, Result]] = field(default_factory=list)
    left: int = 0  # documents still in the spool when the run stopped

    @property
    def ok(self) -> bool:
        """True when every document was acknowledged."""
        return self.left == 0 and all(
            r.outcome in (Outcome.STORED, Outcome.DUPLICATE) for _, r in self.sent
        )


def push_files(
    client: Client,
    files: list[Path],
    *,
    spool: bool,
    report: Callable[[Path, Result], None] = lambda p, r: None,
) -> SpoolRun:
    """Upload files in order. From a spool: acknowledged ones are deleted, refused ones moved."""
    run = SpoolRun()
    for i, path in enumerate(files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            result = Result(Outcome.REFUSED, f"cannot read: {exc.strerror}")
        else:
            result = client.send(data)
        run.sent.append((path, result))
        report(path, result)
        if result.outcome in (Outcome.UNAUTHORISED, Outcome.UNREACHABLE):
            run.left = len(files) - i  # stop: later documents would fail the same way
            break
        if spool and result.outcome in (Outcome.STORED, Outcome.DUPLICATE):
            path.unlink(missing_ok=True)
        elif spool and result.outcome is Outcome.REFUSED and path.exists():
            reject(path, result.detail)
    return run


def push_spool(
    client: Client, spool: Path, report: Callable[[Path, Result], None] = lambda p, r: None
) -> SpoolRun:
    """Upload every pending document of the spool, oldest first."""
    return push_files(client, pending(spool), spool=True, report=report)
