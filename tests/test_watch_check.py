"""`newswatch watches check`: text, file or URL in; score, reason and highlighted evidence out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from newswatch.cli import app
from newswatch.config import HttpConfig
from newswatch.match_view import TERM_STYLE, highlighted
from newswatch.watch_check import CheckInputError, read_input

CHIPS = """
[watches.chip_export_controls]
title = "Export controls on chips"
threshold = 5.0
min_terms = 2
sentence_cap = 4.5
context = ["chip(s) | chipmak* | semiconductor* | lithography | gpu(s) | ai accelerator(s)"]

[watches.chip_export_controls.terms]
"export control(s) | export restriction(s) | export curb(s) | export ban(s)" = 3.0
"entity list" = 3.0
"restrict* | curb* | ban(s) | banned | licen* & export* & chip(s) | semiconductor* | gpu(s)" = 2.0
"commerce department | department of commerce | bureau of industry and security" = 1.5
"lithography | chipmaking equipment | chipmaking tools" = 1.5

[watches.chip_export_controls.exclude]
"potato chip(s) | chocolate chip(s) | blue chip(s)" = "veto"
"trade show(s) | expo" = 2.0
"earnings | quarterly | revenue(s)" = 1.0
"shares | stock(s) | investors" = 1.5
"""

STORY = (
    "US tightens export controls on AI chips\n"
    "The Commerce Department added 12 firms to the entity list on Tuesday.\n"
    "It also tightened export controls on advanced AI chips and chipmaking tools."
)

PAGE = """<!doctype html><html lang="en"><head>
<title>US tightens export controls on AI chips</title></head><body>
<header><nav><a href="/">Home</a> <a href="/policy">Policy</a></nav></header>
<article><h1>US tightens export controls on AI chips</h1>
<p>The Commerce Department on Tuesday added twelve companies to the entity list, barring them
from buying American semiconductors and chipmaking tools without a licence.</p>
<p>It also tightened export controls on advanced AI chips, lowering the performance level at
which an export licence is needed, officials said in a statement on Tuesday afternoon.</p>
<p>The rules take effect in thirty days, and companies may comment on them until then.</p>
</article><footer>Copyright 2026 Example News</footer></body></html>"""


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSWATCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def chips_config(tmp_path: Path) -> Path:
    path = tmp_path / "chips.toml"
    path.write_text(CHIPS, encoding="utf-8")
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["watches", "check", *args])
    return result.exit_code, result.output


def test_custom_watch_matches_with_evidence(chips_config: Path) -> None:
    code, out = invoke(STORY, "-c", str(chips_config))
    assert code == 0, out
    assert "MATCH chip_export_controls" in out
    assert "Export controls on chips" in out
    assert "entity list" in out and "≥ 5" in out
    assert "The Commerce Department added 12 firms to the entity list on Tuesday." in out


def test_custom_watch_json_and_its_exclusions(chips_config: Path) -> None:
    code, out = invoke(STORY, "-c", str(chips_config), "--json")
    assert code == 0, out
    report = json.loads(out)["watches"]["chip_export_controls"]
    assert report["matched"] and report["score"] >= report["threshold"] == 5.0
    assert "entity list" in report["terms"]
    for evidence in report["evidence"]:  # the words that fired, as written in the sentence
        assert evidence["terms"] and all(t in evidence["sentence"] for t in evidence["terms"])

    snack = "Potato chip makers face export curbs\nExport controls hit potato chips and snacks."
    report = json.loads(invoke(snack, "-c", str(chips_config), "--json")[1])
    verdict = report["watches"]["chip_export_controls"]
    assert not verdict["matched"]
    assert (
        verdict["reason"]
        == "rejected: excluded by 'potato chip(s) | chocolate chip(s) | blue chip(s)'"
    )

    # Required context: export controls on something other than chips do not match.
    other = "Export controls on drones\nThe ministry added drone makers to the entity list."
    verdict = json.loads(invoke(other, "-c", str(chips_config), "--json")[1])["watches"]
    assert (
        verdict["chip_export_controls"]["reason"] == "rejected: no required context in any sentence"
    )


def test_default_watches_are_checked_without_a_config() -> None:
    code, out = invoke(
        "Engineer charged with stealing trade secrets\n"
        + "He stole trade secrets and source code for a rival, prosecutors said."
    )
    assert code == 0, out
    assert "MATCH ip_theft" in out and "trade_deal" in out


def test_page_text_is_never_console_markup(chips_config: Path) -> None:
    text = "[bold red]Export controls[/bold red] on chips\n[link=http://x]entity list[/link] chips."
    code, out = invoke(text, "-c", str(chips_config))
    assert code == 0, out
    assert "[bold red]Export controls[/bold red] on chips" in out
    assert "[link=http://x]entity list[/link]" in out


def test_highlight_marks_whole_words_only() -> None:
    text = highlighted("Export controls on chips; US focus on U.S chips.", ["chips", "US"])
    spans = [(s.start, s.end) for s in text.spans if s.style == TERM_STYLE]
    marked = sorted(text.plain[a:b] for a, b in spans)
    assert marked == ["US", "chips", "chips"]  # not the "us" inside "focus"; "U.S" is not "US"
    console = Console(record=True, width=200, color_system=None)
    console.print(highlighted("[b]x[/b] chips", ["chips"]))
    assert "[b]x[/b] chips" in console.export_text()


def test_input_from_text_and_files(tmp_path: Path) -> None:
    http = HttpConfig()
    item = read_input("Title line\nBody line.", http)
    assert (item.title, item.text, item.origin) == ("Title line", "Body line.", "text")
    assert read_input("Body only.", http, title="Given").title == "Given"

    story = tmp_path / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    item = read_input(str(story), http)
    assert item.title == "US tightens export controls on AI chips"
    assert item.origin == f"file {story}"

    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    item = read_input(str(page), http)
    assert item.title == "US tightens export controls on AI chips"
    assert "entity list" in item.text and "Home" not in item.text  # page chrome removed

    with pytest.raises(CheckInputError, match=r"file not found: missing\.txt"):
        read_input("missing.txt", http)


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/policy/chips"
    finally:
        server.shutdown()
        server.server_close()


def test_url_is_fetched_and_extracted_when_the_host_is_allowed(
    page_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "local.toml"
    config.write_text(CHIPS + '\n[http]\nallowed_hosts = ["127.0.0.1"]\n', encoding="utf-8")
    code, out = invoke(page_url, "-c", str(config))
    assert code == 0, out
    assert f"checked {page_url}" in out
    assert "MATCH chip_export_controls" in out
    assert "title: US tightens export controls on AI chips" in out


def test_url_to_loopback_is_refused_by_default(page_url: str, chips_config: Path) -> None:
    code, out = invoke(page_url, "-c", str(chips_config))
    assert code == 1
    assert "cannot check" in out and "127.0.0.1" in out
