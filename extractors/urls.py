"""URL canonicalisation: one spelling per article, so "seen before?" is a string compare.

Rules of `canonical_url` (chosen to merge spellings that certainly name the same page and to
leave alone anything a server might treat differently):

- resolve against `base` (RFC 3986, dot segments removed);
- scheme and host lower-cased, a trailing dot on the host dropped, IDN hosts to punycode;
- default ports (http:80, https:443) dropped;
- user:password dropped: it is never part of an article's identity and must not be stored;
- fragment dropped: it never reaches the server;
- path case kept; an empty path becomes "/"; a trailing "/" is kept as it is, because
  "/a" and "/a/" are different resources to many servers (most news sites redirect one to
  the other, and the fetcher records the final URL);
- percent-escapes normalised (hex upper-cased, unreserved characters decoded, unsafe
  characters encoded);
- tracking parameters (`TRACKING_PARAMS`, `TRACKING_PREFIXES`) removed, the rest sorted by
  name (stably, so repeated names keep their order) with their raw spelling kept.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Query parameters that only say how a reader arrived, never which page it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "cmp",
        "ocid",
        "icid",
        "ito",
        "xtor",
        "at_medium",
        "at_campaign",
        "at_source",
        "smid",
        "smtyp",
        "share",
        "spm",
        "s_cid",
        "sr_share",
        "soc_src",
        "soc_trk",
        "wt_mc",
        "wt.mc_id",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_")

# RFC 3986 unreserved characters: a percent-escape of one of these is the character itself.
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
# Characters left unescaped when re-quoting: reserved delimiters, "%" (already-escaped
# sequences) and the unreserved set quote() keeps anyway.
_PATH_SAFE = "/%:@!$&'()*+,;="
_QUERY_SAFE = "/%:@!$&'()*+,;=?"


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host; never raises."""
    try:
        parts = urlsplit(url.strip())
        return parts.scheme.lower() in HTTP_SCHEMES and bool(parts.hostname)
    except ValueError:
        return False


def host_of(url: str) -> str:
    """The lower-case host of an absolute URL (no port, no brackets); ValueError if none."""
    host = urlsplit(url.strip()).hostname
    if not host:
        raise ValueError(f"URL has no host: {redact_url(url)!r}")
    return host.rstrip(".")


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to put in a log or an error."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port is not None else host
    except ValueError:
        return "<unparsable URL>"
    query = "?…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + query


def canonical_url(url: str, base: str | None = None) -> str:
    """Canonical spelling of `url` (resolved against `base`); see the module docstring.

    Raises ValueError for a URL that cannot be parsed (e.g. a bad port). Non-http(s) URLs
    are returned resolved but otherwise untouched: callers filter them with `is_http_url`.
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        return url
    return urlunsplit(
        (
            scheme,
            _netloc(parts, scheme),
            _normalise_path(parts.path),
            _normalise_query(parts.query),
            "",
        )
    )


def _netloc(parts: SplitResult, scheme: str) -> str:
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError(f"URL has no host: {redact_url(parts.geturl())!r}")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    elif not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid internationalised host name: {host!r}") from exc
    port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        return f"{host}:{port}"
    return host


def _normalise_escapes(text: str, safe: str) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    return quote(_PCT.sub(fix, text), safe=safe)


def _normalise_path(path: str) -> str:
    if not path:
        return "/"
    return _normalise_escapes(_remove_dot_segments(path), _PATH_SAFE)


def _remove_dot_segments(path: str) -> str:
    # urljoin only cleans paths when there is a base; a bare URL can still carry "./" or "../".
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in {".", ".."}:
        out.append("")
    result = "/".join(out)
    return result if result.startswith("/") else "/" + result


def _is_tracking(name: str) -> bool:
    key = unquote(name.replace("+", " ")).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _normalise_query(query: str) -> str:
    kept: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        name = pair.split("=", 1)[0]
        if _is_tracking(name):
            continue
        kept.append((unquote(name.replace("+", " ")), _normalise_escapes(pair, _QUERY_SAFE)))
    kept.sort(key=lambda item: item[0])
    return "&".join(raw for _, raw in kept)
