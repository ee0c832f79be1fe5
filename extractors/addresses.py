"""Which addresses and host names newswatch may reach: the public internet only, by default.

`non_public_reason` judges a resolved IP address (the SSRF guard in `transport` applies
it to every address a host resolves to, at connection time); `internal_host_reason`
judges a host as written in a link, without resolving it (link discovery drops links that
obviously point inside a network before anything is fetched).
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that only mean something inside a machine or a local network (RFC 6761, RFC 6762,
# RFC 8375, and the common private TLDs of company networks).
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")
# inet_aton() reads these as IPv4 addresses; a public site is never linked that way.
_NUMERIC_HOST = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")


def non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be fetched from ("a private address", ...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        # e.g. carrier-grade NAT 100.64/10: neither private nor global.
        (not ip.is_global, "a non-public address"),
    )
    return next((reason for flagged, reason in checks if flagged), None)


def parse_ip(host: str) -> IPAddress | None:
    """`host` as an IP address if it is an IP literal (brackets and zone id allowed)."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def internal_host_reason(host: str) -> str | None:
    """Why a link to `host` obviously points inside a network, or None.

    IP literals that are not public, local-only names (localhost, *.local, *.internal,
    ...) and single-label names (resolved through the local search domains) count.
    Public-looking names may still resolve to private addresses: the connection-time
    check catches those.
    """
    name = host.strip().rstrip(".").lower()
    if not name:
        return "no host"
    ip = parse_ip(name)
    if ip is not None:
        return non_public_reason(ip)
    if _NUMERIC_HOST.fullmatch(name):
        return "a numeric address"  # 2130706433, 127.1, 0x7f.1: IPv4 in disguise
    if name in _LOCAL_NAMES or name.endswith(_LOCAL_SUFFIXES):
        return "a local-only name"
    if "." not in name:
        return "a single-label (intranet) name"
    return None
