"""The evidence key vocabulary shared by every probe, fingerprint file and `camscan identify`."""

from __future__ import annotations

import re

# Keys a probe, a fingerprint file or an offline evidence line may use. A key ending in
# `.<name>` / `.<port>` is a family: `http.path.usercheck`, `tcp.banner.8000`.
KEYS: dict[str, str] = {
    "mac": "MAC address of the host, any common notation",
    "model": "free-text model number from any source",
    # HTTP / HTTPS
    "http.status": "HTTP status line, e.g. 'HTTP/1.1 401 Unauthorized'",
    "http.server": "value of the Server header",
    "http.www_authenticate": "value of a WWW-Authenticate header",
    "http.title": "text of the HTML <title>",
    "http.body": "response body (first 64 KiB, decoded as UTF-8 with replacement)",
    "http.headers": "raw header block, original name case and order kept",
    "http.cookie": "value of a Set-Cookie header",
    "http.location": "value of a Location header",
    "http.favicon.md5": "md5 hex digest of /favicon.ico",
    "http.favicon.mmh3": "Shodan-style mmh3 hash of base64(favicon)",
    "http.path.": "response of a read-only vendor path; the suffix names the path's probe entry",
    "http.response": "raw HTTP response (parsed into the http.* keys above)",
    # TLS
    "tls.subject": "certificate subject as an RFC 4514 string",
    "tls.issuer": "certificate issuer as an RFC 4514 string",
    "tls.serial": "certificate serial number, hex",
    "tls.not_before": "certificate validity start, ISO 8601",
    "tls.not_after": "certificate validity end, ISO 8601",
    # RTSP
    "rtsp.status": "RTSP status line",
    "rtsp.server": "value of the RTSP Server header",
    "rtsp.www_authenticate": "value of an RTSP WWW-Authenticate header",
    "rtsp.public": "value of the RTSP Public header",
    "rtsp.sdp": "SDP body of a DESCRIBE reply",
    "rtsp.response": "raw RTSP response (parsed into the rtsp.* keys above)",
    # UPnP / SSDP
    "upnp.server": "SERVER header of an SSDP reply or NOTIFY",
    "upnp.location": "LOCATION of the device description",
    "upnp.st": "ST / NT of an SSDP message",
    "upnp.usn": "USN of an SSDP message",
    "upnp.manufacturer": "device description manufacturer",
    "upnp.model_name": "device description modelName",
    "upnp.model_number": "device description modelNumber",
    "upnp.model_description": "device description modelDescription",
    "upnp.serial": "device description serialNumber",
    "upnp.friendly_name": "device description friendlyName",
    "upnp.udn": "device description UDN",
    "upnp.description": "raw device description XML (parsed into the upnp.* keys above)",
    # ONVIF / WS-Discovery
    "wsd.probe_match": "raw WS-Discovery ProbeMatch XML (parsed into wsd.* and onvif.scope)",
    "wsd.epr": "EndpointReference address",
    "wsd.types": "Types of a ProbeMatch",
    "wsd.xaddrs": "XAddrs of a ProbeMatch",
    "wsd.metadata_version": "MetadataVersion of a ProbeMatch",
    "wsd.epr_mac": "MAC address found at the end of the EndpointReference UUID",
    "onvif.scope": "one ONVIF scope URI",
    "onvif.manufacturer": "GetDeviceInformation Manufacturer",
    "onvif.model": "GetDeviceInformation Model",
    "onvif.firmware": "GetDeviceInformation FirmwareVersion",
    "onvif.serial": "GetDeviceInformation SerialNumber",
    "onvif.hardware_id": "GetDeviceInformation HardwareId",
    "onvif.www_authenticate": "WWW-Authenticate of an ONVIF endpoint that refused us",
    "onvif.fault": "SOAP fault code/reason of an unauthenticated ONVIF call",
    "onvif.system_time": "GetSystemDateAndTime UTC time",
    "onvif.clock_offset": "how far the device clock is from ours, when more than 5 minutes",
    "onvif.credentials_sent": "a WS-UsernameToken was sent to this host (user and XAddr)",
    # mDNS
    "mdns.service": "DNS-SD service type, e.g. _CGI._tcp.local.",
    "mdns.instance": "DNS-SD instance name",
    "mdns.hostname": "SRV target host name",
    "mdns.txt": "TXT record, key=value pairs joined by ';'",
    # Hikvision SADP
    "sadp.reply": "raw SADP ProbeMatch XML (parsed into the sadp.* keys below)",
    "sadp.device_type": "SADP DeviceType (numeric)",
    "sadp.model": "SADP DeviceDescription",
    "sadp.serial": "SADP DeviceSN",
    "sadp.mac": "SADP MAC",
    "sadp.ipv4": "SADP IPv4Address",
    "sadp.ipv4_mask": "SADP IPv4SubnetMask",
    "sadp.ipv4_gateway": "SADP IPv4Gateway",
    "sadp.http_port": "SADP HttpPort",
    "sadp.command_port": "SADP CommandPort (private SDK port, 8000)",
    "sadp.firmware": "SADP SoftwareVersion",
    "sadp.dsp_version": "SADP DSPVersion",
    "sadp.activated": "SADP Activated",
    "sadp.oem_code": "SADP DetailOEMCode",
    # Dahua DHIP and legacy 5050 discovery
    "dhip.reply": "raw DHIP packet or its JSON (parsed into the dhip.* keys below)",
    "dhip.vendor": "deviceInfo.Vendor",
    "dhip.manufacturer": "deviceInfo.Manufacturer",
    "dhip.model": "deviceInfo.DeviceType",
    "dhip.device_class": "deviceInfo.DeviceClass",
    "dhip.serial": "deviceInfo.SerialNo",
    "dhip.firmware": "deviceInfo.Version",
    "dhip.machine_name": "deviceInfo.MachineName",
    "dhip.mac": "MAC of the reply",
    "dhip.ipv4": "deviceInfo.IPv4Address.IPAddress",
    "dhip.port": "deviceInfo.Port (private SDK port)",
    "dhip.http_port": "deviceInfo.HttpPort",
    # Dahua RPC2 login challenge (first step only, no password)
    "dahua.rpc2_realm": "params.realm of the RPC2_Login challenge, e.g. 'Login to <serial>'",
    "dahua.rpc2_mac": "params.mac of the RPC2_Login challenge",
    # Other banners
    "telnet.banner": "first bytes a telnet service sends",
    "ftp.banner": "FTP greeting",
    "ssh.banner": "SSH identification string",
    "snmp.sysdescr": "SNMP sysDescr (1.3.6.1.2.1.1.1.0)",
    "snmp.sysobjectid": "SNMP sysObjectID (1.3.6.1.2.1.1.2.0), dotted numeric OID",
    "snmp.sysname": "SNMP sysName (1.3.6.1.2.1.1.5.0)",
    "snmp.hikvision.model": "HIK-DEVICE-MIB deviceType (1.3.6.1.4.1.39165.1.1.0): the model",
    "snmp.hikvision.firmware": "HIK-DEVICE-MIB softwVersion (1.3.6.1.4.1.39165.1.3.0)",
    "snmp.hikvision.manufacturer": "HIK-DEVICE-MIB manufacturer (1.3.6.1.4.1.39165.1.6.0)",
    "snmp.dahua.model": "DAHUA-SNMP-MIB deviceType (1.3.6.1.4.1.1004849.2.1.2.6.0): the model",
    "snmp.dahua.firmware": "DAHUA-SNMP-MIB softwareRevision (1.3.6.1.4.1.1004849.2.1.1.1.0)",
    "snmp.dahua.serial": "DAHUA-SNMP-MIB serialNumber (1.3.6.1.4.1.1004849.2.1.2.4.0)",
    "dhcp.hostname": "DHCP option 12 (host name) of a client's DISCOVER/REQUEST",
    "dhcp.vendor_class": "DHCP option 60 (vendor class identifier)",
    "dhcp.param_list": "DHCP option 55 (parameter request list), decimal codes joined by ','",
    # Link-layer neighbour announcements (heard passively)
    "lldp.system_name": "LLDP System Name TLV",
    "lldp.system_description": "LLDP System Description TLV",
    "cdp.device_id": "CDP Device ID",
    "cdp.platform": "CDP Platform",
    "cdp.software_version": "CDP Software Version",
    "tcp.open.": "a TCP port that accepted a connection; the suffix is the port",
    "tcp.banner.": "bytes a TCP service sent (hex if not text); the suffix is the port",
    # Scanner-side observations
    "arp.reply": "the host answered ARP (value: MAC)",
    "probe.error": "what went wrong talking to the host (timeout, reset, oversize, garbage)",
    "probe.alive": "the host answered a TCP connect check (routed targets, no ARP)",
    "discovery.names_other": "an announcement of this host named another address (mDNS record, "
    "SSDP LOCATION, WS-Discovery XAddr): noted here, never credited there",
}
NAMES_OTHER = "discovery.names_other"

# Keys whose value is read again by a parser (rawkeys.EXPANDERS; a test keeps them equal):
# `camscan identify` loads the parsers only when its input holds one of them.
RAW_KEYS = frozenset(
    {
        "http.response",
        "rtsp.response",
        "http.body",
        "wsd.probe_match",
        "sadp.reply",
        "dhip.reply",
        "upnp.description",
    }
)

_KEY_RE = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*$")


def is_known_key(key: str) -> bool:
    """True when `key` is in the vocabulary, directly or as a member of a `prefix.` family."""
    if key in KEYS:
        return True
    if not _KEY_RE.match(key):
        return False
    return any(k.endswith(".") and key.startswith(k) and len(key) > len(k) for k in KEYS)
