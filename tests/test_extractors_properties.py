"""Property-based tests (hypothesis): URL canonicalisation and link filtering.

Whatever a feed contains, a listed link is canonical (one spelling per page), http(s),
never inside a network (unless on the listing's own host), and canonicalising it again
changes nothing.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from extractors.addresses import internal_host_reason
from extractors.links import discover_links
from extractors.linkset import listed_url
from extractors.urls import TRACKING_PARAMS, canonical_url, is_http_url, redact_url

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
public_host = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(label, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "example", "co.uk", "de"]),
)
segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
    max_size=12,
)
path = st.lists(segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
param_name = st.one_of(
    st.sampled_from(["id", "page", "q", "lang", "a", "b", "utm_source", "fbclid", "gclid"]),
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
)
param_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="&#="),
    max_size=8,
)
query = st.lists(st.tuples(param_name, param_value), max_size=5)


@st.composite
def http_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "Https"]))
    host = draw(public_host)
    host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    pairs = draw(query)
    text = "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    fragment = draw(st.sampled_from(["", "#comments", "#top"]))
    tail = quote(draw(path), safe="/%") + ("?" + text if text else "") + fragment
    return f"{scheme}://{host}{port}{tail}"


@FAST
@given(http_urls())
def test_canonical_url_is_idempotent_and_http(url: str) -> None:
    canonical = canonical_url(url)
    assert canonical_url(canonical) == canonical
    assert is_http_url(canonical)
    parts = urlsplit(canonical)
    assert parts.fragment == "" and "#" not in canonical
    assert parts.scheme in ("http", "https")
    assert parts.hostname == parts.hostname.lower() if parts.hostname else False
    assert (parts.scheme, parts.port) not in (("http", 80), ("https", 443))
    names = [pair.split("=", 1)[0].lower() for pair in parts.query.split("&") if pair]
    assert not any(n in TRACKING_PARAMS or n.startswith("utm_") for n in names)


@FAST
@given(
    host=public_host,
    pairs=st.lists(
        st.tuples(st.from_regex(r"[a-z]{1,6}", fullmatch=True), param_value),
        max_size=5,
        unique_by=lambda pair: pair[0],
    ),
    tracking=st.lists(st.sampled_from(["utm_source=x", "fbclid=1", "gclid=2", "utm_medium=y"])),
    data=st.data(),
)
def test_spellings_of_one_page_share_a_canonical_url(
    host: str, pairs: list[tuple[str, str]], tracking: list[str], data: st.DataObject
) -> None:
    plain = "&".join(f"{k}={quote(v)}" for k, v in pairs)
    base = f"https://{host}/news/story?{plain}" if plain else f"https://{host}/news/story"
    shuffled = data.draw(st.permutations(pairs))
    extra = [f"{k}={quote(v)}" for k, v in shuffled] + tracking
    spelled = (
        f"HTTPS://{host.upper()}:443/news/./story?"
        + "&".join(data.draw(st.permutations(extra)))
        + "#section"
    )
    assert canonical_url(spelled) == canonical_url(base)


@FAST
@given(url=http_urls(), user=st.from_regex(r"[a-z]{1,8}", fullmatch=True))
def test_redacted_urls_never_show_credentials_or_query(url: str, user: str) -> None:
    with_secret = url.replace("://", f"://{user}:s3cr3t@", 1)
    shown = redact_url(with_secret + ("&" if "?" in url else "?") + "token=s3cr3t")
    assert "s3cr3t" not in shown


raw_link = st.one_of(
    http_urls(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "ftp://files.example.com/a",
            "mailto:tips@example.com",
            "//evil.example/protocol-relative",
            "/relative/story-here",
            "http://localhost/admin",
            "http://LOCALHOST./admin",
            "http://printer.local/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://intranet/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://user:pass@10.0.0.1/",
        ]
    ),
)
internal_ip = st.one_of(
    st.ip_addresses(network="10.0.0.0/8"),
    st.ip_addresses(network="172.16.0.0/12"),
    st.ip_addresses(network="192.168.0.0/16"),
    st.ip_addresses(network="127.0.0.0/8"),
    st.ip_addresses(network="169.254.0.0/16"),
    st.ip_addresses(network="100.64.0.0/10"),
    st.ip_addresses(network="fc00::/7"),
    st.ip_addresses(network="fe80::/10"),
    st.just(ipaddress.ip_address("::1")),
)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


@FAST
@given(
    raw=raw_link,
    listing=st.sampled_from(["https://news.example.com/feed", "http://127.0.0.1:8080/feed.xml"]),
)
def test_listed_links_are_http_and_never_inside_a_network(raw: str, listing: str) -> None:
    own = _host(listing)
    url = listed_url(raw, listing, own_host=own)
    if url is None:
        return
    assert url == canonical_url(url)
    assert is_http_url(url)
    host = _host(url)
    assert host == own or internal_host_reason(host) is None


@FAST
@given(ip=internal_ip, path=st.sampled_from(["/", "/latest/meta-data/", "/admin?x=1"]))
def test_links_to_internal_addresses_are_dropped(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, path: str
) -> None:
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    assert listed_url(f"http://{host}{path}", "https://news.example.com/feed") is None


@FAST
@given(
    raws=st.lists(raw_link, max_size=30),
    limit=st.integers(min_value=1, max_value=10),
    kind=st.sampled_from(["rss", "atom", "sitemap"]),
)
def test_discovered_links_are_filtered_unique_and_capped(
    raws: list[str], limit: int, kind: str
) -> None:
    assume(all("\x00" not in r for r in raws))
    listing = "https://news.example.com/listing"
    links = discover_links(kind, _document(kind, raws), listing, limit=limit)
    urls = [link.url for link in links]
    assert len(urls) <= limit and len(set(urls)) == len(urls)
    for url in urls:
        assert is_http_url(url) and url == canonical_url(url)
        assert _host(url) == "news.example.com" or internal_host_reason(_host(url)) is None


def _document(kind: str, raws: list[str]) -> bytes:
    def text(value: str) -> str:
        # only characters XML 1.0 allows; the rest would make the document ill-formed
        kept = "".join(c for c in value if c in "\t\n\r" or (" " <= c <= "\ud7ff") or c > "\ue000")
        return escape(kept, {'"': "&quot;"})

    if kind == "rss":
        items = "".join(f"<item><title>t</title><link>{text(r)}</link></item>" for r in raws)
        return f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    if kind == "atom":
        entries = "".join(f'<entry><link href="{text(r)}"/></entry>' for r in raws)
        return f'<feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()
    urls = "".join(f"<url><loc>{text(r)}</loc></url>" for r in raws)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
