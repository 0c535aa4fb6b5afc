"""NDJSON stream: a header line, one line per device as its verdict is final, a summary line last.

Every line is a complete JSON object written with one call and flushed, so the stream read so
far is always valid. If the scan ends by an exception (SIGINT's KeyboardInterrupt, a fatal
error) the context manager still writes the summary line, with `complete: false`.
Line shapes: schemas/ndjson.schema.json.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TextIO

from camscan.models import Device, ScanResult, ScanScope
from camscan.output.document import (
    device_to_dict,
    header_fields,
    sort_devices,
    stats_to_dict,
    summarize,
)


class NdjsonWriter:
    """Streams one scan; use as a context manager so an interrupted scan still ends validly."""

    def __init__(
        self,
        stream: TextIO,
        *,
        fallback: TextIO | None = None,
        name: str = "",
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._out = stream
        # A file that fails mid-scan (disk full) hands the whole stream, from its header line,
        # to `fallback` (stdout): every line is kept, as JSON and CSV keep theirs.
        self._fallback = fallback
        self._name = name
        self._warn = warn or (lambda message: print(message, file=sys.stderr, flush=True))
        self._written: list[str] = []
        self.fell_back = False
        # ip -> its last line: a live capture writes a host again when its verdict changes
        self._devices: dict[str, dict[str, Any]] = {}
        self._started = False
        self._finished = False

    def start(
        self,
        scope: ScanScope,
        started: str,
        *,
        site: str | None = None,
        operator: str | None = None,
        fingerprint_version: str | None = None,
    ) -> None:
        """Write the header line (once)."""
        if self._started:
            return
        self._started = True
        self._line(
            {
                "type": "header",
                **header_fields(
                    scope,
                    started,
                    site=site,
                    operator=operator,
                    fingerprint_version=fingerprint_version,
                ),
            }
        )

    def device(self, device: Device) -> None:
        """Write one device line; call when its verdict is final."""
        if self._finished:
            return
        d = device_to_dict(device)
        self._devices[d["ip"]] = d
        self._line({"type": "device", **d})

    # The pipeline's observer protocol calls this name.
    device_final = device

    def finish(self, result: ScanResult) -> None:
        """Write the summary line from the finished (or interrupted) result."""
        self._summary(
            finished=result.finished,
            complete=result.complete,
            stats=stats_to_dict(result.stats),
            errors=list(result.errors),
        )

    def abort(self, reason: str, result: ScanResult | None = None) -> None:
        """Write a `complete: false` summary line, keeping whatever figures are known."""
        if result is not None:
            self._summary(
                finished=result.finished,
                complete=False,
                stats=stats_to_dict(result.stats),
                errors=[*result.errors, reason],
            )
        else:
            self._summary(finished=None, complete=False, stats={}, errors=[reason])

    @property
    def finished(self) -> bool:
        """True once the summary line has been written."""
        return self._finished

    def __enter__(self) -> NdjsonWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._finished:
            return
        if exc_type is None:
            self.abort("the stream was closed before the scan finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.abort("interrupted: the scan was stopped before it finished")
        else:
            self.abort(f"fatal error: {exc_type.__name__}: {exc}")

    def _summary(
        self, *, finished: str | None, complete: bool, stats: Mapping[str, Any], errors: list[str]
    ) -> None:
        if self._finished:
            return
        self._finished = True
        self._line(
            {
                "type": "summary",
                "finished": finished,
                "complete": complete,
                "stats": dict(stats),
                "summary": summarize(list(self._devices.values())),
                "errors": errors,
            }
        )

    def _line(self, obj: Mapping[str, Any]) -> None:
        # One write per line: an interrupt lands between lines, never inside one. ASCII-only, so
        # no device string (U+2028, U+0085, ...) can look like a line break to any reader.
        text = json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"
        if self._fallback is not None and not self.fell_back:
            self._written.append(text)
        try:
            self._out.write(text)
            self._out.flush()
        except OSError as exc:
            if self._fallback is None or self.fell_back:
                raise
            self._fall_back(exc)

    def _fall_back(self, exc: OSError) -> None:
        self.fell_back = True
        self._warn(
            f"camscan: error: cannot write {self._name or 'the NDJSON file'}: "
            f"{exc.strerror or exc}; writing the stream to stdout instead"
        )
        assert self._fallback is not None
        self._out = self._fallback
        self._out.write("".join(self._written))
        self._out.flush()
        self._written.clear()


def write_all(
    result: ScanResult, stream: TextIO, *, fingerprint_version: str | None = None
) -> None:
    """A finished scan as a whole NDJSON stream: header, every device, summary."""
    writer = NdjsonWriter(stream)
    writer.start(
        result.scope,
        result.started,
        site=result.site,
        operator=result.operator,
        fingerprint_version=fingerprint_version,
    )
    for device in sort_devices(result.devices):
        writer.device(device)
    writer.finish(result)


HEADER_KEYS = ("schema_version", "tool", "fingerprints", "site", "operator", "started", "scope")
SUMMARY_KEYS = ("finished", "complete", "stats", "summary", "errors")


def document_ndjson(doc: Mapping[str, Any]) -> str:
    """A saved document as the NDJSON stream a scan with `-f ndjson` would have written."""

    def line(obj: Mapping[str, Any]) -> str:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")) + "\n"

    out = [line({"type": "header", **{k: doc[k] for k in HEADER_KEYS}})]
    out.extend(line({"type": "device", **d}) for d in doc["devices"])
    out.append(line({"type": "summary", **{k: doc[k] for k in SUMMARY_KEYS}}))
    return "".join(out)
