"""RTSP personality: replay recorded responses, echoing the client's CSeq.

`[[service.response]]` entries: `method` (OPTIONS, DESCRIBE, …; `"*"` matches any), `status`,
`headers`, `body`/`body_hex`, `source`. A captured `CSeq` line gets the request's CSeq (name
case kept) unless the entry sets `keep_cseq = true` (old Dahua firmware answers `CSeq: 0`).
The connection stays open for further requests; unknown methods get 501.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from camscan_lab.personalities.http import listen, render
from camscan_lab.personality import Closer, LabHost

MAX_REQUEST_HEAD = 16 * 1024
IDLE_TIMEOUT_S = 30.0
_CSEQ_RE = re.compile(rb"(?im)^cseq[ \t]*:[ \t]*(\d{1,9})")


def choose(responses: Sequence[Mapping[str, Any]], method: str) -> Mapping[str, Any] | None:
    """The first response recorded for `method`, then the first `"*"` one."""
    for wanted in (method.upper(), "*"):
        for entry in responses:
            if str(entry.get("method", "*")).upper() == wanted:
                return entry
    return None


def answer(responses: Sequence[Mapping[str, Any]], request_head: bytes) -> bytes:
    """The bytes to send for one request head."""
    method = request_head.split(b" ", 1)[0].decode("latin-1")
    m = _CSEQ_RE.search(request_head)
    cseq = m.group(1).decode() if m else "0"
    entry = choose(responses, method)
    if entry is None:
        return f"RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n\r\n".encode()
    return render(entry, None if entry.get("keep_cseq") else {"cseq": cseq})


async def serve(host: LabHost, table: Mapping[str, Any]) -> Closer:
    """Serve recorded RTSP responses on `table["port"]` (default 554)."""
    responses = list(table.get("response", []))

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                async with asyncio.timeout(IDLE_TIMEOUT_S):
                    head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_REQUEST_HEAD:
                    break
                writer.write(answer(responses, head))
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()

    return await listen(host, int(table.get("port", 554)), handle)
