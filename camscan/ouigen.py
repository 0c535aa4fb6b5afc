"""Generate `fingerprints/oui/ieee.tsv` from the IEEE registry CSVs (MA-L, MA-M, MA-S, IAB)."""

from __future__ import annotations

import csv
import datetime as dt
import email.utils
import io
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# The IEEE Registration Authority publishes these four files; the registry column and the
# prefix length must agree (MA-L 24 bits, MA-M 28, MA-S and IAB 36).
REGISTRY_FILES: dict[str, tuple[str, int]] = {
    "oui.csv": ("MA-L", 6),
    "mam.csv": ("MA-M", 7),
    "oui36.csv": ("MA-S", 9),
    "iab.csv": ("IAB", 9),
}
TABLE_NAME = "ieee.tsv"
HEADER_MARK = "# "
_HEX = frozenset("0123456789ABCDEF")
_MAX_FILE_BYTES = 64 * 1024 * 1024


class OuiGenError(Exception):
    """The registry source is missing, unreadable or malformed (one-line message)."""


@dataclass(frozen=True, slots=True)
class GenerateReport:
    """What `generate` wrote."""

    path: Path
    rows: dict[str, int]  # registry -> rows written
    source: str
    source_date: str


def _read_source(source: str, name: str) -> tuple[str, str]:
    """The text of one registry file and its date (YYYY-MM-DD), from a directory or base URL."""
    if source.startswith(("http://", "https://")):
        url = source.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=60) as resp:
                data = resp.read(_MAX_FILE_BYTES + 1)
                modified = resp.headers.get("Last-Modified")
        except OSError as exc:
            raise OuiGenError(f"cannot fetch {url}: {exc}") from exc
        when = email.utils.parsedate_to_datetime(modified) if modified else dt.datetime.now(dt.UTC)
    else:
        path = Path(source) / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise OuiGenError(f"cannot read {path}: {exc.strerror}") from exc
        when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    if len(data) > _MAX_FILE_BYTES:
        raise OuiGenError(f"{name} is larger than {_MAX_FILE_BYTES} bytes")
    return data.decode("utf-8-sig"), when.strftime("%Y-%m-%d")


def parse_registry_csv(text: str, name: str) -> list[tuple[str, str, str]]:
    """Rows (prefix, registry, registrant) of one IEEE CSV; OuiGenError on a malformed row."""
    registry, width = REGISTRY_FILES[name]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:3]] != [
        "Registry",
        "Assignment",
        "Organization Name",
    ]:
        raise OuiGenError(f"{name}: not an IEEE registry CSV (header {header!r})")
    rows = []
    for lineno, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) < 3:
            raise OuiGenError(f"{name}:{lineno}: expected at least 3 columns")
        reg, prefix, org = row[0].strip(), row[1].strip().upper(), row[2]
        if reg != registry or len(prefix) != width or not set(prefix) <= _HEX:
            raise OuiGenError(f"{name}:{lineno}: unexpected row {row[:2]!r} for {registry}")
        # The TSV needs single-line, tab-free names; IEEE names only ever carry stray spaces.
        org = " ".join(org.replace("\t", " ").split())
        rows.append((prefix, registry, org))
    return rows


def render_table(rows: list[tuple[str, str, str]], source: str, source_date: str) -> str:
    """The table file text: a header, then `prefix<TAB>registry<TAB>registrant` sorted rows."""
    counts = {reg: sum(1 for r in rows if r[1] == reg) for reg, _ in REGISTRY_FILES.values()}
    header = [
        "camscan IEEE MAC address registry table - generated - do not edit",
        "regenerate with: camscan fingerprints update-oui --from DIR_OR_URL",
        f"source: {source} ({', '.join(REGISTRY_FILES)})",
        f"source date: {source_date}",
        "rows: " + ", ".join(f"{reg} {n}" for reg, n in counts.items()),
        "columns: prefix (hex, 6/7/9 digits = 24/28/36 bits), registry, registrant",
    ]
    # Sorted as text: camscan.oui bisects the lines in place.
    body = sorted({f"{p}\t{reg}\t{org}" for p, reg, org in rows})
    return "".join(f"{HEADER_MARK}{h}\n" for h in header) + "".join(f"{b}\n" for b in body)


def generate(source: str, out_dir: Path, *, source_date: str | None = None) -> GenerateReport:
    """Read the four IEEE CSVs from `source` (directory or base URL); write `out_dir/ieee.tsv`."""
    rows: list[tuple[str, str, str]] = []
    dates = []
    for name in REGISTRY_FILES:
        text, when = _read_source(source, name)
        dates.append(when)
        rows.extend(parse_registry_csv(text, name))
    date = source_date or max(dates)
    shown = source if source.startswith(("http://", "https://")) else str(Path(source).resolve())
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TABLE_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(render_table(rows, shown, date), encoding="utf-8")
    tmp.replace(path)
    counts = {reg: sum(1 for r in rows if r[1] == reg) for reg, _ in REGISTRY_FILES.values()}
    return GenerateReport(path=path, rows=counts, source=shown, source_date=date)
