"""A benchmark newsroom: N RSS feeds and M article pages on 127.0.0.1, in a process of its own.

Pages are the 181 real pages of the extraction benchmark (../shared/eval/extraction/html),
cycled: article n is page n % 181 with its canonical link pointed at its own URL and about a
third of the adjacent word pairs of its title and body text swapped (which ones
depends on n), so every article has a unique URL, text hash and SimHash (dedup keeps them
apart) with the page's own words, while extraction costs what the real page costs. Feeds
and pages answer conditional GETs (ETag and Last-Modified) with 304, like a real site, so a
second run over an unchanged newsroom fetches nothing.

The server runs in a separate process (`BenchNewsroom`), so its CPU is not counted as the
pipeline's. `GET /_stats` returns its request counts as JSON.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import re
import threading
import zlib
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import httpx

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HTML_DIR = ROOT.parent / "shared" / "eval" / "extraction" / "html"
# Fixed, whole seconds: HTTP dates carry no fraction, and a fixed time keeps reruns 304.
LAST_MODIFIED = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

_TITLE = re.compile(r"(<title\b[^>]*>)(.*?)(</title>)", re.S | re.I)
# Scripts, styles, comments and tags are kept as they are; text between them is varied.
_MARKUP_OR_TEXT = re.compile(
    r"(<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|<[^>]*>)|([^<]+)", re.S | re.I
)
_PAIR = re.compile(r"\b([A-Za-z]{3,})(\s+)([A-Za-z]{3,})\b")
_CANONICAL = re.compile(
    r"<link\b[^>]*\brel=[\"']?canonical[^>]*>"
    r"|<meta\b[^>]*\b(?:name|property|itemprop)=[\"']?[\w:.]*(?:url|identifier)\b[^>]*>",
    re.I,
)


def load_pages(html_dir: Path = DEFAULT_HTML_DIR) -> list[str]:
    """The benchmark's pages, decoded as UTF-8 (their stated encoding), in a fixed order."""
    paths = sorted(html_dir.glob("*.html.gz"))
    if not paths:
        raise FileNotFoundError(f"no *.html.gz pages in {html_dir}")
    return [gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in paths]


def vary(html: str, n: int) -> str:
    """Article n's variant of a page: about a third of the adjacent word pairs in its title
    and body text swapped, chosen by n. The words stay the same (same vocabulary, same extraction
    work), their order does not (another text hash, another SimHash)."""

    def pair(match: re.Match[str]) -> str:
        first, space, second = match.groups()
        if (zlib.crc32(f"{first} {second}".encode()) + n) % 3:
            return match.group(0)
        return second + space + first

    def segment(match: re.Match[str]) -> str:
        return match.group(1) or _PAIR.sub(pair, match.group(2))

    head, body = html.split("<body", 1) if "<body" in html else ("", html)
    title = _TITLE.sub(lambda m: m.group(1) + _PAIR.sub(pair, m.group(2)) + m.group(3), head)
    return title + ("<body" if head else "") + _MARKUP_OR_TEXT.sub(segment, body)


def article_page(pages: list[str], n: int, url: str) -> bytes:
    html = _CANONICAL.sub("", pages[n % len(pages)])
    html = html.replace("</head>", f'<link rel="canonical" href="{url}"></head>', 1)
    return vary(html, n).encode("utf-8")


def feed_xml(base: str, feed: int, articles: range) -> bytes:
    items = "".join(
        f"<item><title>Article {n}</title><link>{base}/a/{n}.html</link>"
        f"<guid>{base}/a/{n}.html</guid>"
        f"<pubDate>{format_datetime(LAST_MODIFIED)}</pubDate></item>"
        for n in articles
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Bench feed {feed}</title><link>{base}/</link>"
        f"<description>benchmark</description>{items}</channel></rss>"
    ).encode()


def feed_articles(feed: int, feeds: int, articles: int) -> range:
    """The articles feed `feed` lists: a contiguous share, the shares as even as can be."""
    per, extra = divmod(articles, feeds)
    start = feed * per + min(feed, extra)
    return range(start, start + per + (feed < extra))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, pages: list[str], feeds: int, articles: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.pages, self.feeds, self.articles = pages, feeds, articles
        self.base = f"http://127.0.0.1:{self.server_port}"
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.built: list[bytes] = []
        self.etags: dict[int, str] = {}  # id of a built page -> its ETag

    def prebuild(self) -> None:
        """Build every article now: serving then costs no CPU that competes with the
        pipeline under test (building a page takes a few milliseconds)."""
        self.built = [
            article_page(self.pages, n, f"{self.base}/a/{n}.html") for n in range(self.articles)
        ]

    def body(self, path: str) -> tuple[bytes, str] | None:
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain"
        if match := re.fullmatch(r"/feeds/(\d+)\.xml", path):
            feed = int(match.group(1))
            if feed < self.feeds:
                span = feed_articles(feed, self.feeds, self.articles)
                return feed_xml(self.base, feed, span), "application/rss+xml"
        if match := re.fullmatch(r"/a/(\d+)\.html", path):
            n = int(match.group(1))
            if n < self.articles:
                return self.built[n], "text/html; charset=utf-8"
        return None

    def etag(self, body: bytes) -> str:
        key = id(body)
        tag = self.etags.get(key)
        if tag is None:
            tag = self.etags[key] = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        return tag


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites

    def do_GET(self) -> None:
        server = cast(_Server, self.server)
        path = self.path.split("?", 1)[0]
        if path == "/_stats":
            with server.lock:
                payload = json.dumps(dict(server.counts)).encode()
            self._send(200, payload, "application/json", {})
            return
        found = server.body(path)
        kind = "feed" if path.startswith("/feeds/") else "page"
        if found is None:
            self._count("404")
            self._send(404, b"not found", "text/plain", {})
            return
        body, content_type = found
        etag = server.etag(body) if kind == "page" else _etag(body)
        validators = {"ETag": etag, "Last-Modified": format_datetime(LAST_MODIFIED, usegmt=True)}
        if self._not_modified(etag):
            self._count(f"{kind}_304")
            self._send(304, b"", None, validators)
            return
        self._count(f"{kind}_200")
        self._count(f"{kind}:{path}")
        self._send(200, body, content_type, validators)

    def _not_modified(self, etag: str) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return etag in {tag.strip() for tag in if_none_match.split(",")} or (
                if_none_match.strip() == "*"
            )
        since = self.headers.get("If-Modified-Since")
        if since:
            try:
                return parsedate_to_datetime(since) >= LAST_MODIFIED
            except (TypeError, ValueError):
                return False
        return False

    def _count(self, key: str) -> None:
        with cast(_Server, self.server).lock:
            cast(_Server, self.server).counts[key] += 1

    def _send(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)) if status != 304 else "0")
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


def _serve(html_dir: str, feeds: int, articles: int, ready: Any) -> None:
    server = _Server(load_pages(Path(html_dir)), feeds, articles)
    server.prebuild()
    ready.send(server.server_port)
    server.serve_forever(poll_interval=0.1)


class BenchNewsroom:
    """The newsroom in a child process; a context manager (start, addresses, stop)."""

    def __init__(self, articles: int, feeds: int, html_dir: Path = DEFAULT_HTML_DIR) -> None:
        if feeds < 1 or articles < feeds:
            raise ValueError("need at least one feed and one article per feed")
        self.articles, self.feeds, self.html_dir = articles, feeds, html_dir
        self.port = 0
        self.process: multiprocessing.process.BaseProcess | None = None

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=_serve,
            args=(str(self.html_dir), self.feeds, self.articles, send),
            name="bench-newsroom",
            daemon=True,
        )
        self.process.start()
        # Building the pages takes ~3 ms each.
        wait = 60 + self.articles * 0.01
        if not receive.poll(wait):
            self.close()
            raise RuntimeError(f"the bench newsroom did not start within {wait:.0f} s")
        self.port = int(receive.recv())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(10)
            self.process = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def feed_urls(self) -> list[str]:
        return [f"{self.base_url}/feeds/{f}.xml" for f in range(self.feeds)]

    def article_url(self, n: int) -> str:
        return f"{self.base_url}/a/{n}.html"

    def stats(self) -> dict[str, int]:
        """Request counts: feed_200, feed_304, page_200, page_304, and per path."""
        return dict(httpx.get(f"{self.base_url}/_stats", timeout=10).json())

    def config_toml(self, database_url: str, per_host_concurrency: int = 4) -> str:
        """A newswatch config polling every feed, without delays between requests to
        127.0.0.1. Four connections fetch a batch well ahead of its extraction; more cost
        client CPU (httpcore checks every pooled connection on each request)."""
        per_feed = -(-self.articles // self.feeds)
        lines = [
            f'database_url = "{database_url}"',
            "",
            "[http]",
            'allowed_hosts = ["127.0.0.1"]',
            "allow_private_addresses = true",
            "per_host_min_delay_s = 0",
            f"per_host_concurrency = {per_host_concurrency}",
            f"max_new_links_per_source = {per_feed}",
            "respect_robots = false",
            "max_retries = 0",
            "",
            "[channels.null]",
            'type = "console"',
            "",
        ]
        for feed, url in enumerate(self.feed_urls):
            lines += [f"[sources.feed{feed:04d}]", 'kind = "rss"', f'url = "{url}"', ""]
        return "\n".join(lines)
