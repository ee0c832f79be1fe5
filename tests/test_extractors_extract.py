from __future__ import annotations

import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from extractors.extract import ExtractionError, clean_text, extract_article
from tests.conftest import SHARED

FIXTURES = Path(__file__).parent / "fixtures" / "extractors"
FETCHED = datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
STORY_URL = "https://www.harbourledger.example/business/2024/03/14/chipmaker?utm_medium=rss"

ARTICLE_PARAGRAPHS = [
    "A senior process engineer at Veltrane Semiconductors has been charged with stealing",
    "used a personal cloud storage account to upload lithography recipes",
    '"Moving them out of the company was not an accident, it was a plan."',
    "detected the unusual activity through its data-loss prevention system",
    "The case is the third this year in which a semiconductor employee",
    "A hearing on bail conditions has been scheduled for next month.",
]
CHROME = [
    "cookies",  # banner
    "Accept all cookies",
    "Manage preferences",
    "Sign in",  # navigation
    "Opinion",
    "What's hot",
    "rowing club",
    "Ten bakeries",
    "Ferry strike",
    "Morning Ledger",  # newsletter box
    "newsletter",
    "Subscribe",
    "Share on X",
    "Related stories",
    "Rival foundry",
    "how wafer lithography works",
    "Comments (2)",
    "crown jewels",  # comments
    "Innocent until proven guilty",
    "Most read",
    "Storm warning",
    "Mortgage rates",
    "Advertisement",
    "All rights reserved",  # footer
    "Privacy policy",
    "Home ›",  # breadcrumbs
]


def test_article_text_is_kept_and_chrome_dropped() -> None:
    article = extract_article(
        (FIXTURES / "article.html").read_bytes(),
        url=STORY_URL,
        source="harbour-ledger",
        fetched_at=FETCHED,
    )
    for paragraph in ARTICLE_PARAGRAPHS:
        assert paragraph in article.text
    for chrome in CHROME:
        assert chrome.lower() not in article.text.lower(), chrome
    # paragraphs stay separate lines, in order
    lines = article.text.split("\n")
    assert len(lines) == len(ARTICLE_PARAGRAPHS)
    assert all(p in line for p, line in zip(ARTICLE_PARAGRAPHS, lines, strict=True))


def test_article_metadata() -> None:
    article = extract_article(
        (FIXTURES / "article.html").read_bytes(),
        url=STORY_URL,
        source="harbour-ledger",
        fetched_at=FETCHED,
    )
    assert article.url == STORY_URL
    assert article.source == "harbour-ledger"
    assert article.title == "Chipmaker engineer charged with smuggling wafer designs"
    assert article.author == "Marta Oyelaran"
    # the page says 09:30+01:00; htmldate gives the day, the meta tag the time
    assert article.published_at == datetime(2024, 3, 14, 8, 30, tzinfo=UTC)
    assert article.sitename == "The Harbour Ledger"
    assert article.language == "en"  # from <html lang="en-GB">
    # from the page's canonical/og:url, canonicalised (tracking query dropped)
    assert article.canonical_url == (
        "https://www.harbourledger.example/business/2024/03/14/"
        "chipmaker-engineer-charged-wafer-designs"
    )
    assert article.fetched_at == FETCHED


def test_div_soup_page_in_german() -> None:
    url = "https://nordkurier.example/wirtschaft/2024/06/02/handelsabkommen?utm_source=x"
    article = extract_article(
        (FIXTURES / "article_divsoup.html").read_bytes(),
        url=url,
        source="nordkurier",
        fetched_at=FETCHED,
    )
    assert article.text.startswith("Nach fast drei Jahren Verhandlungen")
    assert "Schutzklausel" in article.text
    assert article.text.endswith("mit einem Inkrafttreten.")
    for chrome in ["Lesen Sie auch", "Exporte brechen", "Newsletter", "Cookies", "Meistgelesen",
                   "Stadtfest", "Impressum", "Was heiß ist", "Abo"]:  # fmt: skip
        assert chrome not in article.text, chrome
    assert article.title == "Handelsabkommen: Einigung über Zölle auf Agrarprodukte"
    assert article.language == "de"  # from <meta http-equiv="content-language">
    assert article.published_at == datetime(2024, 6, 2, tzinfo=UTC)
    # no canonical link on the page: the fetched URL, canonicalised
    assert (
        article.canonical_url == "https://nordkurier.example/wirtschaft/2024/06/02/handelsabkommen"
    )


def page(body: str, head: str = "") -> bytes:
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


LONG_BODY = (
    "<article><h1>Port strike ends</h1>"
    + "".join(
        f"<p>Paragraph {i}: dock workers returned to the terminals after a deal on pay and shift "
        f"patterns was reached with the port authority late on Sunday evening.</p>"
        for i in range(4)
    )
    + "</article>"
)


def test_canonical_pointing_at_home_page_is_ignored() -> None:
    html = page(LONG_BODY, '<link rel="canonical" href="https://port.example/">')
    article = extract_article(
        html, url="https://port.example/news/port-strike-ends", source="t", fetched_at=FETCHED
    )
    assert article.canonical_url == "https://port.example/news/port-strike-ends"


def test_non_http_canonical_is_ignored() -> None:
    html = page(LONG_BODY, '<link rel="canonical" href="ftp://port.example/x">')
    article = extract_article(
        html, url="https://port.example/news/port-strike-ends", source="t", fetched_at=FETCHED
    )
    assert article.canonical_url == "https://port.example/news/port-strike-ends"


def test_missing_title_falls_back_to_first_line_and_naive_time_is_utc() -> None:
    body = "".join(f"<p>{'Quay cranes idle as talks drag on. ' * 4} {i}</p>" for i in range(3))
    article = extract_article(
        page(f"<div>{body}</div>"),
        url="https://port.example/a",
        source="t",
        fetched_at=datetime(2024, 7, 1, 12, 0),
    )
    assert article.title.startswith("Quay cranes idle as talks drag on.")
    assert article.fetched_at == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    assert article.published_at is None
    assert article.language is None


def test_aware_fetched_at_is_converted_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    article = extract_article(
        page(LONG_BODY),
        url="https://port.example/a",
        source="t",
        fetched_at=datetime(2024, 7, 1, 14, 0, tzinfo=plus2),
    )
    assert article.fetched_at == FETCHED
    assert article.fetched_at.tzinfo is UTC


def test_publication_date_after_fetch_is_not_believed() -> None:
    head = '<meta property="article:published_time" content="2031-01-05T10:00:00Z">'
    article = extract_article(
        page(LONG_BODY, head), url="https://port.example/a", source="t", fetched_at=FETCHED
    )
    assert article.published_at is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "not an HTML page: empty document"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "not an HTML page: binary content"),
        (b"\x1f\x8b\x08\x00\x00\x00", "not an HTML page: binary content"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>',
            "not an HTML page: an XML <rss> document",
        ),
        (b'{"title": "json, not html"}', "not an HTML page: no HTML markup"),
        (b"plain text " * 100, "not an HTML page: no HTML markup"),
    ],
)
def test_not_html_raises(content: bytes, reason: str) -> None:
    with pytest.raises(ExtractionError) as caught:
        extract_article(content, url="https://port.example/a", source="t", fetched_at=FETCHED)
    assert caught.value.reason.startswith(reason)
    assert caught.value.url == "https://port.example/a"
    assert isinstance(caught.value, ValueError)


def test_page_without_main_text_raises() -> None:
    html = page("<nav><a href='/'>Home</a></nav><p>Subscribe to read this story.</p>")
    with pytest.raises(ExtractionError, match="no main text found"):
        extract_article(html, url="https://port.example/a", source="t", fetched_at=FETCHED)


def test_clean_text_drops_read_more_lines_only() -> None:
    text = (
        "First  paragraph   of the story.\n\n"
        "Read more: Another story entirely\n"
        "Related companies reported similar losses last year.\n"
        "READ MORE: Shouting headline\n"
        "Advertisement\n"
        "Last paragraph."
    )
    assert clean_text(text) == (
        "First paragraph of the story.\n"
        "Related companies reported similar losses last year.\n"
        "Last paragraph."
    )


def test_extraction_is_deterministic_and_runs_in_a_process_pool() -> None:
    html = (FIXTURES / "article.html").read_bytes()
    kwargs: dict[str, Any] = {"url": STORY_URL, "source": "t", "fetched_at": FETCHED}
    local = extract_article(html, **kwargs)
    assert extract_article(html, **kwargs) == local
    with ProcessPoolExecutor(max_workers=1) as pool:
        remote = pool.submit(extract_article, html, **kwargs).result(timeout=120)
    assert remote == local


def test_extraction_error_pickles() -> None:
    error = ExtractionError("https://port.example/a", "no main text found")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.url, copy.reason, str(copy)) == (error.url, error.reason, str(error))


def _dated_page(date_markup: str) -> bytes:
    prose = "Dock workers at the eastern terminal returned to work after a deal was reached. " * 6
    return (
        "<html><head><title>Port strike ends</title></head><body><article>"
        f"<h1>Port strike ends</h1>{date_markup}<p>{prose}</p></article></body></html>"
    ).encode()


@pytest.mark.parametrize(
    "date_markup",
    [
        '<meta itemprop="datePublished" content="2024-03-14">',  # found by the fast search
        "<div>Published: Thursday, 14 March 2024</div>",  # only by the extensive one
        "<span>Last edited March 14, 2024</span>",  # only by the extensive one
    ],
)
def test_publication_day_from_fast_or_extensive_search(date_markup: str) -> None:
    article = extract_article(
        _dated_page(date_markup), url="https://port.example/a", source="t", fetched_at=FETCHED
    )
    assert article.published_at == datetime(2024, 3, 14, tzinfo=UTC)


def test_a_page_whose_date_the_fast_search_finds_does_not_load_dateparser() -> None:
    # dateparser loads every locale on first use (~40 MB per extraction worker). htmldate's
    # extensive search hands it the first date-like class's text, hard to read here; the fast
    # search reads the byline's date and never gets there. A fresh interpreter: others may
    # have loaded dateparser already.
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from extractors.extract import extract_article\n"
        "article = extract_article(sys.stdin.buffer.read(), url='https://port.example/a',\n"
        "                          source='t', fetched_at=datetime(2024, 7, 1, tzinfo=UTC))\n"
        "print(article.published_at.date(), 'dateparser' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=_dated_page(
            '<div class="date">Thursday 14th of March at 8.30am</div>'
            '<div class="byline">posted: 14/03/2024</div>'
        ),
        capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
        timeout=120,
    )
    assert done.stdout.decode().split() == ["2024-03-14", "False"]


BENCHMARK_PAGES = SHARED / "eval" / "extraction" / "html"


@pytest.mark.skipif(not BENCHMARK_PAGES.is_dir(), reason="../shared/eval/extraction absent")
def test_publication_day_matches_the_extensive_search_on_the_benchmark_pages() -> None:
    from htmldate import find_date
    from trafilatura.utils import load_html

    from bench.newsroom import load_pages
    from extractors.page_metadata import publication_day

    pages = load_pages(BENCHMARK_PAGES)
    assert len(pages) > 100
    for number, page in enumerate(pages):
        tree = load_html(page)
        url = f"https://bench.example/{number}.html"
        extensive = find_date(
            tree, url=url, original_date=True, extensive_search=True, max_date="2026-01-01"
        )
        assert publication_day(tree, url, "2026-01-01") == extensive, f"page {number}"
