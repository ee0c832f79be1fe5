"""A newsroom on 127.0.0.1 that misbehaves on purpose: one route per fault of issue 6.

    with HostileNewsroom() as room:
        page = await fetcher.get(room.url("/flaky"))     # 500 first, then 200
        room.hits("/flaky")                              # [Hit(...), Hit(...)]

Every request is logged as a `Hit` (path, start and end on the monotonic clock, a few
request headers, status, body bytes written), so tests assert politeness, retries and
caps from what the server saw, not from the client's wall clock. Slow routes wait on an
event that `stop()` sets, so shutting down never waits for them. Huge bodies are made
lazily while being sent, and the count of bytes written shows where the client stopped.

Routes (GET; anything else is 404):

| path | behaviour |
|---|---|
| /robots.txt | `robots`: text (default: all but /private/ allowed) or a status to answer |
| /articles/<slug> | a plain article page (ETag, Last-Modified, 304 on a match) |
| /private/<slug> | an article page that robots.txt forbids |
| /feed.xml | RSS listing /articles/good-1..3 and /private/secret-plans-revealed |
| /hold?ms=N | waits N ms, then a small page (concurrency and spacing) |
| /slow-headers | waits `slow_s` before the status line |
| /slowloris | headers at once, then one body byte every 50 ms |
| /flaky | 500 the first time, then the article |
| /rate-limited | 429 with Retry-After: 1 the first time, then the article |
| /rate-limited-long | always 429 with Retry-After: 3600 |
| /loop/a, /loop/b | redirect to each other |
| /to-metadata | 302 to http://169.254.169.254/latest/meta-data/ |
| /to-private | 302 to http://10.0.0.1/admin |
| /hostile-links.xml | RSS whose links are file:, javascript:, data:, internal hosts, one good |
| /huge | 1 GB of "x", no Content-Length, written lazily |
| /huge-declared | the same with Content-Length: 1000000000 |
| /gzip-bomb | Content-Encoding gzip, 1 GB of zeros compressed lazily (~1 MB on the wire) |
| /mislabelled | windows-1252 bytes served as charset=utf-8 |
| /invalid-utf8 | UTF-8 with broken byte sequences |
| /html-as-feed | an HTML page where a feed is expected |
| /malformed.xml | XML cut off in the middle of an element: no entry recoverable |
| /sloppy.xml | RSS with `&nbsp;` and a bare `&`: not XML, but its entries are recoverable |
| /billion-laughs.xml | RSS with nested entity declarations |
| /xxe.xml | RSS with an external entity pointing at a local file |
| /big-feed.xml | RSS with 50,000 entries (~5 MB) |
| /big-sitemap.xml | a sitemap with 50,000 URLs |
| /reset | headers, 2,000 of 100,000 body bytes, then a TCP reset |
| /reset-once | /reset the first time, then the article |
| /image.png | a PNG (unsupported content type) |
| /brotli | Content-Encoding: br (not asked for, not decoded) |
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from extractors.bodies import accept_for_kind
from extractors.http import Fetcher, FetchError, FetchPolicy
from extractors.links import LinkDiscoveryError, discover_links
from newswatch.models import Link, Page

GIGABYTE = 1_000_000_000
BIG_FEED_ENTRIES = 50_000
DEFAULT_ROBOTS = "User-agent: *\nDisallow: /private/\n"
ARTICLE_ETAG = '"article-v1"'
ARTICLE_LAST_MODIFIED = "Wed, 01 May 2024 08:00:00 GMT"


@dataclass
class Hit:
    """One request as the server saw it. Times are `time.monotonic()` seconds."""

    path: str
    query: str
    started: float
    headers: dict[str, str]
    ended: float = 0.0
    status: int = 0
    bytes_sent: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    done: bool = False


class HostileNewsroom:
    """The server; see the module docstring."""

    def __init__(self, *, slow_s: float = 5.0) -> None:
        self.slow_s = slow_s
        # robots.txt: its text, or an HTTP status to answer with instead.
        self.robots: str | int = DEFAULT_ROBOTS
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._served: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> HostileNewsroom:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HostileNewsroom:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- addresses and the log ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str | None = None, *, timeout: float = 5.0) -> list[Hit]:
        """Requests (to `path`, if given) in the order they started, once all have ended.

        A client can have its answer a moment before the handler has finished: this waits
        (at most `timeout` seconds) until every matching request is over.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                found = [h for h in self._hits if path is None or h.path == path]
            if all(h.done for h in found):
                return sorted(found, key=lambda h: h.started)
            if time.monotonic() > deadline:
                raise AssertionError(f"requests to {path or 'the server'} still running")
            time.sleep(0.005)

    def wait_for_hits(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Hit]:
        """The hits of `path` once `count` of them have ended (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.hits(path, timeout=max(0.0, deadline - time.monotonic()))
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise AssertionError(f"{path}: {len(self.hits(path))} hits, expected {count}")

    def _started(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def _nth(self, path: str) -> int:
        """How many requests to `path` came before this one."""
        with self._lock:
            count = self._served[path]
            self._served[path] += 1
        return count


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hang up on purpose (caps, timeouts)


def _handler_for(room: HostileNewsroom) -> type[BaseHTTPRequestHandler]:
    class Handler(_HostileHandler):
        newsroom = room

    return Handler


class _HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    newsroom: HostileNewsroom
    hit: Hit

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        wanted = ("user-agent", "accept", "accept-encoding", "if-none-match", "if-modified-since")
        self.hit = Hit(
            path=parts.path,
            query=parts.query,
            started=time.monotonic(),
            headers={k: v for k, v in ((k, self.headers.get(k)) for k in wanted) if v},
        )
        self.newsroom._started(self.hit)
        try:
            self._route(parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError, ValueError, OSError):
            self.close_connection = True  # the client hung up: that is the point
        finally:
            self.hit.ended = time.monotonic()
            self.hit.done = True

    # --- writing ------------------------------------------------------------------------

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.hit.status = status
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes = b"", content_type: str = "", **more: str) -> None:
        headers = {"Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update({k.replace("_", "-"): v for k, v in more.items()})
        self._head(status, headers)
        self._write(body)

    def _write(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        self.hit.bytes_sent += len(data)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server stops; True if it is stopping."""
        return self.newsroom.stopping.wait(seconds)

    # --- routes -------------------------------------------------------------------------

    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        room = self.newsroom
        simple: dict[str, Callable[[], None]] = {
            "/robots.txt": self._robots,
            "/feed.xml": lambda: self._send(200, _good_feed(room.base_url), "application/rss+xml"),
            "/slow-headers": self._slow_headers,
            "/slowloris": self._slowloris,
            "/flaky": lambda: self._first_then_article(path, 500),
            "/rate-limited": lambda: self._first_then_article(path, 429, Retry_After="1"),
            "/rate-limited-long": lambda: self._send(429, b"slow down", Retry_After="3600"),
            "/loop/a": lambda: self._send(302, Location="/loop/b"),
            "/loop/b": lambda: self._send(302, Location="/loop/a"),
            "/to-metadata": lambda: self._send(
                302, Location="http://169.254.169.254/latest/meta-data/"
            ),
            "/to-private": lambda: self._send(302, Location="http://10.0.0.1/admin"),
            "/hostile-links.xml": lambda: self._send(
                200, _hostile_links_feed(room.base_url), "application/rss+xml"
            ),
            "/huge": lambda: self._huge(declared=False),
            "/huge-declared": lambda: self._huge(declared=True),
            "/gzip-bomb": self._gzip_bomb,
            "/mislabelled": lambda: self._send(
                200, _mislabelled_page(), "text/html; charset=utf-8"
            ),
            "/invalid-utf8": lambda: self._send(
                200, _invalid_utf8_page(), "text/html; charset=utf-8"
            ),
            "/html-as-feed": lambda: self._send(
                200, _article_html("Not a feed at all"), "text/html; charset=utf-8"
            ),
            "/malformed.xml": lambda: self._send(200, _MALFORMED, "application/rss+xml"),
            "/sloppy.xml": lambda: self._send(200, _sloppy_feed(room.base_url), "text/xml"),
            "/billion-laughs.xml": lambda: self._send(200, _BILLION_LAUGHS, "application/xml"),
            "/xxe.xml": lambda: self._send(200, _XXE, "application/rss+xml"),
            "/big-feed.xml": lambda: self._send(
                200, big_feed(room.base_url), "application/rss+xml"
            ),
            "/big-sitemap.xml": lambda: self._send(
                200, big_sitemap(room.base_url), "application/xml"
            ),
            "/reset": self._reset,
            "/reset-once": lambda: self._article(path) if room._nth(path) else self._reset(),
            "/image.png": lambda: self._send(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
            "/brotli": lambda: self._send(200, b"\x1b\x00\x00", "text/html", Content_Encoding="br"),
        }
        if path in simple:
            simple[path]()
        elif path.startswith(("/articles/", "/private/")):
            self._article(path)
        elif path == "/hold":
            self._wait(int(query.get("ms", ["0"])[0]) / 1000)
            self._send(200, b"<html><body>held</body></html>", "text/html")
        else:
            self._send(404, b"not here", "text/plain")

    def _robots(self) -> None:
        robots = self.newsroom.robots
        if isinstance(robots, int):
            self._send(robots, b"robots.txt says no", "text/plain")
        else:
            self._send(200, robots.encode(), "text/plain; charset=utf-8")

    def _article(self, path: str) -> None:
        if self.headers.get("If-None-Match") == ARTICLE_ETAG:
            self._send(304, ETag=ARTICLE_ETAG)
            return
        slug = path.rsplit("/", 1)[-1]
        self._send(
            200,
            _article_html(slug.replace("-", " ").capitalize()),
            "text/html; charset=utf-8",
            ETag=ARTICLE_ETAG,
            Last_Modified=ARTICLE_LAST_MODIFIED,
        )

    def _first_then_article(self, path: str, status: int, **headers: str) -> None:
        if self.newsroom._nth(path) == 0:
            self._send(status, b"not now", "text/plain", **headers)
        else:
            self._article(path)

    def _slow_headers(self) -> None:
        if not self._wait(self.newsroom.slow_s):
            self._send(200, _article_html("Late"), "text/html")

    def _slowloris(self) -> None:
        self._head(200, {"Content-Type": "text/html", "Content-Length": "10000"})
        for _ in range(10000):
            if self._wait(0.05):
                return
            self._write(b"x")

    def _huge(self, *, declared: bool) -> None:
        # A small send buffer keeps what the kernel accepts (and counts as sent) near
        # what the client actually read.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        headers = {"Content-Type": "text/html"}
        if declared:
            headers["Content-Length"] = str(GIGABYTE)
        else:
            headers["Connection"] = "close"
            self.close_connection = True
        self._head(200, headers)
        chunk = b"x" * 65536
        while self.hit.bytes_sent < GIGABYTE and not self.newsroom.stopping.is_set():
            self._write(chunk)

    def _gzip_bomb(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        self.close_connection = True
        self._head(
            200, {"Content-Type": "text/html", "Content-Encoding": "gzip", "Connection": "close"}
        )
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        block = b"\0" * (1 << 20)
        inflated = 0
        while inflated < GIGABYTE and not self.newsroom.stopping.is_set():
            data = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
            inflated += len(block)
            self.hit.extra["inflated"] = inflated
            self._write(data)
        self._write(compressor.flush())

    def _reset(self) -> None:
        self._head(200, {"Content-Type": "text/html", "Content-Length": "100000"})
        self._write(b"<html><body>" + b"y" * 1988)
        # SO_LINGER 0: closing sends RST instead of FIN, a connection reset mid-body.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.wfile.close()
        self.rfile.close()
        self.connection.close()
        self.close_connection = True


# --- documents ------------------------------------------------------------------------------

_PARAGRAPHS = (
    "Prosecutors said on Tuesday that a former engineer copied turbine blade designs to a"
    " personal drive in the weeks before joining a competitor, according to court papers.",
    "The indictment describes thousands of files taken over several months, including"
    " simulation data and supplier pricing that the company had marked as confidential.",
    "Lawyers for the engineer declined to comment. A hearing is scheduled for next month,"
    " and the competitor said it was cooperating fully with the investigation.",
)


def _article_html(title: str, extra: str = "") -> bytes:
    body = "".join(f"<p>{p}</p>" for p in _PARAGRAPHS)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title></head><body><article><h1>{title}</h1>"
        f"{extra}{body}</article></body></html>"
    ).encode()


ACCENTED = "Café owners in Zürich say the naïve tariff plan costs them €2 million."


def _mislabelled_page() -> bytes:
    return _article_html("Tariffs hit cafés", f"<p>{ACCENTED}</p>").decode().encode("cp1252")


def _invalid_utf8_page() -> bytes:
    page = _article_html("Broken bytes", f"<p>{ACCENTED}</p><p>BROKEN</p>")
    return page.replace(b"BROKEN", b"Broken \xff\xfe sequence \xc3( and \xed\xa0\x80 here")


def _rss(items: list[tuple[str, str]]) -> bytes:
    entries = "".join(f"<item><title>{t}</title><link>{u}</link></item>" for t, u in items)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Hostile newsroom</title>{entries}</channel></rss>"
    ).encode()


def _good_feed(base: str) -> bytes:
    items = [(f"Good story {i}", f"{base}/articles/good-story-{i}") for i in (1, 2, 3)]
    items.append(("Secret plans", f"{base}/private/secret-plans-revealed"))
    return _rss(items)


HOSTILE_LINKS = (
    "file:///etc/passwd",
    "javascript:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.1/admin/delete-everything",
    "http://localhost:8080/internal/report",
    "http://intranet/hr/salaries",
    "http://2130706433/loopback-in-disguise",
    "ftp://files.example.com/podcast.mp3",
)


def _hostile_links_feed(base: str) -> bytes:
    items = [(f"Hostile {i}", link.replace("&", "&amp;")) for i, link in enumerate(HOSTILE_LINKS)]
    items.append(("The one good story", f"{base}/articles/the-one-good-story"))
    return _rss(items)


def _sloppy_feed(base: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Sloppy & Sons</title>'
        f"<item><title>Tariff&nbsp;talks resume</title><link>{base}/articles/tariff-talks"
        "</link></item></channel></rss>"
    ).encode()


_MALFORMED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut</title>'
    b"<item><title>Cut off in the mid"
)

_BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']><rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title>'
    "<link>https://example.com/a/laughing-all-the-way</link></item></channel></rss>"
).encode()

_XXE = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
    b"<link>https://example.com/a/external-entity-story</link></item></channel></rss>"
)


@cache
def big_feed(base: str) -> bytes:
    items = "".join(
        f"<item><title>Story number {i}</title><link>{base}/articles/story-number-{i}</link>"
        "<pubDate>Wed, 01 May 2024 08:00:00 GMT</pubDate></item>"
        for i in range(BIG_FEED_ENTRIES)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Firehose</title>{items}</channel></rss>"
    ).encode()


@cache
def big_sitemap(base: str) -> bytes:
    urls = "".join(
        f"<url><loc>{base}/articles/story-number-{i}</loc><lastmod>2024-05-01</lastmod></url>"
        for i in range(BIG_FEED_ENTRIES)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    ).encode()


# --- a run against it -------------------------------------------------------------------------
# What flows.pipeline.discover does for each source (listing, links, pages), without Prefect
# or a database, so each fault is shown on the real fetch path next to sources that work.

LOCAL = frozenset({"127.0.0.1"})
TEST_CAP = 200_000  # max_bytes in these tests

Outcome = Page | FetchError


def hostile_policy(**overrides: Any) -> FetchPolicy:
    """The tests' policy: 127.0.0.1 admitted, small cap, short waits; `overrides` win."""
    settings: dict[str, Any] = {
        "allowed_hosts": LOCAL,
        "max_bytes": TEST_CAP,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "total_timeout_s": 5.0,
        "per_host_min_delay_s": 0.0,
        "backoff_base_s": 0.05,
        "backoff_max_s": 0.2,
        "max_retry_wait_s": 5.0,
        "contact_url": "https://newswatch.example/contact",
    }
    settings.update(overrides)
    return FetchPolicy(**settings)


@dataclass
class SourceRun:
    """One polled source: its links and each page's outcome, or why it failed."""

    error: Exception | None = None
    links: list[Link] = field(default_factory=list)
    pages: dict[str, Outcome] = field(default_factory=dict)


@dataclass
class Run:
    pages: dict[str, Outcome]
    sources: dict[str, SourceRun]


async def fetch_each(fetcher: Fetcher, urls: Sequence[str]) -> dict[str, Outcome]:
    """Every URL's Page or FetchError; anything else is a bug and is raised."""
    results = await asyncio.gather(*(fetcher.get(u) for u in urls), return_exceptions=True)
    outcomes: dict[str, Outcome] = {}
    for url, result in zip(urls, results, strict=True):
        if isinstance(result, BaseException) and not isinstance(result, FetchError):
            raise result
        outcomes[url] = result
    return outcomes


async def poll(fetcher: Fetcher, kind: str, url: str, *, limit: int = 100) -> SourceRun:
    try:
        listing = await fetcher.get(url, accept=accept_for_kind(kind))
        links = discover_links(kind, listing.content, listing.final_url, limit=limit)
    except (FetchError, LinkDiscoveryError) as exc:
        return SourceRun(error=exc)
    return SourceRun(links=links, pages=await fetch_each(fetcher, [link.url for link in links]))


def hostile_run(
    policy: FetchPolicy,
    *,
    pages: Sequence[str] = (),
    sources: Sequence[tuple[str, str]] = (),
    page_limit: int = 100,
) -> Run:
    """Fetch `pages` and poll `sources` ((kind, url)) concurrently, with one Fetcher."""

    async def scenario() -> Run:
        async with Fetcher(policy) as fetcher:
            fetched, *polled = await asyncio.gather(
                fetch_each(fetcher, pages),
                *(poll(fetcher, kind, url, limit=page_limit) for kind, url in sources),
            )
        assert isinstance(fetched, dict)
        return Run(
            pages=fetched,
            sources={url: run for (_, url), run in zip(sources, polled, strict=True)},
        )

    return asyncio.run(scenario())


def assert_good_feed_worked(run: Run, room: HostileNewsroom) -> None:
    """The well-behaved source of a run: three stories fetched, the robots-forbidden one not."""
    source = run.sources[room.url("/feed.xml")]
    assert source.error is None, source.error
    outcomes = {url.rsplit("/", 1)[-1]: page for url, page in source.pages.items()}
    for slug in ("good-story-1", "good-story-2", "good-story-3"):
        page = outcomes[slug]
        assert isinstance(page, Page) and page.status == 200, page
    forbidden = outcomes["secret-plans-revealed"]
    assert isinstance(forbidden, FetchError) and forbidden.kind == "robots"
