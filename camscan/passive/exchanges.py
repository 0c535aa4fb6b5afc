"""Evidence of a reply heard on TCP (HTTP, RTSP, TLS), read the way the active probes read it.

The request that preceded a reply says what the reply is: `/` or a redirect gives
`http.response`, a vendor path gives `http.path.<name>`, `/favicon.ico` the favicon hashes, an
ONVIF call the `onvif.*` keys, a UPnP description the `upnp.*` keys. Only plain-text HTTP and
the TLS handshake up to the server's Certificate can be heard; what TLS carries cannot.
"""

from __future__ import annotations

from camscan.discovery import ssdp
from camscan.models import Evidence, excerpt
from camscan.passive import tlscert
from camscan.passive.streams import Reply
from camscan.probes import favicon, http, onvif, paths, rpc2, rtsp, tls

_VENDOR = {(p.method, p.path): p for p in paths.VENDOR_PATHS}
_PAGE_STATUSES = frozenset({200, 301, 302, 303, 307, 308, 401, 403})


def reply_evidence(ip: str, port: int, reply: Reply) -> list[Evidence] | None:
    """Evidence of one reply from `ip`:`port`; None when the bytes are not the reply they seemed."""
    try:
        if reply.kind == "tls":
            return _tls(ip, port, reply.data)
        if reply.kind == "rtsp":
            rtsp.parse_rtsp_response(reply.data)
            raw = Evidence(
                ip,
                "rtsp",
                "rtsp.response",
                reply.data.decode("utf-8", "replace"),
                port,
                excerpt(reply.data),
            )
            return [raw, *rtsp.expand(raw)]  # the parsed items too, as the active probe emits
        return _http(ip, port, reply)
    except (tlscert.ParseError, tls.ParseError, rtsp.ParseError, http.ParseError):
        return None


def _tls(ip: str, port: int, data: bytes) -> list[Evidence]:
    der = tlscert.server_certificate(data)
    if der is None:
        return []  # TLS 1.3 (the certificate is encrypted), or the capture missed it
    return tls.cert_evidence(ip, port, tls.parse_certificate(der))


def _http(ip: str, port: int, reply: Reply) -> list[Evidence]:
    raw = reply.data
    resp = http.parse_http_response(raw)
    req = reply.request
    path = req.path if req is not None else None
    method = req.method if req is not None else "GET"
    items: list[Evidence] = []
    if path is not None and (entry := _VENDOR.get((method, path.split("#")[0]))) is not None:
        if resp.status == 404:
            return []
        head_len = len(raw) - len(resp.body)
        items.append(
            Evidence(
                ip,
                "http",
                f"http.path.{entry.name}",
                raw[: head_len + paths.PATH_EXCERPT].decode("utf-8", "replace"),
                port,
                excerpt(raw),
            )
        )
        if entry.name == "dahua_rpc2_login":
            items += [
                Evidence(ip, "http", k, v, port) for k, v in rpc2.parse_challenge(resp.body).items()
            ]
    elif path == "/favicon.ico":
        icon = resp.body
        if resp.status == 200 and icon and icon.lstrip()[:1] != b"<":
            items += [
                Evidence(ip, "http", "http.favicon.md5", favicon.favicon_md5(icon), port),
                Evidence(ip, "http", "http.favicon.mmh3", str(favicon.favicon_mmh3(icon)), port),
            ]
        return items
    elif _is_onvif(req, resp.body):
        return _onvif(ip, port, resp)
    elif b"urn:schemas-upnp-org:device" in resp.body[:4096]:
        return _upnp(ip, port, resp.body)
    if path is None or path == "/" or resp.status in _PAGE_STATUSES:
        response = Evidence(
            ip, "http", "http.response", raw.decode("utf-8", "replace"), port, excerpt(raw)
        )
        # The parsed items too, as the probe's expander reads them out of the decoded text;
        # for ASCII that text is the bytes already parsed, so they are not parsed twice.
        parsed = (
            http.response_evidence(resp, ip, "http", port)
            if raw.isascii()
            else http.expand(response)
        )
        items += [response, *parsed]
    return items


def _is_onvif(req: object, body: bytes) -> bool:
    path = getattr(req, "path", "") or ""
    return "onvif" in path.lower() or b"onvif.org/ver10" in body[:2048]


def _onvif(ip: str, port: int, resp: http.HttpResponse) -> list[Evidence]:
    items = [
        Evidence(
            ip,
            onvif.SOURCE,
            "onvif.www_authenticate",
            c[: onvif.MAX_VALUE],
            port,
            f"HTTP {resp.status}",
        )
        for c in resp.header_all("WWW-Authenticate")
    ]
    try:
        reply = onvif.parse_response(resp.body)
    except onvif.ParseError:
        return items
    return items + onvif.reply_evidence(reply, ip, port, excerpt(resp.body))


def _upnp(ip: str, port: int, body: bytes) -> list[Evidence]:
    text = body.decode("utf-8", "replace")
    raw = Evidence(ip, "ssdp", "upnp.description", text, port, raw=excerpt(text))
    try:
        return [raw, *ssdp.expand(raw)]
    except ssdp.ParseError:
        return []


__all__ = ["reply_evidence"]
