"""Kind "tcp": an open port that may send greeting bytes and answer any data with fixed bytes."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any

from camscan_lab.personality import Closer, LabHost

READ_LIMIT = 65536
IDLE_TIMEOUT_S = 10.0


def _bytes(table: Mapping[str, Any], key: str) -> bytes:
    """`<key>_hex` (whitespace ignored) if present, else `<key>` as UTF-8, else nothing."""
    if f"{key}_hex" in table:
        return bytes.fromhex("".join(str(table[f"{key}_hex"]).split()))
    return str(table.get(key, "")).encode("utf-8")


async def serve(host: LabHost, table: Mapping[str, Any]) -> Closer:
    """Accept on `port`; send `greeting`, answer the first data with `reply`; then close."""
    greeting, reply = _bytes(table, "greeting"), _bytes(table, "reply")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if greeting:
                writer.write(greeting)
                await writer.drain()
            if reply and await asyncio.wait_for(reader.read(READ_LIMIT), IDLE_TIMEOUT_S):
                writer.write(reply)
                await writer.drain()
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()

    sock = host.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.ip, int(table["port"])))
    sock.listen(128)
    sock.setblocking(False)
    return await asyncio.start_server(handle, sock=sock)
