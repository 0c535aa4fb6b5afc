"""The records that flow through camscan: evidence in, verdicts out. No I/O here."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, make_dataclass
from enum import StrEnum
from functools import cache
from typing import Any, TypeVar

_T = TypeVar("_T")

RAW_EXCERPT_MAX = 2048
# The makers camscan exists to find; every other maker is context (defined here only).
TARGET_MAKERS: tuple[str, ...] = ("Hikvision", "Dahua")


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation about one host: what was seen, where, and by which method."""

    host: str  # IP address, or a caller's label for offline evidence
    source: str  # method that saw it: arp, mdns, ssdp, wsd, onvif, sadp, dhip, http, tls, ...
    key: str  # from camscan.keys.KEYS
    value: str
    port: int | None = None
    raw: str | None = None  # short excerpt of the bytes that carried it (<= RAW_EXCERPT_MAX)

    def sort_key(self) -> tuple[str, str, str, str, int]:
        """Total order used wherever evidence must be deterministic."""
        return (self.host, self.key, self.value, self.source, self.port or 0)


EvidenceSink = Callable[[Evidence], None]


@dataclass(frozen=True, slots=True)
class FieldRecord:
    """What a device's reply says: (name, text) pairs in the order the device sent them."""

    fields: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        """The value of field `name`, None when absent or empty."""
        for key, value in self.fields:
            if key == name:
                return value or None
        return None


@cache
def _surrogates() -> re.Pattern[str]:
    # Compiled on first use: the class of 2,048 code points costs ~0.5 ms, at every start.
    return re.compile("[\ud800-\udfff]")


def no_surrogates(text: str) -> str:
    """`text` with lone surrogates (JSON's "\\ud800" escapes) as U+FFFD, so it encodes as UTF-8."""
    return text if text.isascii() else _surrogates().sub("\ufffd", text)


def excerpt(data: bytes | str, limit: int = RAW_EXCERPT_MAX) -> str:
    """A bounded, printable excerpt of device bytes for `Evidence.raw`."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return text if len(text) <= limit else text[:limit] + "…"


class Confidence(StrEnum):
    """How sure a verdict is of its maker, strongest first."""

    CONFIRMED = "confirmed"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNDETERMINED = "undetermined"

    @property
    def rank(self) -> int:
        """3 for confirmed down to 0 for undetermined: confidences compare by rank."""
        return len(_CONFIDENCES) - 1 - _CONFIDENCES.index(self)

    def lowered(self) -> Confidence:
        """One step less sure (undetermined stays undetermined)."""
        return _CONFIDENCES[min(_CONFIDENCES.index(self) + 1, len(_CONFIDENCES) - 1)]


_CONFIDENCES: tuple[Confidence, ...] = tuple(Confidence)


class DeviceType(StrEnum):
    CAMERA = "camera"
    RECORDER = "nvr/dvr"
    DOORBELL = "doorbell/intercom"
    ACCESS_CONTROL = "access control"
    OTHER = "other"
    UNKNOWN = "unknown"


class Strength(StrEnum):
    CONCLUSIVE = "conclusive"
    STRONG = "strong"
    CORROBORATING = "corroborating"


@dataclass(frozen=True, slots=True)
class Match:
    """A fingerprint that matched one evidence item, and what it says."""

    fingerprint_id: str
    strength: Strength
    evidence: Evidence
    maker: str | None = None
    brand: str | None = None
    device_type: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class Conflict:
    """Two claims about the same field that disagree; never silently resolved."""

    field: str  # "maker", "brand", "model", ...
    values: tuple[str, ...]
    fingerprint_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one host is, how sure we are, and the evidence that decided it."""

    maker: str | None  # "Hikvision", "Dahua", another vocabulary maker, or None (undetermined)
    brand: str | None
    device_type: str
    model: str | None
    firmware: str | None
    serial: str | None
    confidence: Confidence
    conflicts: tuple[Conflict, ...] = ()
    matches: tuple[Match, ...] = ()  # the fingerprints that decided it, strongest first
    notes: tuple[str, ...] = ()

    @property
    def is_target_maker(self) -> bool:
        """True when the verdict names Hikvision or Dahua as maker."""
        return self.maker in TARGET_MAKERS


def frozen_builder(cls: type[_T]) -> Callable[..., _T]:
    """A constructor for a frozen slotted dataclass that costs what a mutable one does.

    A frozen class's generated __init__ stores each field through object.__setattr__, about
    ten times the CPU of a plain slot store (a third of identification's time went there).
    The builder is a mutable twin with the same slots, filled by plain stores, whose
    instances turn into a `cls` as they are made: equal, hashed and frozen like one built
    by `cls(...)`. For the records built per evidence item, with positional arguments (a
    class called with keywords packs them in a dict); elsewhere call `cls(...)`.
    """

    def become(self: Any) -> None:
        self.__class__ = cls  # the same slots in the same order: CPython allows the switch

    twin = make_dataclass(
        cls.__name__,
        [
            (f.name, f.type) if f.default is MISSING else (f.name, f.type, field(default=f.default))
            for f in fields(cls)  # type: ignore[arg-type]
        ],
        # A docstring of its own spares dataclass deriving one from the signature.
        namespace={"__post_init__": become, "__doc__": cls.__doc__},
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    return twin


new_match = frozen_builder(Match)
new_verdict = frozen_builder(Verdict)

UNDETERMINED = Verdict(
    maker=None,
    brand=None,
    device_type=DeviceType.UNKNOWN,
    model=None,
    firmware=None,
    serial=None,
    confidence=Confidence.UNDETERMINED,
)


@dataclass(slots=True)
class MethodStats:
    """Per-method traffic figures for the scan document."""

    method: str
    sent: int = 0
    answered: int = 0
    errors: int = 0
    dropped: int = 0  # replies discarded: oversize, out of scope, malformed, flood
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    # Optional (None: the method does not measure it).
    retried: int | None = None  # of `sent`, requests repeated to silent addresses
    rate_used: float | None = None  # packets/s actually sent, first to last
    latency_ms: dict[str, float] | None = None  # answer latency: min, median, p95, max
    kernel_dropped: int | None = None  # datagrams/frames the kernel dropped on our sockets


@dataclass(slots=True)
class Device:
    """One host of a scan: where it is, everything seen of it, and the verdict."""

    ip: str
    mac: str | None = None
    vendor: str | None = None  # IEEE registrant of the MAC's prefix
    outside_scope: bool = False  # found by discovery at an address outside the targets
    first_seen: float | None = None  # seconds since scan start
    evidence: list[Evidence] = field(default_factory=list)
    verdict: Verdict = UNDETERMINED
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PassiveScope:
    """What a passive run heard: capture files or a live interface, its span and packet counts."""

    statement: str  # "passive: capture files a.pcap, b.pcapng" / "passive: listened on eth0"
    files: list[str] = field(default_factory=list)
    first_packet: str | None = None  # ISO 8601 UTC of the earliest packet
    last_packet: str | None = None
    packets: int = 0  # every packet read
    packets_by_protocol: dict[str, int] = field(default_factory=dict)  # packets each reader took
    problems: list[str] = field(default_factory=list)  # damaged files: where, and what was kept


@dataclass(slots=True)
class ScanScope:
    """What was asked for: the scope statement of the document."""

    targets: list[str]
    exclusions: list[str]
    interface: str | None
    probes: list[str]
    ports: list[int]
    rate: int
    retries: int
    address_count: int
    listen_window_s: float
    passive: PassiveScope | None = None  # set when devices were heard, not probed


@dataclass(slots=True)
class ScanResult:
    """Everything a scan produced; formatters read this."""

    scope: ScanScope
    started: str  # ISO 8601 UTC
    finished: str | None
    complete: bool
    stats: dict[str, MethodStats]
    devices: list[Device]
    site: str | None = None
    operator: str | None = None
    errors: list[str] = field(default_factory=list)
