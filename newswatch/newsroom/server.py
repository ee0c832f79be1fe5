"""The newsroom: a real HTTP server on 127.0.0.1 serving feeds, a sitemap, an index and articles.

    with Newsroom() as room:            # sample articles, random free port
        httpx.get(room.feed_url)
        room.publish(article)           # the feed (and its ETag) changes
        room.set_failure("/atom.xml", 500)
        room.article_hits()             # how many article pages were asked for

Every response carries a strong ETag (hash of the body) and Last-Modified; a GET or HEAD whose
If-None-Match matches (or, without If-None-Match, whose If-Modified-Since is not older than
Last-Modified) gets 304 with no body. Misbehaviour (failures, delays) is set per path.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import urlsplit

from newswatch.newsroom import feeds, pages
from newswatch.newsroom.samples import SampleArticle, load_sample_articles, sort_newest_first

HOST = "127.0.0.1"
ARTICLE_PREFIX = "/articles/"

_HTML = "text/html; charset=utf-8"
_CONTENT_TYPES = {
    "/feed.xml": "application/rss+xml; charset=utf-8",
    "/atom.xml": "application/atom+xml; charset=utf-8",
    "/sitemap.xml": "application/xml; charset=utf-8",
    "/robots.txt": "text/plain; charset=utf-8",
}

RequestRecord = tuple[str, str, int]  # (method, path as requested, status)


@dataclass(frozen=True, slots=True)
class _Resource:
    status: int
    body: bytes
    content_type: str
    last_modified: datetime
    extra_headers: tuple[tuple[str, str], ...] = ()
    etag: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.body).hexdigest()[:32]
        object.__setattr__(self, "etag", f'"{digest}"')


@dataclass(slots=True)
class _Failure:
    status: int
    body: bytes | None
    headers: tuple[tuple[str, str], ...]
    remaining: int | None  # None: until cleared


def _http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def _whole_seconds(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(microsecond=0)


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2), as If-None-Match requires."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _not_modified(resource: _Resource, if_none_match: str | None, ims: str | None) -> bool:
    if if_none_match is not None:  # takes precedence over If-Modified-Since
        return _etag_matches(if_none_match, resource.etag)
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return _whole_seconds(resource.last_modified) <= since


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, room: Newsroom, port: int) -> None:
        self.room = room
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); not needed here.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on kept-alive clients so that their handler threads end."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-response is not the newsroom's problem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NewsroomHTTP/1.0"
    timeout = 30  # seconds an idle kept-alive connection may stay open

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._refuse()

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1 << 20))
        room = cast(_Server, self.server).room
        room._record(self.command, self.path, 405)
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _serve(self, method: str) -> None:
        room = cast(_Server, self.server).room
        status, headers, body = room._respond(
            method,
            self.path,
            if_none_match=self.headers.get("If-None-Match"),
            if_modified_since=self.headers.get("If-Modified-Since"),
        )
        try:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD" and body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is Newsroom.requests


class Newsroom:
    """A local news site for tests and the demo; a context manager that starts and stops it."""

    def __init__(self, articles: Iterable[SampleArticle] | None = None, port: int = 0) -> None:
        chosen = load_sample_articles() if articles is None else list(articles)
        self._articles: dict[str, SampleArticle] = {}
        for article in chosen:
            if article.slug in self._articles:
                raise ValueError(f"duplicate article slug {article.slug!r}")
            self._articles[article.slug] = article
        self._port = port
        self._lock = threading.RLock()
        self._modified: dict[str, datetime] = {}  # slug -> last change, when not `published`
        self._site_modified: datetime | None = None  # last publish(), for listing pages
        self._failures: dict[str, _Failure] = {}
        self._delays: dict[str, float] = {}
        self._log: list[RequestRecord] = []
        self._cache: dict[str, _Resource] = {}
        self._started_at = _whole_seconds(datetime.now(UTC))
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the newsroom is already running")
        self._stopping.clear()
        self._server = _Server(self, self._port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"newsroom-{self._server.server_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # wakes delayed requests
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._server is not None

    # -- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the newsroom is not running (use it as a context manager)")
        return self._server.server_port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def feed_url(self) -> str:
        return self.base_url + "/feed.xml"

    @property
    def atom_url(self) -> str:
        return self.base_url + "/atom.xml"

    @property
    def sitemap_url(self) -> str:
        return self.base_url + "/sitemap.xml"

    @property
    def index_url(self) -> str:
        return self.base_url + "/news/"

    @property
    def robots_url(self) -> str:
        return self.base_url + "/robots.txt"

    def url_for(self, article: SampleArticle | str) -> str:
        """The absolute URL of an article (or of a slug)."""
        slug = article if isinstance(article, str) else article.slug
        return f"{self.base_url}{ARTICLE_PREFIX}{slug}"

    # -- content ---------------------------------------------------------------------------

    @property
    def articles(self) -> list[SampleArticle]:
        """The articles being served, newest first."""
        with self._lock:
            return sort_newest_first(self._articles.values())

    def publish(self, article: SampleArticle) -> str:
        """Add an article (or replace one with the same slug); returns its URL when running.

        Listing pages get a new body (new ETag) and a Last-Modified later than before.
        """
        if not isinstance(article, SampleArticle):
            raise TypeError(f"expected a SampleArticle, got {type(article).__name__}")
        with self._lock:
            now = self._next_change_time()
            if article.slug in self._articles:
                self._modified[article.slug] = max(now, _whole_seconds(article.published))
            self._articles[article.slug] = article
            self._site_modified = now
            self._cache.clear()
        return self.url_for(article) if self.running else article.path

    def unpublish(self, slug: str) -> None:
        """Take an article down: its page answers 404 and it leaves every listing."""
        with self._lock:
            if self._articles.pop(slug, None) is None:
                raise KeyError(slug)
            self._modified.pop(slug, None)
            self._site_modified = self._next_change_time()
            self._cache.clear()

    def _next_change_time(self) -> datetime:
        # Whole seconds (HTTP dates), strictly increasing, so If-Modified-Since sees a change.
        now = _whole_seconds(datetime.now(UTC))
        if self._site_modified is not None and now <= self._site_modified:
            now = self._site_modified + timedelta(seconds=1)
        return now

    # -- misbehaviour ----------------------------------------------------------------------

    def set_failure(
        self,
        path: str,
        status: int,
        *,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Make ``path`` answer ``status`` (e.g. 500, 404, 429 with Retry-After).

        ``body`` replaces the default error page (status 200 with a broken body makes a
        malformed feed); ``times`` limits the failure to that many requests, then the path
        recovers. Conditional headers are ignored for a failing path.
        """
        if not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._failures[self._path_of(path)] = _Failure(
                status, raw, tuple((headers or {}).items()), times
            )

    def clear_failure(self, path: str | None = None) -> None:
        """Stop failing ``path`` (or every path)."""
        with self._lock:
            if path is None:
                self._failures.clear()
            else:
                self._failures.pop(self._path_of(path), None)

    def set_delay(self, path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering requests for ``path`` (0 removes the delay)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._lock:
            if seconds == 0:
                self._delays.pop(self._path_of(path), None)
            else:
                self._delays[self._path_of(path)] = seconds

    def clear_delay(self, path: str | None = None) -> None:
        with self._lock:
            if path is None:
                self._delays.clear()
            else:
                self._delays.pop(self._path_of(path), None)

    @staticmethod
    def _path_of(path_or_url: str) -> str:
        path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?")[0]
        if not path.startswith("/"):
            raise ValueError(f"expected a path starting with '/' or a URL: {path_or_url!r}")
        return path

    # -- request log -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log: (method, path as requested, status), oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def hits(self, path: str, *, status: int | None = None, method: str | None = None) -> int:
        """Requests for ``path`` (query strings ignored), optionally of one status or method."""
        wanted = self._path_of(path)
        with self._lock:
            return sum(
                1
                for m, p, s in self._log
                if self._path_of(p) == wanted
                and (status is None or s == status)
                and (method is None or m == method)
            )

    def article_hits(self, *, status: int | None = None) -> int:
        """Requests for article pages (``/articles/...``), optionally of one status.

        ``article_hits()`` is 0 after a run that fetched no article page at all;
        ``article_hits(status=200)`` counts full page bodies sent.
        """
        with self._lock:
            return sum(
                1
                for _, p, s in self._log
                if p.startswith(ARTICLE_PREFIX) and (status is None or s == status)
            )

    def _record(self, method: str, raw_path: str, status: int) -> None:
        with self._lock:
            self._log.append((method, raw_path, status))

    # -- answering -------------------------------------------------------------------------

    def _respond(
        self,
        method: str,
        raw_path: str,
        *,
        if_none_match: str | None,
        if_modified_since: str | None,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body for one request; recorded in the log before it is sent."""
        path = urlsplit(raw_path).path or "/"
        with self._lock:
            delay = self._delays.get(path, 0.0)
        if delay:
            self._stopping.wait(delay)
        with self._lock:
            failure = self._failures.get(path)
            if failure is not None and failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    del self._failures[path]
            resource = self._failure_resource(path, failure) if failure else self._resource(path)
        headers: list[tuple[str, str]] = [
            ("ETag", resource.etag),
            ("Last-Modified", _http_date(resource.last_modified)),
            ("Cache-Control", "no-cache"),
            *resource.extra_headers,
        ]
        conditional = failure is None and resource.status == 200
        if conditional and _not_modified(resource, if_none_match, if_modified_since):
            self._record(method, raw_path, 304)
            return 304, headers, b""
        headers += [
            ("Content-Type", resource.content_type),
            ("Content-Length", str(len(resource.body))),
        ]
        self._record(method, raw_path, resource.status)
        return resource.status, headers, resource.body

    def _failure_resource(self, path: str, failure: _Failure) -> _Resource:
        body = failure.body
        content_type = _HTML
        if body is None:
            reason = _reason(failure.status)
            body = pages.render_error_page(failure.status, reason, base_url=self.base_url).encode()
        else:  # a custom body is served as what the path normally is (a broken feed, ...)
            content_type = _CONTENT_TYPES.get(path, _HTML)
        headers = failure.headers
        if any(name.lower() == "content-type" for name, _ in headers):
            content_type = next(v for n, v in headers if n.lower() == "content-type")
            headers = tuple((n, v) for n, v in headers if n.lower() != "content-type")
        return _Resource(failure.status, body, content_type, self._started_at, headers)

    def _resource(self, path: str) -> _Resource:
        cached = self._cache.get(path)
        if cached is None:
            cached = self._build(path)
            self._cache[path] = cached
        return cached

    def _listing_modified(self) -> datetime:
        newest = max(
            (self._modified.get(a.slug, a.published) for a in self._articles.values()),
            default=self._started_at,
        )
        if self._site_modified is not None:
            newest = max(newest, self._site_modified)
        return _whole_seconds(newest)

    def _build(self, path: str) -> _Resource:
        base = self.base_url
        articles = sort_newest_first(self._articles.values())
        listed = self._listing_modified()
        text: str
        if path in ("/", "/news/"):
            text = pages.render_index_page(articles, base_url=base)
            return _Resource(200, text.encode(), _HTML, listed)
        if path == "/news":
            return _Resource(301, b"", _HTML, self._started_at, (("Location", base + "/news/"),))
        if path == "/feed.xml":
            text = feeds.render_rss(articles, base_url=base, updated=listed)
        elif path == "/atom.xml":
            text = feeds.render_atom(
                articles, base_url=base, updated=listed, modified=self._modified
            )
        elif path == "/sitemap.xml":
            text = feeds.render_news_sitemap(articles, base_url=base, modified=self._modified)
        elif path == "/robots.txt":
            text = feeds.render_robots(base_url=base)
        elif path.startswith(ARTICLE_PREFIX) and path[len(ARTICLE_PREFIX) :] in self._articles:
            article = self._articles[path[len(ARTICLE_PREFIX) :]]
            modified = self._modified.get(article.slug, article.published)
            text = pages.render_article_page(
                article, base_url=base, others=articles, modified=modified
            )
            return _Resource(200, text.encode(), _HTML, _whole_seconds(modified))
        else:
            text = pages.render_error_page(404, "Not Found", base_url=base)
            return _Resource(404, text.encode(), _HTML, self._started_at)
        return _Resource(200, text.encode(), _CONTENT_TYPES[path], listed)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
