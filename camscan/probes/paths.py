"""The read-only vendor paths the HTTP probe asks for; each produces `http.path.<name>`.

Every entry is read-only and sends no credentials, so it can neither authenticate nor count
as a failed login. Hikvision's `/ISAPI/Security/userCheck` and `/ISAPI/System/deviceInfo`
asked without an Authorization header only return a 401 challenge (a 401 is itself evidence);
lock-out counters count wrong credentials, and we send none.

Dahua's `/RPC2_Login` first step (user name, empty password) is kept behind `deep`: it answers
with a challenge carrying `Login to <serial>` and the MAC and does not check a password, but it
is a call to the login method that makes the device open a login session and may appear in its
log as a login attempt (an intrusion-detection rule keyed on RPC2_Login would fire). The default
set identifies Dahua platforms without it (header skeleton, `WEB SERVICE` page, RTSP realm),
so the opt-in costs identification little.

Never here: default passwords and exploit paths (CVE-2017-7921 `/Security/users?auth=…` and
`/onvif-http/snapshot?auth=…`, CVE-2021-36260 `/SDK/webLanguage`); see FORBIDDEN.
"""

from __future__ import annotations

from dataclasses import dataclass

PATH_EXCERPT = 8 * 1024  # http.path.<name> values: head + this much body


@dataclass(frozen=True, slots=True)
class VendorPath:
    """One request of the vendor path table."""

    name: str  # evidence key suffix: http.path.<name>
    path: str
    vendor: str
    why: str  # what the answer shows, with source
    method: str = "GET"
    body: bytes = b""
    content_type: str | None = None
    deep: bool = False  # sent only with ScanSettings.deep


# The one place vendor paths live. Order = request order.
VENDOR_PATHS: tuple[VendorPath, ...] = (
    VendorPath(
        "hik_login_asp",
        "/doc/page/login.asp",
        "Hikvision",
        "web UI login page (nuclei hikvision-detect)",
    ),
    VendorPath(
        "hik_usercheck",
        "/ISAPI/Security/userCheck",
        "Hikvision",
        "401 <userCheck><statusValue>401</statusValue> XML (Greenbone Hikvision NVTs)",
    ),
    VendorPath(
        "hik_device_info",
        "/ISAPI/System/deviceInfo",
        "Hikvision",
        "DeviceInfo XML in the hikvision.com/isapi.org namespace, or a 401 challenge",
    ),
    VendorPath(
        "dahua_rpc2_login",
        "/RPC2_Login",
        "Dahua",
        "challenge: error 268632079, realm 'Login to <serial>', mac (Greenbone NASL)",
        method="POST",
        body=(
            b'{"method":"global.login","params":{"userName":"admin","password":"",'
            b'"clientType":"Web3.0","loginType":"Direct"},"id":1}'
        ),
        content_type="application/x-www-form-urlencoded",
        deep=True,
    ),
)


def selected_paths(deep: bool) -> tuple[VendorPath, ...]:
    """The vendor paths to request: the default set, plus opt-in ones when `deep`."""
    return tuple(p for p in VENDOR_PATHS if deep or not p.deep)
