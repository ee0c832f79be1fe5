from __future__ import annotations

import pytest

from extractors.urls import canonical_url, host_of, is_http_url, redact_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # scheme and host case, default ports, empty path
        ("HTTP://Example.COM", "http://example.com/"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("https://example.com./a", "https://example.com/a"),
        # path case and trailing slash are kept
        ("https://example.com/News/Story-One/", "https://example.com/News/Story-One/"),
        ("https://example.com/News/Story-One", "https://example.com/News/Story-One"),
        # fragment dropped
        ("https://example.com/a#comments", "https://example.com/a"),
        # tracking parameters dropped, the rest sorted by name with repeats in order
        (
            "https://example.com/a?utm_source=x&b=2&UTM_Medium=y&a=1&fbclid=z&gclid=q",
            "https://example.com/a?a=1&b=2",
        ),
        ("https://example.com/a?z=1&id=3&id=2", "https://example.com/a?id=3&id=2&z=1"),
        (
            "https://example.com/a?ref=home&mc_cid=1&mc_eid=2&cmpid=3&ocid=4&pk_campaign=5",
            "https://example.com/a",
        ),
        ("https://example.com/a?", "https://example.com/a"),
        ("https://example.com/a?page=2&&", "https://example.com/a?page=2"),
        # percent-escapes: hex upper-cased, unreserved decoded, unsafe encoded
        ("https://example.com/a%2fb/%7Euser", "https://example.com/a%2Fb/~user"),
        ("https://example.com/a b", "https://example.com/a%20b"),
        ("https://example.com/caf%c3%a9", "https://example.com/caf%C3%A9"),
        # dot segments
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        # credentials never survive
        ("https://user:secret@example.com/a", "https://example.com/a"),
        # IDN and IPv6
        ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        # whitespace around the URL
        ("  https://example.com/a \n", "https://example.com/a"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_canonical_url_is_idempotent() -> None:
    once = canonical_url("HTTPS://Ex.com:443/A/./b?utm_x=1&b=%7e&a#f")
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("/story/1", "https://example.com/news/", "https://example.com/story/1"),
        ("story-2", "https://example.com/news/", "https://example.com/news/story-2"),
        ("../x", "https://example.com/news/today/", "https://example.com/news/x"),
        ("//cdn.example.com/a", "https://example.com/", "https://cdn.example.com/a"),
        ("https://other.example/a", "https://example.com/", "https://other.example/a"),
    ],
)
def test_canonical_url_resolves_against_base(raw: str, base: str, expected: str) -> None:
    assert canonical_url(raw, base) == expected


def test_non_http_urls_are_returned_unchanged() -> None:
    assert canonical_url("mailto:tips@example.com") == "mailto:tips@example.com"
    assert not is_http_url(canonical_url("javascript:void(0)"))


def test_bad_port_raises_value_error() -> None:
    with pytest.raises(ValueError):
        canonical_url("https://example.com:99999/a")


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/a", True),
        ("HTTP://example.com", True),
        ("ftp://example.com/a", False),
        ("file:///etc/passwd", False),
        ("https:///nohost", False),
        ("/relative/path", False),
        ("not a url", False),
        ("http://[::1", False),
    ],
)
def test_is_http_url(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


def test_host_of() -> None:
    assert host_of("https://WWW.Example.com:8080/a") == "www.example.com"
    assert host_of("http://[::1]:80/") == "::1"
    with pytest.raises(ValueError):
        host_of("/relative")


def test_redact_url_hides_credentials_and_query() -> None:
    shown = redact_url("https://user:pw@hooks.example.com:8443/path?token=s3cret#x")
    assert shown == "https://hooks.example.com:8443/path?…"
    assert "s3cret" not in shown and "pw" not in shown
