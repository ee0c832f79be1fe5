"""Time and memory of link discovery on a 50,000-entry feed and sitemap.

Each case runs in a fresh process and reports the growth of its peak resident memory
while parsing (after the document is built), so one case's garbage cannot hide another's.
Compared: extractors' streaming parsers (the first `limit` links) and, for feeds,
feedparser on the whole document (what extractors used before, and still uses for feeds
that are not well-formed XML, on at most 1 MB).

    uv run python bench/hostile_listings.py [--entries 50000] [--limit 100]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import time

CASES = ("feed-stream", "feed-stream-all-duplicates", "sitemap-stream", "feed-feedparser")


def build(kind: str, entries: int, *, same_link: bool = False) -> bytes:
    def link(i: int) -> str:
        n = 0 if same_link else i
        return f"https://firehose.example/articles/story-number-{n}"

    if kind == "sitemap":
        body = "".join(f"<url><loc>{link(i)}</loc></url>" for i in range(entries))
        return (
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
        ).encode()
    items = "".join(
        f"<item><title>Story number {i}</title><link>{link(i)}</link>"
        "<pubDate>Wed, 01 May 2024 08:00:00 GMT</pubDate></item>"
        for i in range(entries)
    )
    return f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'.encode()


def measure(case: str, entries: int, limit: int) -> dict[str, float]:
    content = build(
        "sitemap" if case.startswith("sitemap") else "feed",
        entries,
        same_link=case.endswith("all-duplicates"),
    )
    if case == "feed-feedparser":
        import feedparser

        def parse() -> int:
            return len(feedparser.parse(io.BytesIO(content)).entries)
    else:
        from extractors.links import discover_links

        kind = "sitemap" if case.startswith("sitemap") else "rss"

        def parse() -> int:
            return len(discover_links(kind, content, "https://firehose.example/", limit=limit))

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    found = parse()
    seconds = time.perf_counter() - started
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    return {
        "bytes": len(content),
        "found": found,
        "seconds": seconds,
        "peak_growth_mb": grown_kb / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:  # the child process
        print(json.dumps(measure(args.case, args.entries, args.limit)))
        return
    print(f"{args.entries} entries, limit {args.limit}")
    for case in CASES:
        command = [sys.executable, __file__, "--case", case, "--entries", str(args.entries)]
        command += ["--limit", str(args.limit)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        print(
            f"{case:28s} {r['bytes'] / 1e6:5.1f} MB  found {int(r['found']):6d}"
            f"  {r['seconds']:6.2f} s  peak memory +{r['peak_growth_mb']:6.1f} MB"
        )


if __name__ == "__main__":
    main()
