"""Lab specs as data: devices.toml plus one sibling TOML file per service kind, validated."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Every lab address lives in the benchmarking range (RFC 2544), never a real network's.
LAB_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
DEVICES_FILE = "devices.toml"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
# Keys of a [[service]] table that may differ between files that merge into one service.
_PROVENANCE_KEYS = frozenset({"source", "note"})


class SpecError(ValueError):
    """A lab spec that cannot be used; the message is one line naming the file and device."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service of one device: its merged `[[service]]` table and the files it came from."""

    device: str
    kind: str
    port: int
    table: Mapping[str, Any]  # what the personality is handed; `response` lists concatenated
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One simulated device: addresses, ground truth and services."""

    name: str
    ip: str
    mac: str
    role: str
    prefix_len: int
    table: Mapping[str, Any]  # the device's `[[device]]` table as written
    services: tuple[ServiceSpec, ...]

    @property
    def expect(self) -> Mapping[str, Any]:
        """The device's ground truth (`expect = {maker, brand, type}`), empty if absent."""
        value = self.table.get("expect", {})
        return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class LabSettings:
    """The `[lab]` table: where the scanner sits and what a demo scans."""

    scanner_ip: str
    scanner_mac: str
    prefix_len: int
    scan_subnet: str
    table: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LabSpec:
    """A whole lab: settings and devices (with their services), in spec order."""

    path: Path
    settings: LabSettings
    devices: tuple[DeviceSpec, ...]

    @property
    def scan_subnet(self) -> str:
        """What a demo scans (`[lab] scan_subnet`)."""
        return self.settings.scan_subnet

    @property
    def scanner_ip(self) -> str:
        """The scanner's address."""
        return self.settings.scanner_ip

    def device(self, name: str) -> DeviceSpec:
        """The device called `name`; KeyError if the spec has none."""
        for dev in self.devices:
            if dev.name == name:
                return dev
        raise KeyError(name)


def load_spec(path: str | Path) -> LabSpec:
    """Load a spec directory (devices.toml + every other *.toml) or one TOML file; SpecError."""
    path = Path(path).resolve()
    if path.is_dir():
        first = path / DEVICES_FILE
        if not first.is_file():
            raise SpecError(f"{path}: no {DEVICES_FILE} in the spec directory")
        files = [first, *sorted(p for p in path.glob("*.toml") if p.name != DEVICES_FILE)]
    elif path.is_file():
        files = [path]
    else:
        raise SpecError(f"{path}: no such spec file or directory")
    docs = [(str(f), _read_toml(f)) for f in files]

    lab_tables = [(f, d["lab"]) for f, d in docs if "lab" in d]
    if not lab_tables:
        raise SpecError(f"{files[0]}: no [lab] table")
    if len(lab_tables) > 1:
        raise SpecError(f"{lab_tables[1][0]}: a second [lab] table (first in {lab_tables[0][0]})")
    settings = _settings(*lab_tables[0])

    devices: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for f, doc in docs:
        for table in _array(f, doc, "device"):
            name = _device_name(f, table)
            if name in devices:
                raise SpecError(f"{f}: device {name!r}: defined twice (also in {devices[name][0]})")
            devices[name] = (f, table)
    if not devices:
        raise SpecError(f"{files[0]}: no [[device]] tables")

    services = _merged_services(docs, devices)
    specs = [
        (f, _device(f, table, settings, tuple(s for s in services if s.device == name)))
        for name, (f, table) in devices.items()
    ]
    _check_unique(specs, settings)
    return LabSpec(path=path, settings=settings, devices=tuple(d for _, d in specs))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from None


def _array(file: str, doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, Mapping) for t in value):
        raise SpecError(f"{file}: {key!r} must be an array of tables ([[{key}]])")
    return value


def _settings(file: str, table: Any) -> LabSettings:
    if not isinstance(table, Mapping):
        raise SpecError(f"{file}: [lab] must be a table")
    where = f"{file}: [lab]"
    prefix_len = _prefix_len(where, table.get("prefix_len", LAB_NETWORK.prefixlen))
    subnet = table.get("scan_subnet", str(LAB_NETWORK))
    try:
        net = ipaddress.IPv4Network(subnet)
    except (ValueError, TypeError):
        raise SpecError(f"{where}: scan_subnet {subnet!r} is not an IPv4 network") from None
    if not net.subnet_of(LAB_NETWORK):
        raise SpecError(f"{where}: scan_subnet {subnet} is outside the lab range {LAB_NETWORK}")
    return LabSettings(
        scanner_ip=_ip(where, table.get("scanner_ip"), "scanner_ip"),
        scanner_mac=_mac(where, table.get("scanner_mac"), "scanner_mac"),
        prefix_len=prefix_len,
        scan_subnet=str(net),
        table=table,
    )


def _device_name(file: str, table: Mapping[str, Any]) -> str:
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(f"{file}: device {name!r}: name must match {_NAME.pattern}")
    return name


def _device(
    file: str, table: Mapping[str, Any], settings: LabSettings, services: tuple[ServiceSpec, ...]
) -> DeviceSpec:
    name = table["name"]
    where = f"{file}: device {name!r}"
    role = table.get("role", "unknown")
    if not isinstance(role, str):
        raise SpecError(f"{where}: role must be a string")
    if "expect" in table and not isinstance(table["expect"], Mapping):
        raise SpecError(f"{where}: expect must be a table")
    return DeviceSpec(
        name=name,
        ip=_ip(where, table.get("ip")),
        mac=_mac(where, table.get("mac")),
        role=role,
        prefix_len=_prefix_len(where, table.get("prefix_len", settings.prefix_len)),
        table=table,
        services=services,
    )


def _ip(where: str, value: Any, what: str = "ip") -> str:
    try:
        ip = ipaddress.IPv4Address(value)
    except (ValueError, TypeError):
        raise SpecError(f"{where}: {what} {value!r} is not an IPv4 address") from None
    if ip not in LAB_NETWORK or ip in (LAB_NETWORK.network_address, LAB_NETWORK.broadcast_address):
        raise SpecError(f"{where}: {what} {ip} is outside the lab range {LAB_NETWORK}")
    return str(ip)


def _mac(where: str, value: Any, what: str = "mac") -> str:
    mac = value.lower().replace("-", ":") if isinstance(value, str) else ""
    if not _MAC.fullmatch(mac):
        raise SpecError(f"{where}: {what} {value!r} is not a MAC address like 44:19:b6:00:00:01")
    if int(mac[:2], 16) & 1:
        raise SpecError(f"{where}: {what} {mac} is a multicast address")
    return mac


def _prefix_len(where: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 32:
        raise SpecError(f"{where}: prefix_len {value!r} must be an integer 1..32")
    if value < LAB_NETWORK.prefixlen:
        raise SpecError(f"{where}: prefix_len {value} is wider than the lab range {LAB_NETWORK}")
    return value


def _merged_services(
    docs: list[tuple[str, dict[str, Any]]], devices: Mapping[str, Any]
) -> list[ServiceSpec]:
    """Services keyed by (device, kind, port); tables with one key concatenate their arrays of
    tables (`response`, `instance`, ...) in file order, each entry keeping its file's `source`."""
    merged: dict[tuple[str, str, int], tuple[dict[str, Any], list[str]]] = {}
    for file, doc in docs:
        for raw in _array(file, doc, "service"):
            key = _service_key(file, raw, devices)
            where = f"{file}: device {key[0]!r}: {key[1]} port {key[2]}"
            table = {"response": [], **raw}
            if not _table_array(table["response"]):
                raise SpecError(
                    f"{where}: response must be an array of tables ([[service.response]])"
                )
            if "source" in table:
                for k, v in list(table.items()):
                    if _table_array(v):
                        table[k] = [{"source": table["source"], **entry} for entry in v]
            if key not in merged:
                merged[key] = (table, [file])
                continue
            into, files = merged[key]
            for k, v in table.items():
                if k in into and _table_array(into[k]) and _table_array(v):
                    into[k] = [*into[k], *v]
                elif k not in into:
                    into[k] = v
                elif into[k] != v and k not in _PROVENANCE_KEYS:
                    raise SpecError(f"{where}: {k!r} conflicts with the value in {files[0]}")
            files.append(file)
    return [
        ServiceSpec(device=d, kind=k, port=p, table=t, files=tuple(fs))
        for (d, k, p), (t, fs) in merged.items()
    ]


def _table_array(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(entry, Mapping) for entry in value)


def _service_key(
    file: str, table: Mapping[str, Any], devices: Mapping[str, Any]
) -> tuple[str, str, int]:
    device, kind, port = table.get("device"), table.get("kind"), table.get("port")
    if not isinstance(device, str) or device not in devices:
        raise SpecError(f"{file}: service for unknown device {device!r}")
    where = f"{file}: device {device!r}"
    if not isinstance(kind, str) or not kind:
        raise SpecError(f"{where}: service kind {kind!r} must be a non-empty string")
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise SpecError(f"{where}: {kind} service port {port!r} must be an integer 1..65535")
    return device, kind, port


def _check_unique(devices: list[tuple[str, DeviceSpec]], settings: LabSettings) -> None:
    seen_ip = {settings.scanner_ip: "the scanner"}
    seen_mac = {settings.scanner_mac: "the scanner"}
    for file, dev in devices:
        for seen, value, what in ((seen_ip, dev.ip, "ip"), (seen_mac, dev.mac, "mac")):
            if value in seen:
                raise SpecError(
                    f"{file}: device {dev.name!r}: {what} {value} is also {seen[value]}'s"
                )
            seen[value] = f"device {dev.name!r}"
